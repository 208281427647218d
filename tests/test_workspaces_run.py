"""Many workspaces, as an operator runs them: `python -m shared run --source loganalytics --now …` hour by
hour against one loopback endpoint hosting four workspaces, each with its own tables. Two have their
own destination, two send to the global one. One is refused (403, as when a Lighthouse delegation is
withdrawn) from its first run for two hours, then recovers; one answers 503 through every retry in
the second hour only.

Each workspace's alerts reach its own destination exactly once, name their workspace, hold only that
workspace's users, and a failing one catches up on every hour it missed once it recovers; while it
fails, the others advance and deliver, the run exits 1 naming it, and `status` shows its last error."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks import Webhook

from shared.serialise import jsonable
from tests.builders import behavior, identity, signin
from tests.harness.la_farm import WorkspaceFarm
from tests.harness.la_server import Fault
from tests.sinks.receiver import Receiver, Reply
from tests.test_cli import SECRET, call

CONTOSO = "6c1b2f4e-1111-2222-3333-444455556666"
FABRIKAM = "7d2c3e5f-aaaa-bbbb-cccc-ddddeeeeffff"
BROKEN = "8e3d4f60-9999-8888-7777-666655554444"
FLAKY = "9f4e5071-1234-4321-abcd-0123456789ab"
NAMES = {CONTOSO: "contoso", FABRIKAM: "fabrikam", BROKEN: "broken", FLAKY: "flaky"}
HOURS = (0, 60, 120)  # minutes after 09:00: the windows 09-10, 10-11, 11-12
RUNS = ("2026-11-28T10:05Z", "2026-11-28T11:05Z", "2026-11-28T12:05Z")


def upn(workspace: str, hour: int) -> str:
    return f"user{hour // 60}@{NAMES[workspace]}.example"


def tables(workspace: str) -> dict[str, list[dict[str, Any]]]:
    """One user rejecting MFA in each hour, with a UEBA score above the cutoff: one alert per window."""
    signins, identities, behaviors = [], [], []
    for hour in HOURS:
        name = upn(workspace, hour)
        signins.append(signin(name, minute=hour + 10, ip=f"203.0.113.{hour // 60 + 1}"))
        identities.append(identity(name, minute=hour))
        behaviors.append(behavior(name.split("@")[0], ip=f"203.0.113.{hour // 60 + 1}", minute=hour + 5))
    return {
        "SigninLogs": [jsonable(row) for row in signins],
        "IdentityInfo": [jsonable(row) for row in identities],
        "BehaviorAnalytics": [jsonable(row) for row in behaviors],
    }


@dataclass
class Scenario:
    farm: WorkspaceFarm
    own: dict[str, Receiver]  # contoso's and fabrikam's own webhook receivers
    fallback: Receiver  # the global destination (the broken workspace has none of its own)
    state: Path
    results: list[tuple[int, str, str]]

    def payloads(self, receiver: Receiver) -> list[dict[str, Any]]:
        found = []
        for request in receiver.requests:
            headers = {k: v for k, v in request.headers.items() if k.startswith("webhook-")}
            found.append(Webhook(SECRET).verify(request.body, headers))
        return found


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    scratch = tmp_path_factory.mktemp("workspaces")
    with ExitStack() as stack, pytest.MonkeyPatch.context() as env:
        farm = stack.enter_context(WorkspaceFarm({guid: tables(guid) for guid in NAMES}))
        own = {guid: stack.enter_context(Receiver(default=Reply(204))) for guid in (CONTOSO, FABRIKAM)}
        fallback = stack.enter_context(Receiver(default=Reply(204)))
        entries: list[dict[str, Any]] = [
            {
                "name": NAMES[guid],
                "id": guid,
                "destinations": {"MFA_WEBHOOK_URL": own[guid].url(), "MFA_WEBHOOK_SECRET": {"setting": "HOOK_KEY"}},
            }
            for guid in own
        ]
        entries += [{"name": "broken", "id": BROKEN}, {"name": "flaky", "id": FLAKY}]
        file = scratch / "workspaces.json"
        file.write_text(json.dumps({"workspaces": entries}), encoding="utf-8")
        env.setenv("HOOK_KEY", SECRET)
        env.setenv("MFA_WORKSPACES_FILE", str(file))
        env.setenv("MFA_LA_ENDPOINT", farm.endpoint)
        env.setenv("MFA_WEBHOOK_URL", fallback.url())
        env.setenv("MFA_WEBHOOK_SECRET", SECRET)
        # Refused for its first two runs (every query of a run stops at the first refusal).
        farm.fail(BROKEN, Fault(status=403, times=2))
        state = scratch / "state.sqlite3"
        results = []
        for hour, now in enumerate((*RUNS, RUNS[-1])):  # the last hour twice: a repeated run sends nothing again
            if hour == 1:  # 503 on the first try and each of the SDK's four retries (Retry-After: at once)
                farm.fail(FLAKY, Fault(status=503, times=5, headers={"Retry-After": "0.01"}))
            results.append(call("run", "--source", "loganalytics", "--no-console", "--state", str(state), "--now", now))
        scenario = Scenario(farm, own, fallback, state, results)
        yield scenario


def test_each_workspace_alerts_once_per_hour_to_its_own_destination(scenario: Scenario) -> None:
    for guid, receiver in scenario.own.items():
        payloads = scenario.payloads(receiver)
        assert sorted(p["window"]["start"] for p in payloads) == [
            "2026-11-28T09:00:00Z",
            "2026-11-28T10:00:00Z",
            "2026-11-28T11:00:00Z",
        ]
        assert {p["workspace"]["id"] for p in payloads} == {guid}
        assert {p["workspace"]["name"] for p in payloads} == {NAMES[guid]}
        assert len({p["id"] for p in payloads}) == 3


def test_no_workspace_data_appears_in_another_workspaces_alert(scenario: Scenario) -> None:
    for receiver in [*scenario.own.values(), scenario.fallback]:
        for payload in scenario.payloads(receiver):
            owner = payload["workspace"]["id"]
            assert {row["UserPrincipalName"] for row in payload["rows"]} <= {upn(owner, hour) for hour in HOURS}


def test_failing_workspaces_fail_the_run_by_name_while_the_others_advance(scenario: Scenario) -> None:
    (first, _, first_err), (second, second_out, second_err) = scenario.results[:2]
    assert first == second == 1
    assert "1 of 4 workspace(s) failed: broken: window [2026-11-28T09:00:00Z" in first_err
    assert "HTTP 403" in first_err
    assert "2 of 4 workspace(s) failed: broken:" in second_err
    assert "; flaky: window [2026-11-28T10:00:00Z, 2026-11-28T11:00:00Z): Log Analytics failed" in second_err
    assert "(HTTP 503 ServiceUnavailableError); gave up after 5 attempts" in second_err
    assert "2 ok, 2 failed (broken (" in second_out
    assert [code for code, _, _ in scenario.results[2:]] == [0, 0]


@pytest.mark.parametrize("name", ["broken", "flaky"])
def test_a_failing_workspace_catches_up_every_hour_it_missed_at_the_global_destination(
    scenario: Scenario, name: str
) -> None:
    payloads = [p for p in scenario.payloads(scenario.fallback) if p["workspace"]["name"] == name]
    assert sorted(p["window"]["start"] for p in payloads) == [
        "2026-11-28T09:00:00Z",
        "2026-11-28T10:00:00Z",
        "2026-11-28T11:00:00Z",
    ]
    assert {p["workspace"]["name"] for p in scenario.payloads(scenario.fallback)} == {"broken", "flaky"}


def test_alert_ids_differ_across_workspaces_for_the_same_window(scenario: Scenario) -> None:
    ids = [p["id"] for receiver in [*scenario.own.values(), scenario.fallback] for p in scenario.payloads(receiver)]
    assert len(ids) == len(set(ids)) == 12


def test_status_shows_each_workspace_and_the_last_error(scenario: Scenario) -> None:
    code, out, err = call("status", "--state", str(scenario.state), "--format", "json")
    assert code == 0, err
    found = {entry["name"]: entry["state"] for entry in json.loads(out)["workspaces"]}
    assert {name: state["checkpoint"] for name, state in found.items()} == dict.fromkeys(
        ("contoso", "fabrikam", "broken", "flaky"), "2026-11-28T12:00:00Z"
    )
    broken = found["broken"]["last_run"]
    assert broken["error"] == ""
    assert "HTTP 403" in broken["failure"]
    assert found["contoso"]["last_run"]["failure"] == ""
    code, text, _ = call("status", "--state", str(scenario.state), "--workspace", "broken")
    assert code == 0
    assert text.startswith(f"Workspace: broken ({BROKEN})\nCheckpoint: 2026-11-28T12:00:00Z")
    assert "Last error: 2026-11-28T11:05:00Z" in text


def test_status_for_an_unknown_workspace_lists_the_configured_ones(scenario: Scenario) -> None:
    code, _, err = call("status", "--state", str(scenario.state), "--workspace", "nowhere")
    assert code == 2
    assert "no such workspace (configured: contoso, fabrikam, broken, flaky)" in err
