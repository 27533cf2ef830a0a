"""The code's shape (CONTRIBUTING.md): no module over 400 lines, no function over 60.

The numba kernels (`@njit`/`@jit`) are the one exception: a kernel is a loop nest that numba
compiles as one unit, and splitting it would cost the calls it exists to avoid.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted([*ROOT.glob("src/leadscore/**/*.py"), *ROOT.glob("serve/**/*.py")])
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def is_kernel(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """Compiled by numba: decorated with `njit`, `jit` or a call of either."""
    for decorator in node.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
        if name in {"njit", "jit"}:
            return True
    return False


def long_functions(tree: ast.AST) -> list[tuple[str, int, int]]:
    """(name, first line, length) of every function over the limit that is not a kernel."""
    return [
        (node.name, node.lineno, node.end_lineno - node.lineno + 1)
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
        and not is_kernel(node)
    ]


def test_the_sources_are_found():
    assert len(SOURCES) > 100
    assert ROOT / "src/leadscore/cli.py" in SOURCES


@pytest.mark.parametrize("path", SOURCES, ids=lambda path: str(path.relative_to(ROOT)))
def test_module_and_function_sizes(path: Path):
    text = path.read_text(encoding="utf-8")
    lines = len(text.splitlines())
    assert lines <= MAX_MODULE_LINES, f"{lines} lines: split it along its seams"
    assert long_functions(ast.parse(text)) == []


def test_the_check_sees_a_long_function_and_spares_a_kernel():
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    long_one = f"def long_one():\n{body}\n"
    kernel = f"@numba.njit(cache=True)\ndef kernel():\n{body}\n"
    assert long_functions(ast.parse(long_one)) == [("long_one", 1, MAX_FUNCTION_LINES + 1)]
    assert long_functions(ast.parse(kernel)) == []
