"""The layering of the package: no part of orstats_crawler imports a part that imports it back.

A part is a subpackage (``orstats_crawler.history``, ``orstats_crawler.publish``...) or a module at
the top of the package (``orstats_crawler.items``); every import statement of every module counts,
those inside functions too (a cycle hidden in a function is still a cycle)."""

from __future__ import annotations

import ast
from pathlib import Path

import orstats_crawler

PACKAGE = Path(orstats_crawler.__file__).parent
NAME = "orstats_crawler"


def part_of(module: str) -> str | None:
    """The part a dotted module name belongs to, or None outside the package."""
    names = module.split(".")
    if names[0] != NAME or len(names) < 2:
        return None
    exists = (PACKAGE / names[1]).is_dir() or (PACKAGE / f"{names[1]}.py").is_file()
    return names[1] if exists else None  # else a name defined in the package's __init__


def module_name(path: Path) -> str:
    relative = path.relative_to(PACKAGE.parent).with_suffix("")
    names = list(relative.parts)
    return ".".join(names[:-1] if names[-1] == "__init__" else names)


def imported(source: str, package: str) -> set[str]:
    """Every module a module of ``package`` imports (``from orstats_crawler import x`` names x too)."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: `.` is the package, each further dot one package up
                parents = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parents + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)  # a name or a module: both are inside base
    return found


def part_graph() -> dict[str, set[str]]:
    """Which part imports which other parts."""
    graph: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        module = module_name(path)
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        source = part_of(module)
        if source is None:
            continue
        targets = {part_of(name) for name in imported(path.read_text(encoding="utf-8"), package)} - {None, source}
        graph.setdefault(source, set()).update(targets)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One path back to itself for every part that can reach itself."""
    found = []
    for start in sorted(graph):
        paths = [[start]]
        seen = {start}
        while paths:
            path = paths.pop()
            for target in sorted(graph.get(path[-1], ())):
                if target == start:
                    found.append(path + [start])
                    paths = []
                    break
                if target not in seen:
                    seen.add(target)
                    paths.append(path + [target])
    return found


def test_no_part_of_the_package_imports_one_that_imports_it_back():
    graph = part_graph()
    assert {"history", "publish", "report", "sources", "items"} <= set(graph)  # the walk found the package
    assert cycles(graph) == []


def test_the_walk_finds_a_cycle_when_there_is_one():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"], ["b", "c", "a", "b"],
                                                                        ["c", "a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_walk_sees_imports_inside_functions_and_relative_ones():
    source = ("def f():\n    from orstats_crawler.history import writer\n    import orstats_crawler.items\n"
              "from .formulas import M\nfrom .. import weeks\n")
    assert imported(source, "orstats_crawler.history") >= {
        "orstats_crawler.history.writer", "orstats_crawler.items", "orstats_crawler.history.formulas",
        "orstats_crawler.weeks"}


def test_the_publish_path_and_the_history_know_nothing_of_the_report():
    """The gate's messages write counts and prices through numbers.py, not through the report."""
    graph = part_graph()
    assert "report" not in graph["publish"] and "report" not in graph["history"]
    assert "numbers" in graph["publish"] and "numbers" in graph["report"]
