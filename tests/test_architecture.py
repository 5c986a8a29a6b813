"""The import graph between dfdetect's top-level packages follows the layer order of
docs/architecture.md: arrows only point down, no circles, nothing imports the package root."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"

# Layer of each top-level package (lower is further down); the same table as docs/architecture.md.
BASE = ("version", "errors", "atomic", "terminal", "progress")  # modules, counted as one layer
LAYERS = {
    "base": 1,
    "runtime": 2,
    "media": 3,
    "faces": 4,
    "model": 5,
    "explain": 6,
    "data": 7,
    "extract": 8,
    "synth": 8,
    "scan": 8,
    "evaluate": 8,
    "report": 9,
    "robustness": 9,
    "train": 10,
    "serve": 11,
    "cli": 12,
    "__main__": 13,  # `python -m dfdetect`: the only importer of cli
}
# The arrows allowed between packages of one layer: synth cuts its faces with extract's code,
# extract runs its jobs on scan's worker pool.
SIDEWAYS = {("synth", "extract"), ("extract", "scan")}
ROOT = "dfdetect"  # dfdetect/__init__.py re-exports the public API: nothing inside imports it

Arrow = tuple[str, str, str, int]  # (from package, to package, file, line)


def package_of(module: str) -> str:
    """Top-level package of a dotted module name under dfdetect ("dfdetect" for the root)."""
    parts = module.split(".")
    if parts == [ROOT]:
        return ROOT
    return "base" if parts[1] in BASE else parts[1]


def module_names(path: Path, src: Path) -> tuple[str, bool]:
    """Dotted name of the module at ``path`` and whether it is a package's ``__init__``."""
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] == "__init__":
        return ".".join(parts[:-1]), True
    return ".".join(parts), False


def imported(tree: ast.AST, module: str, is_package: bool, known: set[str]) -> Iterable:
    """(dotted dfdetect module, line) for every import anywhere in ``tree``, at module level or
    inside functions; ``from dfdetect import X`` is X when X is a module, else the root."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == ROOT or alias.name.startswith(f"{ROOT}."):
                    yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolved against this module's package
                anchor = module.split(".")
                anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join(anchor + ([base] if base else []))
            if base != ROOT and not base.startswith(f"{ROOT}."):
                continue
            for alias in node.names:
                name = f"{base}.{alias.name}"
                yield (name if name in known else base), node.lineno


def arrows(sources: Mapping[str, str], src: Path = SRC) -> list[Arrow]:
    """Every import between two different top-level packages (or of the root) in ``sources``:
    file path relative to ``src`` -> Python source."""
    names = {path: module_names(Path(src, path), src) for path in sources}
    known = {name for name, _ in names.values()}
    found = []
    for path, text in sorted(sources.items()):
        module, is_package = names[path]
        here = package_of(module)
        for target, line in imported(ast.parse(text, path), module, is_package, known):
            there = package_of(target)
            if there != here and (here, there, path, line) not in found:
                found.append((here, there, path, line))
    return sorted(found, key=lambda arrow: (arrow[2], arrow[3], arrow[1]))


def violations(found: list[Arrow]) -> list[str]:
    """Readable lines for each arrow against the layer order and each circle of packages."""
    problems = []
    for here, there, path, line in found:
        if here == ROOT:
            continue  # the root re-exports from every layer
        if there == ROOT:
            problems.append(f"{path}:{line}: {here} imports the package root (use the module)")
        elif here not in LAYERS or there not in LAYERS:
            unknown = here if here not in LAYERS else there
            problems.append(f"{path}:{line}: package {unknown!r} has no layer in LAYERS")
        elif LAYERS[there] > LAYERS[here]:
            problems.append(
                f"{path}:{line}: {here} (layer {LAYERS[here]}) imports {there} "
                f"(layer {LAYERS[there]}): up the layer order"
            )
        elif LAYERS[there] == LAYERS[here] and (here, there) not in SIDEWAYS:
            problems.append(f"{path}:{line}: {here} imports {there}, both layer {LAYERS[here]}")
    graph: dict[str, set[str]] = {}
    for here, there, _, _ in found:
        if ROOT not in (here, there):
            graph.setdefault(here, set()).add(there)
    problems += [f"circle: {' -> '.join(cycle)}" for cycle in circles(graph)]
    return problems


def circles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """One path around each strongly connected group of two or more packages (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_cycle_through(group, graph) for group in sorted(groups)]


