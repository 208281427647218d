"""Fixtures for the infrastructure tests: the repository's infra/ folder and its parsed templates."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.infra.bicep_tree import Template, load

REPO_ROOT = Path(__file__).resolve().parents[2]
INFRA_DIR = REPO_ROOT / "infra"


@pytest.fixture(scope="session")
def infra_dir() -> Path:
    return INFRA_DIR


@pytest.fixture(scope="session")
def main_template() -> Template:
    return load(INFRA_DIR / "main.bicep")


@pytest.fixture(scope="session")
def reader_template() -> Template:
    return load(INFRA_DIR / "modules" / "workspace-reader.bicep")
