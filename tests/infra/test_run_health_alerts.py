"""infra/main.bicep's alerts on the function itself: a log search alert rule for "no run finished in
2 hours", one for "the last 3 runs failed", and the action group they notify (runHealthAlerts).

The rules' KQL is type-checked against Application Insights' ``traces`` table (Microsoft's Kusto
language service) and *run* (duckdb-kql) over run records shaped as shared/runner.py logs them, with
the rules' own condition (row count against threshold) applied to the result."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb_kql
import pytest

from shared.run_report import RunReport
from tests.harness.kusto_check import KustoChecker, KustoCheckerError
from tests.infra.bicep_tree import Template, render
from tests.infra.test_deploy_doc import APP_INSIGHTS_SCHEMAS, doc_text

RULES = ("runSilenceAlert", "runFailureAlert")
PARAMETERS = ("runHealthAlerts", "runHealthAlertEmails", "runHealthWebhookUrl", "runHealthAlertSeverity")
ISO_DURATION = {"PT15M": timedelta(minutes=15), "PT1H": timedelta(hours=1), "PT2H": timedelta(hours=2)}
ISO_DURATION |= {"PT6H": timedelta(hours=6)}


def expand(template: Template, text: str) -> str:
    """A Bicep string literal as Azure receives it: ``${variable}`` replaced, escapes resolved."""
    text = re.sub(r"\$\{(\w+)\}", lambda match: str(expand_node(template, match.group(1))), text)
    return text.replace("\\n", "\n").replace("\\'", "'")


def expand_node(template: Template, node: Any) -> Any:
    """A variable's value (expanded), a parameter's default, or the literal itself."""
    if isinstance(node, str) and node in template.variables:
        node = template.variable(node)
    elif isinstance(node, str) and node in template.parameters:
        node = template.resolve(node)
    return expand(template, node) if isinstance(node, str) else node


def condition(template: Template, symbol: str) -> dict[str, Any]:
    [criterion] = template.resource(symbol)["properties"]["criteria"]["allOf"]
    return criterion


def query(template: Template, symbol: str) -> str:
    return expand_node(template, condition(template, symbol)["query"])


def fires(template: Template, symbol: str, rows: list[tuple[datetime, str]], now: datetime) -> bool:
    """The rule's verdict on ``rows``: its query over the window (as Azure Monitor limits the query
    time range to windowSize), then the row count against the rule's operator and threshold."""
    properties = template.resource(symbol)["properties"]
    window = ISO_DURATION[template.resolve(properties["windowSize"])]
    connection = duckdb_kql.connect()
    connection.execute("create table traces(timestamp timestamp, message varchar)")  # UTC, naive
    for at, message in rows:
        if now - window <= at <= now:
            connection.execute("insert into traces values (?, ?)", [at.replace(tzinfo=None), message])
    count = len(duckdb_kql.query(connection, query(template, symbol)).fetchall())
    criterion = condition(template, symbol)
    assert criterion["timeAggregation"] == "Count"  # the number of rows the query returns
    compare = {"LessThan": int.__lt__, "GreaterThan": int.__gt__}[criterion["operator"]]
    return compare(count, criterion["threshold"])


def run_record(*, error: str | None = None) -> str:
    """The message of one "run finished" record, as shared/runner.py logs it."""
    report = RunReport()
    if error is not None:
        report.fail(error)
    dimensions = report.dimensions()
    return "run finished " + " ".join(f"{k}={v}" for k, v in dimensions.items() if v not in ("", None))


NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def hourly(outcomes: list[str | None], *, last: timedelta = timedelta(minutes=55)) -> Iterator[tuple[datetime, str]]:
    """Hourly run records, oldest first; the newest one ``last`` before NOW. None: a successful run."""
    for age, error in enumerate(reversed(outcomes)):
        yield NOW - last - timedelta(hours=age), run_record(error=error)


# --- the switch, the parameters ------------------------------------------------------------------


def test_every_parameter_has_a_description(main_template: Template) -> None:
    for name in main_template.parameters:
        description = main_template.decorators(name).get("description", "")
        assert len(description) >= 20, f"parameter {name} needs a @description"


