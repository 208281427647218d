"""Generate a synthetic tenant's SigninLogs, IdentityInfo and BehaviorAnalytics files.

    python tools/generate_tenant.py --sample --out sample_data
    python tools/generate_tenant.py --users 20000 --hours 5 --rate 10 --format csv --out /tmp/tenant

Importable too: ``from tools.tenant import TenantParams, generate``. See docs/data.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):
    # Run as a script: make the repository root importable so that `tools.tenant` resolves.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tools.tenant import SAMPLE_PARAMS, GenerateReport, TenantParams, generate
from tools.tenant.cli import main

__all__ = ["SAMPLE_PARAMS", "GenerateReport", "TenantParams", "generate", "main"]

if __name__ == "__main__":
    sys.exit(main())
