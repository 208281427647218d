"""Cold start: importing the function's entry module in a fresh interpreter, and the deployment package's size.

    python -m bench.cold_start [--runs 5] [--importtime]

Import: ``import MfaRejectedTimer`` in a new interpreter per run, timed inside it (the interpreter's
own start-up is reported apart); ``--importtime`` adds the slowest imports by ``-X importtime``.

Package: what ``.funcignore`` keeps of the repository (read as Core Tools reads it, see below)
plus what ``pip install -r requirements.txt --target .python_packages/lib/site-packages`` installs,
freshly, into a temporary directory; zipped (deflate) the way ``func azure functionapp publish``
ships a locally built app. Reported: the fresh site-packages as installed, the zip, and what the zip
unpacks to.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

REPO_ROOT: Final = Path(__file__).resolve().parents[1]
ENTRY_MODULE: Final = "MfaRejectedTimer"
SITE_PACKAGES: Final = ".python_packages/lib/site-packages/"
_TIMED_IMPORT: Final = "import time\nbegan = time.perf_counter()\nimport {module}\nprint(time.perf_counter() - began)\n"


@dataclass(frozen=True)
class ImportTiming:
    import_seconds: list[float]  # the import alone, per run
    process_seconds: list[float]  # the whole interpreter: start-up, import, exit
    slowest: list[tuple[str, float]]  # (module, cumulative seconds), slowest first; empty unless asked

    @property
    def median(self) -> float:
        return statistics.median(self.import_seconds)

    @property
    def process_median(self) -> float:
        return statistics.median(self.process_seconds)


def time_import(*, runs: int = 5, module: str = ENTRY_MODULE, importtime: bool = False) -> ImportTiming:
    """Import ``module`` in ``runs`` fresh interpreters started in the repository root."""
    imports, processes = [], []
    for _ in range(runs):
        began = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", _TIMED_IMPORT.format(module=module)],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        processes.append(time.perf_counter() - began)
        if done.returncode != 0:
            raise RuntimeError(f"import {module} failed: {done.stderr.strip().splitlines()[-1:]}")
        imports.append(float(done.stdout.strip()))
    return ImportTiming(imports, processes, slowest_imports(module) if importtime else [])


def slowest_imports(module: str = ENTRY_MODULE, *, top: int = 8) -> list[tuple[str, float]]:
    """The imports with the largest cumulative time under ``-X importtime`` (one run)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    found = []
    for line in done.stderr.splitlines():
        # "import time:  self [us] | cumulative | imported package"
        parts = line.removeprefix("import time:").split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            found.append((parts[2].strip(), int(parts[1]) / 1e6))
    return sorted(found, key=lambda item: -item[1])[:top]


# --- .funcignore ---------------------------------------------------------------------------------

# Azure Functions Core Tools reads .funcignore with its GitIgnoreParser (a port of codemix's
# gitignore-parser), not with git's rules: every pattern is anchored at the app's root, "*" does not
# cross "/", and a match must end at a word boundary. So "tests/" drops the root tests/ folder only,
# and "*.pyc" only .pyc files at the root. This is a port of that parser, so that the package
# measured is the one "func azure functionapp publish" builds.
_SPECIAL = re.compile(r"[\-\[\]/{}()+?.\\^$|]")
_NEVER = re.compile(r"$^")
# Core Tools' GetLocalFiles skips these (by name, ignoring case, at any depth) whatever .funcignore says.
_SKIPPED_DIRECTORIES: Final = frozenset({".git", ".vscode"})
_SKIPPED_FILES: Final = frozenset({".funcignore", ".gitignore", "local.settings.json", "project.lock.json"})


def _regex(pattern: str) -> str:
    escaped = _SPECIAL.sub(lambda match: "\\" + match.group(0), pattern)
    return escaped.replace("**", "(.+)").replace("*", r"([^\/]+)")


def _alternation(patterns: Sequence[str]) -> re.Pattern[str]:
    if not patterns:
        return _NEVER
    return re.compile("^((" + ")|(".join(_regex(p) for p in sorted(patterns)) + r"))\b", re.ASCII)


class FuncIgnore:
    """``.funcignore`` as Core Tools applies it to each file's path relative to the app root."""

    def __init__(self, lines: Sequence[str]) -> None:
        positive: list[str] = []
        negative: list[str] = []
        for raw in lines:
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            target = negative if line.startswith("!") else positive
            line = line.removeprefix("!").removeprefix("/")
            target.append(line)
        self._positive = _alternation(positive)
        self._negative = _alternation(negative)

    @classmethod
    def read(cls, path: Path) -> FuncIgnore:
        return cls(path.read_text(encoding="utf-8").splitlines() if path.is_file() else [])

    def accepts(self, relative: str) -> bool:
        """Whether the file at ``relative`` (posix path from the app root) goes into the package."""
        return self._negative.match(relative) is not None or self._positive.match(relative) is None


def kept_files(root: Path, ignore: FuncIgnore, *, prefix: str = "") -> Iterator[Path]:
    """The files under ``root`` that go into the package, judged as ``prefix`` + their relative path."""
    for directory, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d.lower() not in _SKIPPED_DIRECTORIES)
        relative = Path(directory).relative_to(root).as_posix()
        base = prefix + ("" if relative == "." else relative + "/")
        for name in sorted(files):
            if name.lower() not in _SKIPPED_FILES and ignore.accepts(base + name):
                yield Path(directory) / name


