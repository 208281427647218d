"""Check KQL with Microsoft's Kusto language service (``tests/js/kusto_check.js`` under node).

    with KustoChecker() as checker:
        [result] = checker.check(["SigninLogs | take 1"])
        assert result.diagnostics == []

Queries are parsed and type-checked against the workspace's full table schemas
(``tests.harness.la_server.WORKSPACE_SCHEMAS``), or the ``schemas`` a call names. One node process
serves every call (the language service takes about two seconds of CPU to load, so the suite shares
one per session: the ``kusto_checker`` fixture); each call is bounded by ``timeout`` seconds.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from tests.harness.la_server import WORKSPACE_SCHEMAS

REPO_ROOT: Final = Path(__file__).resolve().parents[2]
CHECKER_JS: Final = REPO_ROOT / "tests" / "js" / "kusto_check.js"
LANGUAGE_SERVICE: Final = REPO_ROOT / "node_modules" / "@kusto" / "language-service-next"


class KustoCheckerError(RuntimeError):
    """node or the language service is missing, or the checker failed; the message says which."""


@dataclass(frozen=True)
class KustoCheck:
    """What the language service says about one query."""

    query: str
    diagnostics: list[dict[str, Any]]
    columns: list[tuple[str, str]] | None
    literals: list[str]

    @property
    def messages(self) -> list[str]:
        return [
            f"{d['code']} {d['message']} at {d['start']}: {self.query[d['start'] : d['start'] + 20]!r}"
            for d in self.diagnostics
        ]


def kusto_schemas(schemas: Mapping[str, Mapping[str, str]] = WORKSPACE_SCHEMAS) -> dict[str, str]:
    """``{"Table": "(Col:type, ...)"}``, the form ``TableSymbol.From`` takes."""
    return {table: "(" + ", ".join(f"{c}:{t}" for c, t in columns.items()) + ")" for table, columns in schemas.items()}


class KustoChecker:
    """A running checker. Use as a context manager."""

    def __init__(self, *, schemas: Mapping[str, Mapping[str, str]] = WORKSPACE_SCHEMAS, timeout: float = 60.0) -> None:
        node = shutil.which("node")
        if node is None:
            raise KustoCheckerError("node is not on PATH: the Kusto checker runs under node")
        if not (LANGUAGE_SERVICE / "Kusto.Language.Bridge.min.js").is_file():
            raise KustoCheckerError(f"{LANGUAGE_SERVICE} is missing: run `npm ci` in {REPO_ROOT}")
        self._timeout = timeout
        self._default_schemas = kusto_schemas(schemas)
        self._loaded: dict[str, str] | None = None  # the schemas the node process holds now
        self._process = subprocess.Popen(
            [node, str(CHECKER_JS)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )

    def __enter__(self) -> KustoChecker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        process = self._process
        if process.poll() is None:
            process.stdin.close()  # type: ignore[union-attr]
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()

    def check(
        self, queries: Sequence[str], *, schemas: Mapping[str, Mapping[str, str]] | None = None
    ) -> list[KustoCheck]:
        """Check ``queries`` against ``schemas`` (default: the checker's own); the process replaces
        the schemas it holds only when they differ, so calls with other schemas do not leak into
        each other."""
        wanted = self._default_schemas if schemas is None else kusto_schemas(schemas)
        request: dict[str, Any] = {"queries": list(queries)}
        if wanted != self._loaded:
            request["schemas"] = wanted
        self._loaded = None  # unknown until the process answers
        reply = self._exchange(json.dumps(request))
        if isinstance(reply, dict):
            raise KustoCheckerError(f"the Kusto checker failed: {reply.get('error')}")
        self._loaded = wanted
        return [
            KustoCheck(
                query,
                item["diagnostics"],
                [tuple(c) for c in item["columns"]] if item["columns"] else None,
                item["literals"],
            )
            for query, item in zip(queries, reply, strict=True)
        ]

    def _exchange(self, line: str) -> Any:
        process = self._process
        assert process.stdin is not None
        assert process.stdout is not None
        process.stdin.write(line + "\n")
        process.stdin.flush()
        answer: list[str] = []
        reader = threading.Thread(target=lambda: answer.append(process.stdout.readline()), daemon=True)  # type: ignore[union-attr]
        reader.start()
        reader.join(self._timeout)
        if reader.is_alive() or not answer or not answer[0]:
            process.kill()
            stderr = process.stderr.read() if process.stderr and process.poll() is not None else ""
            raise KustoCheckerError(f"the Kusto checker gave no answer within {self._timeout} s: {stderr[-2000:]}")
        return json.loads(answer[0])


def check_queries(queries: Sequence[str]) -> list[KustoCheck]:
    """Check ``queries`` in a process of their own (for scripts; tests share one checker)."""
    with KustoChecker() as checker:
        return checker.check(queries)
