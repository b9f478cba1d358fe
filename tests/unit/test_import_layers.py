"""The autograder's imports point one way, down its layers, and never form a cycle.

The layers, top to bottom (README.md, "Layout"):

    commands    cli, demo, selfcheck
    steps       build, collect, grade, feedback, export, report (siblings: none imports another)
    isolation   isolation/: sandbox, client, source, proxies, verdicts, needed, pipeline
    checks      checks/: one module per notebook on one engine (never the wire)
    course      course, colab, rubrics, submissions: the layout, constants and helpers they share
    kernel      kernel/: what the sandbox ships (wire, main loop, measurements, rules)

The test reads every ``import`` in autograder/, at module level and inside functions alike (an
import hidden in a function to dodge a cycle is still an arrow), and fails on an arrow that
points up, an arrow between two steps, a check that imports the wire, or a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import autograder

PACKAGE = Path(autograder.__file__).resolve().parent

LAYERS = [
    ("kernel", ["autograder.kernel"]),
    (
        "course",
        ["autograder.course", "autograder.colab", "autograder.rubrics", "autograder.submissions"],
    ),
    ("checks", ["autograder.checks"]),
    ("isolation", ["autograder.isolation"]),
    (
        "steps",
        [
            "autograder.build",
            "autograder.collect",
            "autograder.grade",
            "autograder.feedback",
            "autograder.export",
            "autograder.report",
        ],
    ),
    (
        "commands",
        ["autograder.cli", "autograder.demo", "autograder.selfcheck", "autograder.__main__"],
    ),
]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _layer(module: str) -> int:
    for rank, (_, prefixes) in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return rank
    raise AssertionError(f"{module} is in no layer: add it to LAYERS (and to the README)")


def _resolve(name: str) -> str | None:
    """The autograder module that ``import name`` loads (a module, or the package)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module: str) -> set[str]:
    """The autograder modules ``module`` imports anywhere in its code."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package
                for _ in range(node.level - 1):
                    parent = parent.rpartition(".")[0]
                base = f"{parent}.{base}".strip(".")
            # `from package import module` loads that module; `from module import name`, the module.
            names = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base
                for alias in node.names
            ]
        for name in names:
            if name == "autograder" or name.startswith("autograder."):
                target = _resolve(name)
                if target and target != module and target != "autograder":
                    found.add(target)
    return found


GRAPH = {module: _imports(module) for module in MODULES if module != "autograder"}


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_a_module_imports_only_its_own_layer_or_the_layers_below(module):
    upward = [target for target in GRAPH[module] if _layer(target) > _layer(module)]
    assert not upward, (
        f"{module} ({LAYERS[_layer(module)][0]}) imports {upward}, a higher layer: move the "
        "shared piece down (course.py holds what the steps share), or pass it in as an argument"
    )


def test_no_step_imports_another_step():
    steps = LAYERS[4][1]
    for module in steps:
        if module in GRAPH:
            siblings = sorted(target for target in GRAPH[module] if target in steps)
            assert not siblings, f"{module} imports the steps {siblings}; share through course.py"


def test_no_check_imports_the_wire():
    for module, targets in GRAPH.items():
        if module.startswith("autograder.checks"):
            assert "autograder.kernel.wire" not in targets, module


def test_the_kernel_imports_nothing_of_the_autograder_but_itself():
    for module, targets in GRAPH.items():
        if module.startswith("autograder.kernel"):
            outside = [t for t in targets if not t.startswith("autograder.kernel")]
            assert not outside, f"{module} imports {outside}: the sandbox ships only kernel/"


def test_the_imports_form_no_cycle():
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(GRAPH.get(module, ())):
            if state.get(target) == 1:
                cycle = path[path.index(target) :] + [target]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target, [*path, target])
        state[module] = 2

    for module in sorted(GRAPH):
        if module not in state:
            visit(module, [module])


def test_the_readme_names_every_layer():
    readme = (PACKAGE.parent / "README.md").read_text(encoding="utf-8")
    for name, _ in LAYERS:
        assert name in readme, f"README.md's layout does not name the layer {name!r}"
