"""The data source the settings ask for."""

from __future__ import annotations

from azure.core.credentials import TokenCredential

from shared.settings import Settings
from shared.sources.base import DataSource
from shared.sources.fixtures import FixtureSource


def build_source(settings: Settings, *, credential: TokenCredential | None = None) -> DataSource:
    """Fixture files (MFA_SOURCE=fixtures, MFA_FIXTURES_DIR) or live Log Analytics (MFA_SOURCE=loganalytics),
    with ``credential`` when given (one shared by many workspaces)."""
    if settings.source == "loganalytics":
        # Imported here so local fixture runs do not load the Azure SDK.
        from shared.sources.loganalytics import LogAnalyticsSource  # noqa: PLC0415

        return LogAnalyticsSource.from_settings(settings, credential=credential)
    return FixtureSource(settings.fixtures_dir)