def test_run_health_parameters_and_defaults(main_template: Template) -> None:
    assert set(PARAMETERS) <= set(main_template.parameters)
    assert main_template.resolve("runHealthAlerts") is True
    assert main_template.resolve("runHealthAlertEmails") == []
    assert main_template.resolve("runHealthWebhookUrl") == ""
    assert main_template.decorators("runHealthWebhookUrl").get("secure") is True
    assert main_template.resolve("runHealthAlertSeverity") == 1
    assert main_template.decorators("runHealthAlertSeverity")["allowed"] == [0, 1, 2, 3, 4]


def test_everything_is_switched_by_run_health_alerts(main_template: Template) -> None:
    for symbol in RULES:
        assert main_template.condition(symbol) == "runHealthAlerts", symbol
    assert main_template.condition("runHealthActionGroup") == "and(runHealthAlerts, runHealthHasReceivers)"
    assert render(main_template.variable("runHealthHasReceivers")) == (
        "!and(empty(runHealthAlertEmails), empty(runHealthWebhookUrl))"
    )
    monitoring = {"Microsoft.Insights/scheduledQueryRules", "Microsoft.Insights/actionGroups"}
    symbols = {symbol for symbol, body in main_template.resources.items() if body["type"] in monitoring}
    assert symbols == {*RULES, "runHealthActionGroup"}


# --- the rules -------------------------------------------------------------------------------------


@pytest.mark.parametrize("symbol", RULES)
def test_rules_are_stable_api_log_alerts_on_the_functions_application_insights(
    main_template: Template, symbol: str
) -> None:
    resource = main_template.resources[symbol]
    # The newest stable (non-preview) api-version of the type in azure-rest-api-specs.
    assert resource["type"] == "Microsoft.Insights/scheduledQueryRules"
    assert resource["api_version"] == "2023-12-01"
    body = main_template.resource(symbol)
    assert body["kind"] == "LogAlert"
    properties = body["properties"]
    assert [render(scope) for scope in properties["scopes"]] == ["appInsights.id"]
    assert properties["enabled"] is True
    assert properties["severity"] == "runHealthAlertSeverity"
    # Stateful: one notification when it fires, one when it resolves.
    assert properties["autoMitigate"] is True
    assert "muteActionsDuration" not in properties  # not allowed together with autoMitigate
    assert "identity" not in body  # the rule queries its own scope; no cross-resource query
    assert main_template.resolve(properties["evaluationFrequency"]) == "PT15M"
    assert properties["actions"]["actionGroups"] == "runHealthActionGroups"
    assert len(expand(main_template, properties["description"])) > 40


def test_queries_read_the_run_records_in_traces(main_template: Template) -> None:
    records = expand_node(main_template, "runRecordsQuery")
    assert records == 'traces\n| where message startswith "run finished "'
    for symbol in RULES:
        assert query(main_template, symbol).startswith(records + "\n"), symbol


def test_alert_queries_type_check(main_template: Template, kusto_checker: KustoChecker) -> None:
    queries = [query(main_template, symbol) for symbol in RULES]
    try:
        results = kusto_checker.check(queries, schemas=APP_INSIGHTS_SCHEMAS)
    except KustoCheckerError as error:
        pytest.fail(f"the KQL check needs node and node_modules: {error}", pytrace=False)
    for result in results:
        assert result.diagnostics == [], "\n".join(result.messages)


def test_silence_rule_fires_when_no_run_finished_in_two_hours(main_template: Template) -> None:
    properties = main_template.resource("runSilenceAlert")["properties"]
    assert main_template.resolve(properties["windowSize"]) == "PT2H"
    criterion = condition(main_template, "runSilenceAlert")
    assert (criterion["operator"], criterion["threshold"]) == ("LessThan", 1)
    healthy = list(hourly([None, None, None]))
    assert not fires(main_template, "runSilenceAlert", healthy, NOW)
    # Failed runs are still runs: that is the other rule's business.
    assert not fires(main_template, "runSilenceAlert", list(hourly(["boom"])), NOW)
    # The last run finished 2 h 5 min ago: nothing in the window.
    assert fires(main_template, "runSilenceAlert", list(hourly([None, None], last=timedelta(minutes=125))), NOW)
    assert fires(main_template, "runSilenceAlert", [], NOW)
    # Other traces do not count as runs.
    others = [(NOW - timedelta(minutes=10), "timer is past due; missed windows are caught up from the checkpoint")]
    assert fires(main_template, "runSilenceAlert", others, NOW)


