"""Cold start: the import timing, .funcignore as Core Tools reads it, and the package measured."""

from __future__ import annotations

import zipfile
from pathlib import Path

from bench.cold_start import REPO_ROOT, FuncIgnore, kept_files, measure_package, time_import

# Core Tools' own GitIgnoreParser tests (Azure.Functions.Cli.Tests), which the port must pass.
CORE_TOOLS_SAMPLE = """# This is a comment in a .gitignore file!
/node_modules
*.log

# Ignore this nonexistent file
/nonexistent

# Do not ignore this file
!/nonexistent/foo

/baz
/foo/*.wat
/test1
test2

# Ignore some deep sub folders
/othernonexistent/**/what

# Unignore some other sub folders
!/othernonexistent/**/what/foo

*.swp
"""


def test_the_port_passes_core_tools_own_cases() -> None:
    ignore = FuncIgnore(CORE_TOOLS_SAMPLE.splitlines())
    for accepted in (
        "test/index.js",
        "wat/test/index.js",
        "/othernonexistent/blah/adsasd/whatads",
        "/othernonexistent/blah/adsasd/what/foo",
        "test1File.wat",
        "nonexistent/foo",
        "nonexistent/foo/wat",
    ):
        assert ignore.accepts(accepted), accepted
    for denied in (
        "test.swp",
        "node_modules/wat.js",
        "foo/bar.wat",
        "othernonexistent/blah/what",
        "test1",
        "nonexistent",
        "nonexistent/bar",
        "test2",
    ):
        assert not ignore.accepts(denied), denied
    assert FuncIgnore(["node_modules"]).accepts("test/index.js")
    assert not FuncIgnore(["node_modules"]).accepts("node_modules/foo")


def test_the_repo_funcignore_keeps_only_the_function_app() -> None:
    ignore = FuncIgnore.read(REPO_ROOT / ".funcignore")
    assert not ignore.accepts("tests/test_kql.py")
    assert not ignore.accepts("node_modules/azurite/package.json")
    assert not ignore.accepts("node_modules/@azure/core/package.json")  # no trailing "/" to trip over
    assert not ignore.accepts("state/mfa-rejected.sqlite3")
    assert ignore.accepts("shared/state/__init__.py")  # "/state" is the root state folder only
    kept = {path.relative_to(REPO_ROOT).parts[0] for path in kept_files(REPO_ROOT, ignore)}
    app = {"host.json", "requirements.txt", "MfaRejectedTimer", "MfaRejectedWorker", "shared"}
    assert kept == app, kept


def test_kept_files_skip_what_core_tools_always_skips(tmp_path: Path) -> None:
    for name in ("app/a.py", "app/local.settings.json", ".git/config", "docs/x.md", ".gitignore", "keep.txt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    kept = {path.relative_to(tmp_path).as_posix() for path in kept_files(tmp_path, FuncIgnore(["docs/"]))}
    assert kept == {"app/a.py", "keep.txt"}


def test_the_package_holds_the_app_and_the_packages_and_names_strays(tmp_path: Path) -> None:
    root, packages = tmp_path / "repo", tmp_path / "site-packages"
    for name in ("host.json", "requirements.txt", "shared/kql.py", "MfaRejectedTimer/__init__.py", "notes/todo.md"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("x" * 100)
    (root / ".funcignore").write_text("tests/\n")
    (packages / "httpx").mkdir(parents=True)
    (packages / "httpx" / "__init__.py").write_text("y" * 1000)
    size = measure_package(root=root, site_packages=packages)
    assert (size.app_files, size.app_bytes) == (4, 400)
    assert size.site_packages_bytes == 1000
    assert size.unpacked_bytes == 1400
    assert size.zip_files == 5
    assert size.strays == [("notes", 1, 100)]
    assert 0 < size.zip_bytes < size.unpacked_bytes


def test_the_package_zip_puts_the_packages_where_the_host_looks(tmp_path: Path) -> None:
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / "host.json").write_text("{}")
    (tmp_path / "pkgs" / "tenacity").mkdir(parents=True)
    (tmp_path / "pkgs" / "tenacity" / "__init__.py").write_text("")
    measure_package(root=tmp_path / "repo", site_packages=tmp_path / "pkgs", archive=tmp_path / "app.zip")
    with zipfile.ZipFile(tmp_path / "app.zip") as zipped:
        assert sorted(zipped.namelist()) == [".python_packages/lib/site-packages/tenacity/__init__.py", "host.json"]


def test_an_import_is_timed_in_fresh_interpreters() -> None:
    timing = time_import(runs=2, module="json", importtime=True)
    assert len(timing.import_seconds) == len(timing.process_seconds) == 2
    assert 0 < timing.median < timing.process_median
    assert timing.slowest[0][0] == "json"


def test_directory_patterns_without_a_trailing_slash_keep_strays_out(tmp_path: Path) -> None:
    # The finding in docs/bench.md: "node_modules/" misses "node_modules/@scope/..." under Core
    # Tools' parser; "node_modules" does not, and "/state" leaves shared/state/ alone.
    for name in ("node_modules/@azure/a.js", "node_modules/.bin/b", "node_modules/x/c.js", "shared/state/d.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    as_written = {p.relative_to(tmp_path).as_posix() for p in kept_files(tmp_path, FuncIgnore(["node_modules/"]))}
    assert as_written == {"node_modules/@azure/a.js", "node_modules/.bin/b", "shared/state/d.py"}
    fixed = {p.relative_to(tmp_path).as_posix() for p in kept_files(tmp_path, FuncIgnore(["node_modules", "/state"]))}
    assert fixed == {"shared/state/d.py"}
