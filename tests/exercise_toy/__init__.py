"""A week-sized package of two modules with exercises, for the exercise machinery's own tests.

Its curriculum id W9.1 belongs to no real week: the learner's folder is ``mine/week9/``.
"""
