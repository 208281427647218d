"""Start a real Azurite (the Azure Storage emulator, npm ``azurite`` in node_modules) for tests.

    with run_azurite(location=tmp_dir) as azurite:
        TableServiceClient.from_connection_string(azurite.connection_string)

Azurite listens on 127.0.0.1 only, on ports the OS picks (``--*Port 0``; the real ports are read
from its start-up lines, so parallel runs never collide), keeps its data in ``location``, and is
stopped by its PID: SIGTERM, a bounded wait, then SIGKILL.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final

REPO_ROOT: Final = Path(__file__).resolve().parents[2]
AZURITE_JS: Final = REPO_ROOT / "node_modules" / "azurite" / "dist" / "src" / "azurite.js"

# Azurite's fixed, public development account (the same one UseDevelopmentStorage=true means).
ACCOUNT: Final = "devstoreaccount1"
ACCOUNT_KEY: Final = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

_LISTENING: Final = re.compile(r"Azurite (Blob|Queue|Table) service is successfully listening at (http://\S+)")
_SERVICES: Final = ("Blob", "Queue", "Table")


class AzuriteError(RuntimeError):
    """node or Azurite is missing, or Azurite did not start in time; the message says which."""


@dataclass(frozen=True)
class Azurite:
    pid: int
    blob_endpoint: str  # e.g. http://127.0.0.1:41234/devstoreaccount1
    queue_endpoint: str
    table_endpoint: str

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
            f"BlobEndpoint={self.blob_endpoint};QueueEndpoint={self.queue_endpoint};"
            f"TableEndpoint={self.table_endpoint};"
        )

    @property
    def table_port(self) -> int:
        return int(self.table_endpoint.rsplit(":", 1)[1].split("/", 1)[0])


def unique_table_name(prefix: str = "test") -> str:
    """A fresh table name (letters and digits only), so tests sharing one Azurite never collide."""
    return prefix + uuid.uuid4().hex[:16]


def azurite_command(*, location: Path, script: Path = AZURITE_JS) -> list[str]:
    """The command line, or ``AzuriteError`` naming what is missing and how to get it."""
    node = shutil.which("node")
    if node is None:
        raise AzuriteError("node is not on PATH: install Node.js (>= 18) to run Azurite for the tests")
    if not script.is_file():
        raise AzuriteError(f"Azurite is not installed at {script}: run `npm ci` in {REPO_ROOT}")
    # node runs the script itself (not the .bin shim), so the PID we hold is Azurite's own.
    return [
        node,
        str(script),
        "--silent",
        "--disableTelemetry",  # otherwise it tries to reach the internet
        "--skipApiVersionCheck",  # SDKs newer than this Azurite send newer API versions
        "--location",
        str(location),
        *("--blobHost", "127.0.0.1", "--queueHost", "127.0.0.1", "--tableHost", "127.0.0.1"),
        *("--blobPort", "0", "--queuePort", "0", "--tablePort", "0"),
    ]


@contextmanager
def run_azurite(*, location: Path, start_timeout: float = 30.0, stop_timeout: float = 10.0) -> Iterator[Azurite]:
    """Run Azurite for the duration of the ``with`` block (see the module docstring)."""
    location.mkdir(parents=True, exist_ok=True)
    command = azurite_command(location=location)
    process = subprocess.Popen(
        command,
        cwd=location,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        encoding="utf-8",
        errors="replace",
    )
    output: list[str] = []
    endpoints: dict[str, str] = {}
    ready = threading.Event()

    def read_output() -> None:
        # Drains the pipe for Azurite's whole life so it never blocks on a full pipe.
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line.rstrip())
            if match := _LISTENING.search(line):
                endpoints[match[1]] = match[2].rstrip("/")
                if len(endpoints) == len(_SERVICES):
                    ready.set()
        ready.set()  # end of output: the process is gone, stop waiting

    reader = threading.Thread(target=read_output, name="azurite-output", daemon=True)
    reader.start()
    try:
        ready.wait(start_timeout)
        if len(endpoints) < len(_SERVICES):
            state = "exited" if process.poll() is not None else f"did not start within {start_timeout:g} s"
            raise AzuriteError(f"Azurite {state}; its output:\n" + "\n".join(output[-30:]))
        azurite = Azurite(
            pid=process.pid,
            blob_endpoint=f"{endpoints['Blob']}/{ACCOUNT}",
            queue_endpoint=f"{endpoints['Queue']}/{ACCOUNT}",
            table_endpoint=f"{endpoints['Table']}/{ACCOUNT}",
        )
        _wait_for_port(azurite.table_port, deadline=time.monotonic() + start_timeout)
        yield azurite
    finally:
        _stop(process, timeout=stop_timeout)
        reader.join(timeout=stop_timeout)


def _wait_for_port(port: int, *, deadline: float) -> None:
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1.0):
                return
        except OSError as error:
            if time.monotonic() > deadline:
                raise AzuriteError(f"Azurite's table port {port} does not answer: {error}") from None
            time.sleep(0.05)


def _stop(process: subprocess.Popen[str], *, timeout: float) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=timeout)
