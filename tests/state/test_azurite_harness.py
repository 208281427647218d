"""The Azurite launcher used by the Table tests: it runs, and says clearly what is missing."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.harness.azurite import AZURITE_JS, Azurite, AzuriteError, azurite_command


def test_the_session_azurite_listens_on_loopback_only(azurite: Azurite) -> None:
    assert azurite.table_endpoint.startswith("http://127.0.0.1:")
    assert azurite.table_endpoint.endswith("/devstoreaccount1")
    assert "TableEndpoint=http://127.0.0.1:" in azurite.connection_string
    with socket.create_connection(("127.0.0.1", azurite.table_port), timeout=5):
        pass


def test_missing_node_is_an_error_that_says_so(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))

    with pytest.raises(AzuriteError, match="node is not on PATH"):
        azurite_command(location=tmp_path)


def test_missing_azurite_is_an_error_that_says_how_to_install_it(tmp_path: Path) -> None:
    with pytest.raises(AzuriteError, match=r"azurite\.js: run `npm ci`"):
        azurite_command(location=tmp_path, script=tmp_path / "azurite.js")


def test_the_command_binds_loopback_with_os_chosen_ports_and_no_telemetry(tmp_path: Path) -> None:
    command = azurite_command(location=tmp_path)

    assert command[1] == str(AZURITE_JS)
    assert "--disableTelemetry" in command
    for flag in ("--blobHost", "--queueHost", "--tableHost"):
        assert command[command.index(flag) + 1] == "127.0.0.1"
    for flag in ("--blobPort", "--queuePort", "--tablePort"):
        assert command[command.index(flag) + 1] == "0"
