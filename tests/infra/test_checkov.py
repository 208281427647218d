"""checkov scans infra/ with the repository's skip list and finds nothing; the skip list is short,
explained, and still needed.

checkov lives in its own virtualenv (it pins old packages): ``CHECKOV`` if set, else
``.venv-checkov/bin/checkov`` in the repository (``pip install checkov==3.3.30``), else ``checkov`` on
PATH. A missing checkov is a failure, never a skip.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.infra.conftest import INFRA_DIR, REPO_ROOT

CONFIG = INFRA_DIR / ".checkov.yaml"
TIMEOUT_SECONDS = 300


@dataclass(frozen=True)
class Scan:
    """One checkov run's bicep report."""

    summary: dict[str, Any]
    failed: list[dict[str, Any]]


def find_checkov() -> Path:
    configured = os.environ.get("CHECKOV")
    if configured:
        path = Path(configured)
        if not (path.is_file() and os.access(path, os.X_OK)):
            pytest.fail(f"CHECKOV={configured} is not an executable file", pytrace=False)
        return path
    in_repo = REPO_ROOT / ".venv-checkov" / "bin" / "checkov"
    if in_repo.is_file():
        return in_repo
    on_path = shutil.which("checkov")
    if on_path:
        return Path(on_path)
    pytest.fail(
        "checkov not found: set CHECKOV=/path/to/checkov, or create .venv-checkov with "
        "'python3 -m venv .venv-checkov && .venv-checkov/bin/pip install checkov==3.3.30'",
        pytrace=False,
    )


def skip_list() -> list[str]:
    """The check ids under ``skip-check:`` in infra/.checkov.yaml."""
    return [check for check, _ in skip_entries()]


def skip_entries() -> list[tuple[str, list[str]]]:
    """(check id, the comment block above it) for each ``skip-check`` entry; consecutive entries
    share the block above the first of them."""
    entries: list[tuple[str, list[str]]] = []
    in_skip_list = False
    block: list[str] = []
    after_entry = False
    for line in CONFIG.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if stripped and not line.startswith((" ", "-", "#")):
            in_skip_list = stripped == "skip-check:"
            block, after_entry = [], False
        elif in_skip_list and stripped.startswith("#"):
            if after_entry:
                block, after_entry = [], False
            block.append(stripped.lstrip("# "))
        elif in_skip_list and stripped.startswith("- "):
            entries.append((stripped[2:].strip(), block))
            after_entry = True
    return entries


def start(checkov: Path, *extra: str) -> subprocess.Popen[str]:
    command = [
        str(checkov),
        "-d",
        str(INFRA_DIR),
        "--framework",
        "bicep",
        "--config-file",
        str(CONFIG),
        "-o",
        "json",
        *extra,
    ]
    # cwd is the repository: checkov also reads a .checkov.yaml from the working directory.
    return subprocess.Popen(
        command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8"
    )


def finish(process: subprocess.Popen[str]) -> Scan:
    try:
        stdout, stderr = process.communicate(timeout=TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        pytest.fail(f"checkov did not finish within {TIMEOUT_SECONDS} s", pytrace=False)
    # Exit code 1 means "failed checks found"; anything else non-zero is checkov itself failing.
    if process.returncode not in (0, 1):
        pytest.fail(f"checkov exited {process.returncode}:\n{stderr[-3000:]}", pytrace=False)
    try:
        report = json.loads(stdout)
    except json.JSONDecodeError:
        pytest.fail(f"checkov printed no JSON report:\n{stdout[:2000]}\n{stderr[-3000:]}", pytrace=False)
    reports = report if isinstance(report, list) else [report]
    bicep = [item for item in reports if item.get("check_type") == "bicep"]
    if len(bicep) != 1:
        pytest.fail(f"expected one bicep report from checkov, got: {stdout[:2000]}", pytrace=False)
    return Scan(summary=bicep[0]["summary"], failed=bicep[0]["results"].get("failed_checks", []))


@pytest.fixture(scope="session")
def scans() -> tuple[Scan, Scan]:
    """The configured scan, and the same scan with the skip list overridden (every failing check).
    Both run at once: checkov takes seconds to start."""
    checkov = find_checkov()
    configured = start(checkov)
    unskipped = start(checkov, "--skip-check", "CKV_NONE")
    return finish(configured), finish(unskipped)


def describe(failed: list[dict[str, Any]]) -> str:
    return "\n".join(
        f"  {check['check_id']} {check['check_name']}: {check['resource']} "
        f"({check['file_path']} lines {check.get('file_line_range')})"
        for check in failed
    )


def test_checkov_is_installed() -> None:
    version = subprocess.run(
        [str(find_checkov()), "--version"], capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False
    )
    assert version.returncode == 0, version.stderr
    assert re.fullmatch(r"\d+\.\d+\.\d+", version.stdout.strip())


def test_checkov_finds_no_failed_check(scans: tuple[Scan, Scan]) -> None:
    configured, _ = scans
    assert configured.summary["parsing_errors"] == 0
    # Something was actually scanned: a parse failure would also report no failed check.
    assert configured.summary["resource_count"] > 0
    assert configured.summary["passed"] > 0
    assert configured.summary["failed"] == 0, "checkov failed checks:\n" + describe(configured.failed)
    assert configured.failed == []


def test_every_skipped_check_still_applies(scans: tuple[Scan, Scan]) -> None:
    _, unskipped = scans
    failing = {check["check_id"] for check in unskipped.failed}
    stale = sorted(set(skip_list()) - failing)
    assert not stale, f"remove these from infra/.checkov.yaml: they no longer fail: {stale}"
    assert failing <= set(skip_list())


def test_every_skip_has_a_reason() -> None:
    entries = skip_entries()
    assert entries, "no skip-check entries found in infra/.checkov.yaml"
    assert len(entries) == len({check for check, _ in entries}), "a check is skipped twice"
    for check, comments in entries:
        assert re.fullmatch(r"CKV2?_AZURE_\d+", check), check
        assert sum(len(line) for line in comments) >= 60, f"{check}: give the reason in a comment above it"