# --- the package ---------------------------------------------------------------------------------


# What the package is meant to hold (.funcignore's own header says so); anything else that
# .funcignore lets in is reported as a stray rather than counted as the app.
APP_FILES: Final = ("host.json", "requirements.txt")
APP_DIRECTORIES: Final = ("MfaRejectedTimer/", "MfaRejectedWorker/", "shared/")


def is_app_file(relative: str) -> bool:
    if "__pycache__/" in relative or relative.endswith(".pyc"):
        return False
    return relative in APP_FILES or relative.startswith(APP_DIRECTORIES)


@dataclass(frozen=True)
class PackageSize:
    app_files: int
    app_bytes: int
    site_packages_bytes: int  # a fresh pip install --target, as installed
    zip_files: int  # the app plus site-packages
    zip_bytes: int  # compressed
    unpacked_bytes: int  # what the zip holds, uncompressed
    strays: list[tuple[str, int, int]]  # (folder, files, bytes) that .funcignore lets in beyond the app

    @property
    def stray_files(self) -> int:
        return sum(files for _, files, _ in self.strays)

    @property
    def stray_bytes(self) -> int:
        return sum(size for _, _, size in self.strays)


def _tree_bytes(root: Path) -> int:
    return sum(path.stat().st_size for path in root.rglob("*") if path.is_file() and not path.is_symlink())


def install_requirements(target: Path, *, requirements: Path = REPO_ROOT / "requirements.txt") -> None:
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    done = subprocess.run(
        [*command, "--target", str(target), "-r", str(requirements)], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"pip install --target failed: {done.stderr.strip()[-500:]}")


def _strays(root: Path, files: Sequence[Path]) -> list[tuple[str, int, int]]:
    groups: dict[str, list[int]] = {}
    for path in files:
        parts = path.relative_to(root).parts
        folder = "/".join(parts[:2]) if len(parts) > 2 else "/".join(parts[:-1]) or parts[-1]
        counted = groups.setdefault(folder, [0, 0])
        counted[0] += 1
        counted[1] += path.stat().st_size
    return sorted(((folder, n, size) for folder, (n, size) in groups.items()), key=lambda item: -item[2])


def measure_package(
    *, root: Path = REPO_ROOT, site_packages: Path | None = None, archive: Path | None = None
) -> PackageSize:
    """Zip the app files ``.funcignore`` keeps plus the installed requirements. ``site_packages``
    reuses an install (tests); otherwise pip installs into a temporary directory, removed after.
    The zip is written to ``archive`` if given (kept), else into that temporary directory."""
    ignore = FuncIgnore.read(root / ".funcignore")
    with tempfile.TemporaryDirectory(prefix="bench-package-") as scratch:
        packages = site_packages
        if packages is None:
            packages = Path(scratch) / "site-packages"
            install_requirements(packages, requirements=root / "requirements.txt")
        kept = list(kept_files(root, ignore))
        app = [path for path in kept if is_app_file(path.relative_to(root).as_posix())]
        bundled = list(kept_files(packages, ignore, prefix=SITE_PACKAGES))
        archive = archive or Path(scratch) / "package.zip"
        with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zipped:
            for path in app:
                zipped.write(path, path.relative_to(root).as_posix())
            for path in bundled:
                zipped.write(path, SITE_PACKAGES + path.relative_to(packages).as_posix())
        app_bytes = sum(path.stat().st_size for path in app)
        in_app = set(app)
        return PackageSize(
            app_files=len(app),
            app_bytes=app_bytes,
            site_packages_bytes=_tree_bytes(packages),
            zip_files=len(app) + len(bundled),
            zip_bytes=archive.stat().st_size,
            unpacked_bytes=app_bytes + sum(path.stat().st_size for path in bundled),
            strays=_strays(root, [path for path in kept if path not in in_app]),
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cold_start", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="fresh interpreters to time (default 5)")
    parser.add_argument("--importtime", action="store_true", help="also list the slowest imports (-X importtime)")
    args = parser.parse_args(argv)
    timing = time_import(runs=args.runs, importtime=args.importtime)
    print(
        f"import {ENTRY_MODULE}: median {timing.median:.3f} s of {args.runs} "
        f"(whole interpreter {timing.process_median:.3f} s)"
    )
    for module, seconds in timing.slowest:
        print(f"  {seconds:7.3f} s  {module}")
    size = measure_package()
    print(
        f"package: app {size.app_files} files, {size.app_bytes / 1e6:.2f} MB; fresh site-packages "
        f"{size.site_packages_bytes / 1e6:.1f} MB; zip {size.zip_bytes / 1e6:.1f} MB "
        f"({size.zip_files} files), unpacked {size.unpacked_bytes / 1e6:.1f} MB"
    )
    if size.strays:
        print(
            f"WARNING: .funcignore, as Core Tools reads it, also lets in {size.stray_files} other files "
            f"({size.stray_bytes / 1e6:.1f} MB), e.g. " + ", ".join(folder for folder, _, _ in size.strays[:5])
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