def test_failure_rule_fires_when_the_last_three_runs_failed(main_template: Template) -> None:
    properties = main_template.resource("runFailureAlert")["properties"]
    window = ISO_DURATION[main_template.resolve(properties["windowSize"])]
    assert window >= timedelta(hours=3), "the window must hold 3 hourly runs"
    criterion = condition(main_template, "runFailureAlert")
    assert (criterion["operator"], criterion["threshold"]) == ("GreaterThan", 0)
    assert main_template.resolve("runFailureCount") == 3
    text = query(main_template, "runFailureAlert")
    assert "| top 3 by timestamp desc" in text
    assert 'countif(message contains " error=")' in text

    def verdict(outcomes: list[str | None]) -> bool:
        return fires(main_template, "runFailureAlert", list(hourly(outcomes)), NOW)

    assert verdict(["a", "b", "c"])
    assert verdict([None, "a", "b", "c"])  # the three newest failed
    assert not verdict(["a", "b", None])  # the newest succeeded: resolved
    assert not verdict(["a", None, "b", "c"])  # 2 in a row
    assert not verdict(["a", "b"])  # only 2 runs (fewer runs: the silence rule)
    assert not verdict([None, None, None])
    # A field that merely contains "error" does not count as a failure.
    fine = run_record().replace("run finished ", "run finished delivery_error=0 ", 1)
    rows = [(NOW - timedelta(minutes=5 + 60 * age), fine) for age in range(3)]
    assert not fires(main_template, "runFailureAlert", rows, NOW)


def test_run_record_shape_matches_what_the_queries_expect() -> None:
    # The queries rely on these two facts of shared/runner.py's record.
    assert run_record().startswith("run finished ")
    assert " error=" not in run_record()
    assert " error=boom" in run_record(error="boom")


# --- the action group ------------------------------------------------------------------------------


def test_action_group_receivers_are_the_parameters(main_template: Template) -> None:
    resource = main_template.resources["runHealthActionGroup"]
    assert resource["type"] == "Microsoft.Insights/actionGroups"
    assert resource["api_version"] == "2023-01-01"  # the newest stable api-version
    body = main_template.resource("runHealthActionGroup")
    assert body["location"] == "Global"
    properties = body["properties"]
    assert len(properties["groupShortName"]) <= 12
    assert properties["enabled"] is True
    emails = properties["emailReceivers"]
    assert emails["loop_type"]["detail"] == {
        "item_name": "address",
        "index_name": "index",
        "array_name": "runHealthAlertEmails",
    }
    assert emails["config"] == {"name": "email-${index}", "emailAddress": "address", "useCommonAlertSchema": True}
    assert properties["webhookReceivers"] == "runHealthWebhookReceivers"
    assert render(main_template.variable("runHealthWebhookReceivers")) == (
        "empty(runHealthWebhookUrl) ? [] : [runHealthWebhookReceiver]"
    )
    assert main_template.variable("runHealthWebhookReceiver") == {
        "name": "webhook",
        "serviceUri": "runHealthWebhookUrl",
        "useCommonAlertSchema": True,
    }


def test_rules_notify_the_action_group_only_when_it_exists(main_template: Template) -> None:
    assert render(main_template.variable("runHealthActionGroups")) == (
        "runHealthHasReceivers ? [runHealthActionGroup.id] : []"
    )


def test_webhook_url_reaches_nothing_but_the_action_group(main_template: Template) -> None:
    text = main_template.path.read_text(encoding="utf-8")
    uses = [line.strip() for line in text.splitlines() if re.search(r"\brunHealthWebhookUrl\b", line)]
    assert all(not line.startswith("output") for line in uses)
    assigned = [line for line in uses if ":" in line and not line.startswith(("@", "//", "param", "var"))]
    assert assigned == ["serviceUri: runHealthWebhookUrl"]


# --- the guide ---------------------------------------------------------------------------------------


def test_guide_documents_the_run_health_alerts(main_template: Template) -> None:
    text = doc_text()
    match = re.search(r"^## Alerts when the detection itself goes quiet\n(.*?)(?=^## )", text, re.DOTALL | re.MULTILINE)
    assert match, "docs/deploy.md has no section 'Alerts when the detection itself goes quiet'"
    section = match.group(1)
    for parameter in PARAMETERS:
        assert f"`{parameter}`" in section, parameter
    for symbol in RULES:
        name = main_template.resource(symbol)["name"].replace("${baseName}", "<baseName>")
        assert f"`{name}`" in section, name
    assert expand_node(main_template, "runRecordsQuery").splitlines()[1].strip() in section
