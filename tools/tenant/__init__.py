"""A synthetic Microsoft Entra / Sentinel tenant: SigninLogs, IdentityInfo and BehaviorAnalytics rows.

``tools/generate_tenant.py`` is the command line; ``generate`` is the importable entry point.
Everything is deterministic from the seed, whatever the output format.
"""

from tools.tenant.generate import GenerateReport, generate
from tools.tenant.params import SAMPLE_PARAMS, TenantParams

__all__ = ["SAMPLE_PARAMS", "GenerateReport", "TenantParams", "generate"]
