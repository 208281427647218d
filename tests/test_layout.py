"""The package's shape stays easy to find one's way in: every module listed in docs/architecture.md
with its job, no module over 350 lines, no function over 60."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "shared"
MAX_MODULE_LINES = 350
MAX_FUNCTION_LINES = 60


def _modules() -> list[Path]:
    return sorted(path for path in PACKAGE.rglob("*.py") if path.name != "__init__.py")


def test_every_module_of_the_package_is_in_the_architecture_map() -> None:
    architecture = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    missing = [str(path.relative_to(REPO)) for path in _modules() if str(path.relative_to(REPO)) not in architecture]
    assert missing == []


def test_the_architecture_map_names_no_module_that_is_gone() -> None:
    architecture = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    named = {word for word in architecture.split() if word.startswith("shared/") and word.endswith(".py")}
    assert sorted(name for name in named if not (REPO / name).is_file()) == []


def test_no_module_is_over_350_lines() -> None:
    sizes = {str(path.relative_to(REPO)): len(path.read_text(encoding="utf-8").splitlines()) for path in _modules()}
    assert {name: lines for name, lines in sizes.items() if lines > MAX_MODULE_LINES} == {}


def test_no_function_is_over_60_lines() -> None:
    long = []
    for path in [*_modules(), *(REPO / "MfaRejectedTimer").glob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(REPO)}:{node.lineno} {node.name} ({lines} lines)")
    assert long == []