def _cycle_through(group: list[str], graph: Mapping[str, set[str]]) -> list[str]:
    """A closed path inside ``group`` starting at its first member (breadth first)."""
    start, members = group[0], set(group)
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for nxt in sorted(graph.get(node, set()) & members):
            if nxt == start:
                return [*paths[node], start]
            if nxt not in paths:
                paths[nxt] = [*paths[node], nxt]
                queue.append(nxt)
    raise AssertionError(f"{group} is not strongly connected")


def _sources(src: Path = SRC) -> dict[str, str]:
    return {
        str(path.relative_to(src)): path.read_text(encoding="utf-8")
        for path in sorted((src / ROOT).rglob("*.py"))
    }


def test_every_package_has_a_layer() -> None:
    packages = {package_of(module_names(SRC / p, SRC)[0]) for p in _sources()}
    assert packages - {ROOT} <= set(LAYERS), sorted(packages - {ROOT} - set(LAYERS))


def test_the_documented_layers_are_the_checked_ones() -> None:
    doc = (SRC.parent / "docs" / "architecture.md").read_text(encoding="utf-8")
    documented = {}
    for row in re.findall(r"^\| (\d+) \| ([^|]+) \|", doc, re.MULTILINE):
        for name in re.findall(r"`(\w+)/?`", row[1]):
            documented["base" if name in BASE else name] = int(row[0])
    assert documented == {name: layer for name, layer in LAYERS.items() if name != "__main__"}


def test_imports_follow_the_layer_order_without_circles() -> None:
    problems = violations(arrows(_sources()))
    if problems:
        pytest.fail("imports against docs/architecture.md:\n" + "\n".join(problems), pytrace=False)


def _synthetic(modules: dict[str, str]) -> dict[str, str]:
    return {f"dfdetect/{name}.py": text for name, text in modules.items()}


def test_the_checker_catches_upward_arrows_circles_and_root_imports() -> None:
    clean = _synthetic(
        {
            "__init__": "from dfdetect.model.detector import Detector\n",
            "errors": "",
            "faces/__init__": "",
            "faces/mtcnn": "from dfdetect.errors import Error\nimport dfdetect.media.io\n",
            "media/__init__": "",
            "media/io": "",
            "model/__init__": "",
            "model/detector": "from dfdetect.faces import mtcnn\nfrom . import loading\n",
            "model/loading": "from ..faces.mtcnn import x\n",
            "synth/__init__": "",
            "synth/blend": "from dfdetect.extract.cut import crop\n",
            "extract/__init__": "",
            "extract/cut": "",
        }
    )
    assert violations(arrows(clean)) == []
    planted = {
        **clean,
        "dfdetect/faces/mtcnn.py": "import torch\n\n\ndef f():\n    from dfdetect.model import x\n",
        "dfdetect/media/io.py": "from dfdetect import Detector\n",
        "dfdetect/extract/cut.py": "from ..synth import blend\n",
    }
    assert violations(arrows(planted)) == [
        "dfdetect/extract/cut.py:1: extract imports synth, both layer 8",
        "dfdetect/faces/mtcnn.py:5: faces (layer 4) imports model (layer 5): up the layer order",
        "dfdetect/media/io.py:1: media imports the package root (use the module)",
        "circle: extract -> synth -> extract",
        "circle: faces -> model -> faces",
    ]


@pytest.mark.parametrize(
    ("text", "target"),
    [
        ("from dfdetect import faces", "faces"),
        ("from dfdetect import Detector", ROOT),
        ("import dfdetect.cli.exits", "cli"),
        ("from dfdetect.version import __version__", "base"),
    ],
)
def test_each_import_form_maps_to_its_package(text: str, target: str) -> None:
    sources = _synthetic({"train/loop": text, "faces/__init__": "", "cli/exits": "", "version": ""})
    assert [arrow[1] for arrow in arrows(sources)] == [target]
