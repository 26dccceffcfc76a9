"""The shared library: what two or more weeks really use.

- ``paths``: where the repository, its data cache and its run outputs live.
- ``tracking``: one MLflow run per pipeline execution, closed whatever happens.
- ``data``: fetch-and-verify for downloaded datasets (sha256, atomic, mirror).
- ``plotting``: one seaborn theme and one way to save a figure to the run.
- ``seeding``: one ``seed`` that seeds Python, NumPy and torch.
"""
