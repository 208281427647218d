"""Settings: read once, validated, every problem named by its setting, secrets never echoed."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared.errors import ConfigError
from shared.settings import SAMPLE_DATA_DIR, load_settings, setting_names
from shared.urls import is_loopback_url

WORKSPACE = "4b1f1c6e-59b3-4c62-8e7a-2d1a7b6d9c10"
SECRET = "whsec_MfgsbU1KRXdxT2s3a0JhY2tlbmQ="


def error_of(**settings: object) -> str:
    with pytest.raises(ConfigError) as caught:
        load_settings(**settings)
    return str(caught.value)


def test_defaults_run_locally_on_the_sample() -> None:
    settings = load_settings()
    assert settings.source == "fixtures"
    assert settings.fixtures_dir == SAMPLE_DATA_DIR
    assert settings.lookback == timedelta(hours=1)
    assert settings.ingestion_delay == timedelta(minutes=5)
    assert settings.max_catchup == timedelta(days=1)
    assert settings.identity_lookback == timedelta(hours=1)
    assert settings.risk_score_cutoff == 3
    assert settings.alert_grouping == "single"
    assert settings.suppression == timedelta(0)
    assert not settings.uses_table_state


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MFA_LOOKBACK", "PT30M")
    monkeypatch.setenv("MFA_IDENTITY_LOOKBACK", "P14D")
    monkeypatch.setenv("MFA_STATE", "table")
    settings = load_settings()
    assert settings.lookback == timedelta(minutes=30)
    assert settings.identity_lookback == timedelta(days=14)
    assert settings.uses_table_state


def test_every_problem_is_reported_at_once_by_setting_name() -> None:
    message = error_of(MFA_RISK_SCORE_CUTOFF="high", MFA_LOOKBACK="an hour", MFA_ALERT_GROUPING="daily")
    assert "MFA_RISK_SCORE_CUTOFF" in message
    assert "MFA_LOOKBACK" in message
    assert "MFA_ALERT_GROUPING" in message


def test_log_analytics_needs_a_workspace_guid() -> None:
    assert "LOG_ANALYTICS_WORKSPACE_ID: required" in error_of(MFA_SOURCE="loganalytics")
    assert "'my-workspace' is not a workspace GUID" in error_of(
        MFA_SOURCE="loganalytics", LOG_ANALYTICS_WORKSPACE_ID="my-workspace"
    )
    assert (
        load_settings(MFA_SOURCE="loganalytics", LOG_ANALYTICS_WORKSPACE_ID=WORKSPACE.upper()).workspace_id == WORKSPACE
    )


@pytest.mark.parametrize("value", ["PT1H30S", "-PT1H"])
def test_durations_are_whole_non_negative_minutes(value: str) -> None:
    assert "MFA_INGESTION_DELAY" in error_of(MFA_INGESTION_DELAY=value)


def test_windows_must_fit_together() -> None:
    assert "MFA_IDENTITY_LOOKBACK: must be at least MFA_LOOKBACK" in error_of(MFA_IDENTITY_LOOKBACK="PT30M")
    assert "MFA_MAX_CATCHUP: must be at least MFA_LOOKBACK" in error_of(MFA_MAX_CATCHUP="PT30M")
    assert "MFA_LOOKBACK: must be longer than zero" in error_of(MFA_LOOKBACK="PT0M")


def test_the_cutoff_is_on_the_priority_scale() -> None:
    assert "between 0 and 10" in error_of(MFA_RISK_SCORE_CUTOFF="11")


@pytest.mark.parametrize("setting", ["MFA_TEAMS_WEBHOOK_URL", "MFA_WEBHOOK_URL"])
def test_webhooks_must_be_https_and_the_url_is_never_echoed(setting: str) -> None:
    url = "http://prod-12.westeurope.logic.azure.com/workflows/abc?sig=TOPSECRETSIGNATURE"
    message = error_of(**{setting: url, "MFA_WEBHOOK_SECRET": SECRET})
    assert f"{setting}: must use https" in message
    assert "TOPSECRETSIGNATURE" not in message
    assert "prod-12.westeurope.logic.azure.com" in message  # the host alone, to say which one


def test_loopback_webhooks_may_use_http() -> None:
    settings = load_settings(MFA_WEBHOOK_URL="http://127.0.0.1:8080/hook", MFA_WEBHOOK_SECRET=SECRET)
    assert settings.webhook_url.get_secret_value() == "http://127.0.0.1:8080/hook"
    assert is_loopback_url("http://localhost:1/")
    assert is_loopback_url("http://[::1]:1/")
    assert not is_loopback_url("http://127.0.0.1.example.com/")


def test_the_webhook_needs_a_standard_webhooks_secret_which_is_never_echoed() -> None:
    url = "https://tickets.example.com/hook"
    assert "MFA_WEBHOOK_SECRET: required" in error_of(MFA_WEBHOOK_URL=url)
    message = error_of(MFA_WEBHOOK_URL=url, MFA_WEBHOOK_SECRET="hunter2-not-a-whsec")
    assert "whsec_" in message
    assert "hunter2" not in message
    assert "hunter2" not in repr(load_settings(MFA_WEBHOOK_URL=url, MFA_WEBHOOK_SECRET=SECRET))


def test_an_unresolved_key_vault_reference_says_so() -> None:
    reference = "@Microsoft.KeyVault(SecretUri=https://kv.vault.azure.net/secrets/mfa-teams-webhook-url/)"
    assert "unresolved Key Vault reference" in error_of(MFA_TEAMS_WEBHOOK_URL=reference)
    assert "unresolved Key Vault reference" in error_of(
        MFA_WEBHOOK_URL="https://x.example/", MFA_WEBHOOK_SECRET=reference
    )


def test_empty_app_settings_count_as_unset() -> None:
    settings = load_settings(MFA_TEAMS_WEBHOOK_URL="", MFA_WEBHOOK_URL=" ", LOG_ANALYTICS_WORKSPACE_ID="")
    assert settings.teams_webhook_url is None
    assert settings.webhook_url is None
    assert settings.workspace_id is None


def test_setting_names_are_the_app_setting_names() -> None:
    names = setting_names()
    assert "MFA_SOURCE" in names
    assert "AzureWebJobsStorage__accountName" in names
    assert len(names) == len(set(names))


# --- messages a newcomer meets ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "setting", ["MFA_LOOKBACK", "MFA_INGESTION_DELAY", "MFA_MAX_CATCHUP", "MFA_IDENTITY_LOOKBACK", "MFA_SUPPRESSION"]
)
def test_a_duration_that_is_not_one_says_what_is_expected(setting: str) -> None:
    message = error_of(**{setting: "banana"})
    assert f"{setting}: expected an ISO 8601 duration such as PT1H, got 'banana'" in message
    assert "invalid character" not in message  # pydantic's own wording


@pytest.mark.parametrize("setting", ["MFA_TEAMS_WEBHOOK_URL", "MFA_WEBHOOK_URL"])
@pytest.mark.parametrize("value", ["notaurl-sig=TOPSECRETSIGNATURE", "/workflows/x?sig=TOPSECRETSIGNATURE"])
def test_a_webhook_that_is_not_an_absolute_url_says_https_without_echoing_it(setting: str, value: str) -> None:
    message = error_of(**{setting: value, "MFA_WEBHOOK_SECRET": SECRET})
    assert f"{setting}: must be an absolute https URL" in message
    assert "TOPSECRETSIGNATURE" not in message
    assert "None" not in message


def test_a_bad_value_is_shown_but_a_secret_never_is() -> None:
    message = error_of(MFA_HTTP_TIMEOUT="soon", MFA_WEBHOOK_URL="https://x.example/", MFA_WEBHOOK_SECRET="hunter2")
    assert "MFA_HTTP_TIMEOUT: expected a number, got 'soon'" in message
    assert "MFA_WEBHOOK_SECRET: must be a Standard Webhooks secret" in message
    assert "hunter2" not in message


@pytest.mark.parametrize(("value", "expected"), [("true", True), ("FALSE", False), ("1", True), ("no", False)])
def test_console_is_a_boolean(value: str, expected: bool) -> None:
    assert load_settings(MFA_CONSOLE=value).console is expected


def test_console_that_is_not_a_boolean_is_refused() -> None:
    assert "MFA_CONSOLE: expected true or false, got 'maybe'" in error_of(MFA_CONSOLE="maybe")


def test_an_environment_value_that_an_override_replaces_is_still_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    # The command line overrides MFA_CONSOLE (--console), but the function reads the environment's.
    monkeypatch.setenv("MFA_CONSOLE", "maybe")
    message = error_of(MFA_CONSOLE=True)
    assert "MFA_CONSOLE: expected true or false, got 'maybe' (in the environment)" in message
    monkeypatch.setenv("MFA_CONSOLE", "false")
    assert load_settings(MFA_CONSOLE=True).console is True


@pytest.mark.parametrize(
    "schedule",
    [
        "0 5 * * * *",
        "0 */5 * * * *",
        "0 0 9-17 * * *",
        "5,8,10 * * * * *",
        "10/15 * * * * *",
        "0 30 9 * * 1-5",
        "0 30 9 * Jan Mon",
        "0 0 0 1 january,JULY sunday-Sat",
        "0  0\t*/2 * * *",
    ],
)
def test_the_schedule_accepts_what_the_functions_host_accepts(schedule: str) -> None:
    assert load_settings(MFA_SCHEDULE=schedule).schedule == schedule


@pytest.mark.parametrize(
    ("schedule", "problem"),
    [
        ("hourly", "expected an NCRONTAB expression of six fields (second minute hour day month day-of-week)"),
        ("", "expected an NCRONTAB expression of six fields"),
        ("5 * * * *", "the seconds field, which comes first, is missing"),
        ("0 5 * * * * *", "got '0 5 * * * * *'"),
        ("01:00:00", "'01:00:00' is a TimeSpan, which works only on an App Service plan"),
        ("0 5 24 * * *", "the hour field of '0 5 24 * * *' is invalid: 24 is outside 0-23"),
        ("0 5 * 0 * *", "the day field of '0 5 * 0 * *' is invalid: 0 is outside 1-31"),
        ("0 5 * * 1-13 *", "the month field of '0 5 * * 1-13 *' is invalid: 13 is outside 1-12"),
        ("0 5 * * * 7", "the day-of-week field of '0 5 * * * 7' is invalid: 7 is outside 0-6"),
        ("0 5 * * * Funday", "'Funday' is not a number 0-6 or a name such as Mon"),
        ("0 5 Mon * * *", "'Mon' is not a number 0-23"),
        ("0 */0 * * * *", "the step '0' after '/' is not a whole number of at least 1"),
        ("0 5 22-2 * * *", "the range '22-2' runs backwards"),
        ("0 5,,6 * * * *", "'' is not a number 0-59"),
        ("0 ? * * * *", "'?' is not a number 0-59"),
    ],
)
def test_a_schedule_the_functions_host_refuses_is_refused_naming_the_problem(schedule: str, problem: str) -> None:
    message = error_of(MFA_SCHEDULE=schedule)
    assert message.startswith("invalid settings: MFA_SCHEDULE: ")
    assert problem in message
