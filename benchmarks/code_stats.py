"""Two numbers of the house style, measured: functions longer than 40 lines, and public
functions (module level, or methods of a module-level class) without a docstring, in
``projects/`` and ``common/``.

    .venv/bin/python -m benchmarks.code_stats

Prints each count, then each function (its file, line and length). Nested functions
(closures such as ``step_fn``) count for length, not for docstrings.
"""

from __future__ import annotations

import ast

from common.paths import REPO_ROOT

MAX_LINES = 40  # STYLE: short enough to check by eye against its formula
FOLDERS = ("projects", "common")


def functions(tree: ast.Module):
    """Every function of a module, nested ones included."""
    return [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]


def public(tree: ast.Module):
    """Module-level functions and methods of module-level classes not named ``_...``."""
    members = list(tree.body) + [
        n for c in tree.body if isinstance(c, ast.ClassDef) for n in c.body
    ]
    defs = [n for n in members if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    return [n for n in defs if not n.name.startswith("_")]


def main() -> None:
    long, undocumented = [], []
    for path in sorted(p for folder in FOLDERS for p in (REPO_ROOT / folder).rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        where = path.relative_to(REPO_ROOT)
        for node in functions(tree):
            lines = node.end_lineno - node.lineno + 1
            if lines > MAX_LINES:
                long.append((lines, f"{where}:{node.lineno} {node.name}"))
        undocumented += [
            f"{where}:{n.lineno} {n.name}" for n in public(tree) if not ast.get_docstring(n)
        ]
    print(f"{len(long)} functions over {MAX_LINES} lines")
    print("\n".join(f"  {lines:3d}  {name}" for lines, name in sorted(long, reverse=True)))
    print(f"{len(undocumented)} public functions without a docstring")
    print("\n".join(f"  {name}" for name in undocumented))


if __name__ == "__main__":
    main()
