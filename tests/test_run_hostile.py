"""``python -m shared run`` as an operator runs it, with a hostile receiver beside a healthy one.

Each case starts the real command in a process of its own (so its peak memory can be measured),
with the Teams sink pointed at a receiver that drips, floods, redirects or echoes the URL, and the
signed webhook at a healthy receiver. The run must finish in a few multiples of MFA_HTTP_TIMEOUT,
deliver every alert to the healthy receiver, stay small, and never print the Teams signature.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from standardwebhooks import Webhook

from tests.sinks import hostile
from tests.sinks.receiver import Receiver, Reply

REPO = Path(__file__).resolve().parents[1]
SECRET = "whsec_MfHfXGGvDRrwlUMw+0sCfTStORsHk1ilK8KJjqR5pXc="
SIG_DECODED = "Zk9vYmFy+U2VjcmV0/c2lnbmF0dXJl"
TEAMS_PATH = (
    "/workflows/8d5c9f0e4b7a4f0c9a1b2c3d4e5f6a7b/triggers/manual/paths/invoke?api-version=1"
    f"&sig={SIG_DECODED.replace('+', '%2B').replace('/', '%2F')}"
)
FORBIDDEN = ("Zk9vYmFy", "U2VjcmV0", "c2lnbmF0dXJl", "8d5c9f0e4b7a4f0c9a1b2c3d4e5f6a7b", "MfHfXGGvDRrwlUMw")
TIMEOUT = 1.0
SAMPLE_ALERTS = 8  # the bundled sample hour gives 8 result rows: 8 alerts with per-row grouping


# The command run as ``python -m shared``, printing its own peak memory last. Measured in the child
# (VmHWM of its own address space): the parent's rusage would count the test process it forked from.
_MEASURED = (
    "import atexit, runpy, sys\n"
    "def peak():\n"
    "    with open('/proc/self/status') as status:\n"
    "        kb = next(line.split()[1] for line in status if line.startswith('VmHWM:'))\n"
    "    print(f'peak-rss-kb={kb}', file=sys.stderr)\n"
    "atexit.register(peak)\n"
    "sys.argv[0] = 'shared'\n"
    "runpy.run_module('shared', run_name='__main__', alter_sys=True)\n"
)


def run_cli(tmp_path: Path, *, teams_url: str, webhook_url: str) -> tuple[int, str, float, float]:
    """Runs the sample hour; returns exit code, stdout + stderr, seconds and peak RSS in MB."""
    env = {
        key: value for key, value in os.environ.items() if not key.startswith("MFA_") and key != "AzureWebJobsStorage"
    }
    env |= {
        "MFA_TEAMS_WEBHOOK_URL": teams_url,
        "MFA_WEBHOOK_URL": webhook_url,
        "MFA_WEBHOOK_SECRET": SECRET,
        "MFA_HTTP_TIMEOUT": str(TIMEOUT),
        "MFA_ALERT_GROUPING": "per-row",
    }
    command = [sys.executable, "-c", _MEASURED, "-v", "run", "--no-console", "--state", str(tmp_path / "s.sqlite3")]
    started = time.monotonic()
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, timeout=120, check=False)
    took = time.monotonic() - started
    output = (result.stdout + result.stderr).decode("utf-8", errors="replace")
    [peak_kb] = re.findall(r"peak-rss-kb=(\d+)", output)
    return result.returncode, output, took, int(peak_kb) / 1024


@pytest.mark.parametrize(
    "answer",
    [
        hostile.drip_headers(every=1.0, for_seconds=60),
        hostile.drip_body(status=500, every=1.0, for_seconds=60),
        hostile.huge_body(status=200),
        hostile.huge_body(status=500),
        hostile.redirect("http://127.0.0.2:9/elsewhere"),
        hostile.echo_decoded(status=500),
    ],
    ids=["drip-headers", "drip-error-body", "2gib-200", "2gib-500", "307-elsewhere", "echo-decoded"],
)
def test_a_hostile_teams_receiver_beside_a_healthy_webhook(tmp_path: Path, answer: hostile.Answer) -> None:
    with Receiver(default=Reply(answer=answer)) as bad, Receiver() as good:
        code, output, took, peak_mb = run_cli(tmp_path, teams_url=bad.url(TEAMS_PATH), webhook_url=good.url())

    assert code == 0, output
    verifier = Webhook(SECRET)
    delivered = {verifier.verify(r.body, r.headers)["id"] for r in good.requests}
    assert len(delivered) == SAMPLE_ALERTS, output
    # Start-up (imports, reading the sample) plus two failed deliveries at most on the hostile lane.
    assert took < 4 * TIMEOUT + 4.0, output
    assert peak_mb < 200
    for secret in FORBIDDEN:
        assert secret not in output
    assert "Delivered" in output
