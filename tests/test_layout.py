"""The layout holds what the README's code map says: no import circles between modules, no two modules with one
name, and a project import inside a function only where a comment says why (the layers themselves are
import-linter's contract in pyproject.toml, run by `lint-imports` in CI)."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import Counter
from pathlib import Path

import grimp

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("bot", "jobs")


def _modules() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (REPO / pkg).rglob("*.py"))


def _circles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.find_modules_directly_imported_by(v):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return found


def test_no_import_circles() -> None:
    graph = grimp.build_graph(*PACKAGES)
    assert len(graph.modules) > 100
    assert _circles(graph) == []


def test_a_circle_is_found() -> None:
    graph = grimp.ImportGraph()
    for name in ("a", "a.x", "a.y", "a.z"):
        graph.add_module(name)
    graph.add_import(importer="a.x", imported="a.y")
    graph.add_import(importer="a.y", imported="a.x")
    graph.add_import(importer="a.y", imported="a.z")
    assert _circles(graph) == [["a.x", "a.y"]]


def test_no_two_modules_share_a_name() -> None:
    names = Counter(p.stem for p in _modules() if p.stem not in ("__init__", "__main__"))
    assert [n for n, count in names.items() if count > 1] == []


def test_project_imports_inside_functions_say_why() -> None:
    unexplained = []
    for path in _modules():
        lines = path.read_text(encoding="utf-8").splitlines()
        for node in ast.walk(ast.parse("\n".join(lines))):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for sub in ast.walk(node):
                inside = isinstance(sub, ast.ImportFrom) and (sub.module or "").split(".")[0] in PACKAGES
                if inside and not lines[sub.lineno - 2].strip().startswith("#"):
                    unexplained.append(f"{path.relative_to(REPO)}:{sub.lineno}")
    assert unexplained == []


def test_the_command_line_loads_telegram_only_for_the_commands_that_use_it() -> None:
    """``spreadwatch report`` and the like start without python-telegram-bot (hundreds of ms on this machine)."""
    code = (
        "import sys, bot.cli.main; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('telegram', 'akshare')))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
