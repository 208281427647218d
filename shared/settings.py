"""Every setting the product reads, in one place: read once, validated, problems reported together.

Names are the app-setting / environment-variable names, exactly as written in ``infra/main.bicep``
and the README's settings table (a test checks the three agree). Secrets (webhook URLs carry
signatures, the signing secret) are held as ``SecretStr`` and never printed.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, PrivateAttr, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from shared.destination_settings import DestinationSettings
from shared.display import shown
from shared.errors import ConfigError
from shared.ncrontab import check_ncrontab
from shared.redaction import Redactor
from shared.storage_account import QUEUE_NAME_PATTERN
from shared.urls import check_http_url
from shared.workspaces import Workspace, WorkspaceConfigError, canonical_list, configured_workspaces

PUBLIC_LA_ENDPOINT = "https://api.loganalytics.io"
SAMPLE_DATA_DIR = Path(__file__).resolve().parent.parent / "sample_data"
# The sample is one recorded tenant-hour; this file holds the clock at which it is evaluated.
SAMPLE_CLOCK_FILE = "clock.txt"


class Settings(DestinationSettings):
    """The product's configuration. Build it with ``load_settings()``."""

    model_config = SettingsConfigDict(case_sensitive=True, extra="ignore", populate_by_name=True)
    _workspaces: list[Workspace] = PrivateAttr(default_factory=list)

    source: Literal["fixtures", "loganalytics"] = Field("fixtures", alias="MFA_SOURCE")
    fixtures_dir: Path = Field(SAMPLE_DATA_DIR, alias="MFA_FIXTURES_DIR")
    # Local emulation only: "latest" moves the fixtures' times so that the period holding their
    # latest rejected-MFA sign-in is the window due now (shared.sources.time_shift).
    fixtures_time_shift: Literal["off", "latest"] = Field("off", alias="MFA_FIXTURES_TIME_SHIFT")

    # One GUID, or a list "contoso=GUID,fabrikam=GUID" (shared.workspaces); or a file of workspaces.
    workspace_id: str | None = Field(None, alias="LOG_ANALYTICS_WORKSPACE_ID")
    workspaces_file: Path | None = Field(None, alias="MFA_WORKSPACES_FILE")
    workspace_concurrency: int = Field(16, ge=1, le=256, alias="MFA_WORKSPACE_CONCURRENCY")
    # inline: the timer evaluates every workspace itself; queue: it enqueues one message per workspace
    # and MfaRejectedWorker evaluates each (shared.fanout).
    fanout: Literal["inline", "queue"] = Field("inline", alias="MFA_FANOUT")
    fanout_queue: str = Field("mfa-rejected-workspaces", alias="MFA_FANOUT_QUEUE")
    la_endpoint: str = Field(PUBLIC_LA_ENDPOINT, alias="MFA_LA_ENDPOINT")
    la_server_timeout: int = Field(180, ge=1, le=600, alias="MFA_LA_SERVER_TIMEOUT")

    lookback: timedelta = Field(timedelta(hours=1), alias="MFA_LOOKBACK")
    ingestion_delay: timedelta = Field(timedelta(minutes=5), alias="MFA_INGESTION_DELAY")
    max_catchup: timedelta = Field(timedelta(days=1), alias="MFA_MAX_CATCHUP")
    # How long after its end a window is evaluated again for rows that arrived late (PT0S: once only).
    late_data: timedelta = Field(timedelta(hours=2), alias="MFA_LATE_DATA")
    # How long SigninLogs may have no rows before the signins-silent health alert is raised.
    no_data_after: timedelta = Field(timedelta(hours=3), alias="MFA_NO_DATA_AFTER")
    identity_lookback: timedelta = Field(timedelta(hours=1), alias="MFA_IDENTITY_LOOKBACK")
    risk_score_cutoff: int = Field(3, alias="MFA_RISK_SCORE_CUTOFF")

    alert_grouping: Literal["single", "per-row"] = Field("single", alias="MFA_ALERT_GROUPING")
    teams_webhook_url: SecretStr | None = Field(None, alias="MFA_TEAMS_WEBHOOK_URL")
    webhook_url: SecretStr | None = Field(None, alias="MFA_WEBHOOK_URL")
    webhook_secret: SecretStr | None = Field(None, alias="MFA_WEBHOOK_SECRET")
    console: bool = Field(False, alias="MFA_CONSOLE")
    allow_no_sink: bool = Field(False, alias="MFA_ALLOW_NO_SINK")
    http_timeout: float = Field(10.0, gt=0, le=120, alias="MFA_HTTP_TIMEOUT")
    max_delivery_attempts: int = Field(12, ge=1, le=100, alias="MFA_MAX_DELIVERY_ATTEMPTS")

    state: str = Field("state/mfa-rejected.sqlite3", alias="MFA_STATE")
    state_table: str = Field("MfaRejectedState", alias="MFA_STATE_TABLE")
    suppression: timedelta = Field(timedelta(0), alias="MFA_SUPPRESSION")
    schedule: str = Field("0 5 * * * *", alias="MFA_SCHEDULE")

    azure_client_id: str | None = Field(None, alias="AZURE_CLIENT_ID")
    storage_connection_string: SecretStr | None = Field(None, alias="AzureWebJobsStorage")
    storage_account_name: str | None = Field(None, alias="AzureWebJobsStorage__accountName")
    storage_table_service_uri: str | None = Field(None, alias="AzureWebJobsStorage__tableServiceUri")
    storage_queue_service_uri: str | None = Field(None, alias="AzureWebJobsStorage__queueServiceUri")

    @field_validator(
        "workspace_id",
        "workspaces_file",
        "azure_client_id",
        "storage_account_name",
        "storage_table_service_uri",
        "storage_queue_service_uri",
        "teams_webhook_url",
        "webhook_url",
        "webhook_secret",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        # Azure app settings cannot be deleted from a Bicep template, only emptied.
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("fixtures_time_shift", mode="before")
    @classmethod
    def _blank_shift_is_off(cls, value: Any) -> Any:
        return "off" if isinstance(value, str) and not value.strip() else value

    @field_validator("workspace_id")
    @classmethod
    def _workspaces_are_guids(cls, value: str | None) -> str | None:
        # Checked here too, so a bad list is reported beside every other bad setting.
        try:
            return None if value is None else canonical_list(value)
        except WorkspaceConfigError as error:
            raise ValueError(str(error).removeprefix("LOG_ANALYTICS_WORKSPACE_ID: ")) from None

    @field_validator("fanout_queue")
    @classmethod
    def _queue_name(cls, value: str) -> str:
        if not QUEUE_NAME_PATTERN.fullmatch(value):
            raise ValueError("must be a Storage queue name: 3-63 lower-case letters, digits and single hyphens")
        return value

    @field_validator("la_endpoint")
    @classmethod
    def _endpoint_is_https(cls, value: str) -> str:
        check_http_url(value, secret=False)
        return value.rstrip("/")

    @field_validator("teams_webhook_url", "webhook_url")
    @classmethod
    def _webhook_is_https(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            check_http_url(value.get_secret_value(), secret=True)
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _secret_is_standard(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and value.get_secret_value().startswith("@Microsoft.KeyVault("):
            raise ValueError("is an unresolved Key Vault reference: set the secret in the vault")
        if value is not None and not re.fullmatch(r"whsec_[A-Za-z0-9+/=]{16,}", value.get_secret_value()):
            raise ValueError("must be a Standard Webhooks secret: 'whsec_' followed by base64 (at least 16 characters)")
        return value

    @field_validator(
        "lookback", "ingestion_delay", "max_catchup", "identity_lookback", "suppression", "late_data", "no_data_after"
    )
    @classmethod
    def _whole_minutes(cls, value: timedelta) -> timedelta:
        if value < timedelta(0) or value % timedelta(minutes=1):
            raise ValueError("must be a non-negative whole number of minutes (ISO 8601 duration, e.g. PT1H)")
        return value

    @field_validator("schedule")
    @classmethod
    def _schedule_is_ncrontab(cls, value: str) -> str:
        check_ncrontab(value)
        return value

    @field_validator("risk_score_cutoff")
    @classmethod
    def _cutoff_in_scale(cls, value: int) -> int:
        if not 0 <= value <= 10:
            raise ValueError("must be between 0 and 10 (InvestigationPriority's scale)")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        problems: list[str] = []
        problems += self._read_workspaces()
        if self.webhook_url is not None and self.webhook_secret is None:
            problems.append("MFA_WEBHOOK_SECRET: required when MFA_WEBHOOK_URL is set")
        if self.lookback <= timedelta(0):
            problems.append("MFA_LOOKBACK: must be longer than zero")
        if self.identity_lookback < self.lookback:
            problems.append("MFA_IDENTITY_LOOKBACK: must be at least MFA_LOOKBACK")
        if self.max_catchup < self.lookback:
            problems.append("MFA_MAX_CATCHUP: must be at least MFA_LOOKBACK")
        if self.no_data_after < self.lookback:
            problems.append("MFA_NO_DATA_AFTER: must be at least MFA_LOOKBACK")
        if self.late_data > self.max_catchup:
            # A window re-evaluated after the catch-up bound would be time the run already gave up on.
            problems.append("MFA_LATE_DATA: must be at most MFA_MAX_CATCHUP")
        problems += self.destination_problems()
        if self.fixtures_time_shift != "off" and self.source != "fixtures":
            # Moving a workspace's real times would alert on the wrong hours.
            problems.append("MFA_FIXTURES_TIME_SHIFT: only for MFA_SOURCE=fixtures (local emulation); set it to off")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _read_workspaces(self) -> list[str]:
        try:
            self._workspaces = configured_workspaces(self.workspace_id, self.workspaces_file)
        except WorkspaceConfigError as error:
            return [str(error).replace(";", ",")]
        if self.source == "loganalytics" and not self._workspaces:
            return ["LOG_ANALYTICS_WORKSPACE_ID: required when MFA_SOURCE=loganalytics (or MFA_WORKSPACES_FILE)"]
        return []

    def narrowed(self, workspace: Workspace, **update: Any) -> Settings:
        """These settings for ``workspace`` alone, with ``update`` (fields by name, already valid):
        a copy, not validated again (validating reads the whole environment once more, per workspace)."""
        copy = self.model_copy(update={"workspace_id": workspace.id, "workspaces_file": None, **update})
        copy._workspaces = [Workspace(name=workspace.id, id=workspace.id, scoped=False)]
        return copy

    @property
    def workspaces(self) -> list[Workspace]:
        """The workspaces to watch, in the order configured (empty for the fixture source's default)."""
        return list(self._workspaces)

    @property
    def uses_table_state(self) -> bool:
        return self.state == "table"

    @property
    def has_sink(self) -> bool:
        """Whether any destination is configured (the console counts: it is where a person looks)."""
        return self.console or any(
            value is not None
            for value in (
                self.teams_webhook_url,
                self.webhook_url,
                self.slack_webhook_url,
                self.pagerduty_routing_key,
                self.jira_url,
                self.servicenow_url,
            )
        )

    def redactor(self) -> Redactor:
        """What keeps every secret set here out of a message or a log line."""
        urls, keys = self.secrets()
        return Redactor(urls=urls, secrets=keys)

    def secrets(self) -> tuple[list[str], list[str]]:
        """The webhook URLs and the keys, tokens and passwords set here, for redaction (``shared.redaction``)."""
        webhooks = (self.teams_webhook_url, self.webhook_url, self.slack_webhook_url)
        keys = (
            self.webhook_secret,
            self.pagerduty_routing_key,
            self.jira_api_token,
            self.servicenow_password,
            self.servicenow_client_secret,
        )
        return [s.get_secret_value() for s in webhooks if s is not None], [
            k.get_secret_value() for k in keys if k is not None
        ]


# Settings whose values never appear in a message: webhook URLs carry signatures.
_SECRET_FIELDS = frozenset(
    {
        "teams_webhook_url",
        "webhook_url",
        "webhook_secret",
        "storage_connection_string",
        "slack_webhook_url",
        "pagerduty_routing_key",
        "jira_api_token",
        "servicenow_password",
        "servicenow_client_secret",
    }
)
_DURATION = "expected an ISO 8601 duration such as PT1H"
# What a setting of each type expects, in place of pydantic's wording (which speaks of Python types).
_EXPECTED = {
    "time_delta_parsing": _DURATION,
    "time_delta_type": _DURATION,
    "bool_parsing": "expected true or false",
    "bool_type": "expected true or false",
    "int_parsing": "expected a whole number",
    "int_type": "expected a whole number",
    "int_from_float": "expected a whole number",
    "float_parsing": "expected a number",
    "float_type": "expected a number",
}


def _describe(error: ValidationError) -> list[tuple[str | None, str]]:
    """Each problem as (setting name or None for a cross-setting one, line naming the setting)."""
    names = {name: name for name in Settings.model_fields}
    names |= {field.alias: name for name, field in Settings.model_fields.items() if field.alias}
    problems: list[tuple[str | None, str]] = []
    for item in error.errors(include_url=False):
        field = names.get(str(item["loc"][0])) if item["loc"] else None
        message = _EXPECTED.get(item["type"]) or str(item["msg"]).removeprefix("Value error, ")
        if message.startswith("Input should be "):
            message = "must be " + message.removeprefix("Input should be ")
        if field is None:
            problems.extend((None, part.strip()) for part in message.split(";"))
            continue
        value = item.get("input")
        if field not in _SECRET_FIELDS and value is not None:
            text = shown(value if isinstance(value, str | int | float) else str(value))
            if "got " not in message and text not in message:  # a validator may quote it already
                message += f", got {text}"
        problems.append((field, f"{Settings.model_fields[field].alias or field}: {message}"))
    return problems


def describe_problems(error: ValidationError) -> list[str]:
    """Each problem of a failed validation as one line naming its setting (secrets never shown)."""
    return [line for _, line in _describe(error)]


def load_settings(**overrides: Any) -> Settings:
    """Read the environment once (plus ``overrides`` by setting name), or raise ``ConfigError``
    naming every bad setting at once.

    An environment value that an override replaces is validated too: the function reads it, so
    the command line refuses what the function would refuse.
    """
    problems: list[str] = []
    try:
        settings = Settings(**overrides)
    except ValidationError as error:
        problems = [line for _, line in _describe(error)]
    shadowed = {Settings.model_fields[name].alias or name for name in _field_names(overrides)}
    if shadowed:
        try:
            Settings()
        except ValidationError as error:
            problems += [
                f"{line} (in the environment)"
                for field, line in _describe(error)
                if field is not None and (Settings.model_fields[field].alias or field) in shadowed
            ]
    if problems:
        raise ConfigError("invalid settings: " + "; ".join(problems))
    return settings


def _field_names(overrides: dict[str, Any]) -> list[str]:
    by_alias = {field.alias: name for name, field in Settings.model_fields.items() if field.alias}
    return [by_alias.get(key, key) for key in overrides if by_alias.get(key, key) in Settings.model_fields]


def setting_names() -> list[str]:
    """Every setting's name, as an app setting (the source of truth the infra test compares with)."""
    return [field.alias or name for name, field in Settings.model_fields.items()]
