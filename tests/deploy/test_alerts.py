"""The alerts of bicep/modules/alerts.bicep (no Bicep compiler here, so these read the source): each of the four the
runbook explains exists, watches the right signal (the app's OpenTelemetry metric names in Application Insights'
customMetrics, or the platform metric), and notifies the action group that main.bicep passes in."""
import re

from conftest import ROOT

BICEP = ROOT / "bicep"
# The metric names the handler exports through OpenTelemetry (issue 15; the drift gauge's alert: issue 24).
# handlers/tests/api/alerts.rs checks the running handler sends each of them.
APP_METRICS = {"pieshop.projection.lag", "pieshop.outbox.backlog", "pieshop.outbox.oldest_age",
               "pieshop.events.malformed", "pieshop.verify.drift"}


def resources(text):
    """Every top-level `resource <name> '<type>@<version>' = ... { ... }` as name -> (type, body)."""
    found = {}
    for m in re.finditer(r"^resource (\w+) '([^'@]+)@[^']+' = (?:if \(.+?\) )?\{", text, re.M):
        depth, i = 1, m.end()
        while depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        found[m.group(1)] = (m.group(2), text[m.end():i])
    return found


def alerts():
    return resources((BICEP / "modules/alerts.bicep").read_text())


def test_every_alert_the_runbook_explains_exists_with_the_action_group_wired():
    found = alerts()
    assert set(found) == {"projectionLag", "outboxBacklog", "malformedEvents", "verifyDrift", "deadLetters",
                          "serverErrors"}
    for name, (kind, body) in found.items():
        assert kind in {"Microsoft.Insights/scheduledQueryRules", "Microsoft.Insights/metricAlerts"}, name
        assert "enabled: true" in body, name
        if kind == "Microsoft.Insights/metricAlerts":
            assert "actions: [{ actionGroupId: actionGroupId }]" in body, name
        else:
            assert "actions: actions" in body, name
        anchor = re.search(r"docs/RUNBOOK\.md#([\w-]+)", body).group(1)
        runbook = (ROOT / "docs/RUNBOOK.md").read_text().lower()
        assert f"## {anchor.replace('-', ' ')}" in runbook, f"{name}: the runbook has no section #{anchor}"
    module = (BICEP / "modules/alerts.bicep").read_text()
    assert "var actions = { actionGroups: [actionGroupId] }" in module
    assert re.search(r"^param actionGroupId string$", module, re.M)


def test_log_alerts_query_the_apps_own_metrics_and_metric_alerts_the_platforms():
    found = alerts()
    queried = set()
    for name in ["projectionLag", "outboxBacklog", "malformedEvents", "verifyDrift"]:
        kind, body = found[name]
        assert kind == "Microsoft.Insights/scheduledQueryRules", name
        assert "scopes: [appInsightsId]" in body
        query = re.search(r"query: '([^']*)'", body).group(1)
        assert query.startswith("customMetrics"), name
        queried |= set(re.findall(r'"(pieshop\.[a-z_.]+)"', query))
    assert queried == APP_METRICS
    kind, body = found["deadLetters"]
    assert "scopes: [topicId]" in body
    assert "metricNamespace: 'Microsoft.EventGrid/topics'" in body and "metricName: 'DeadLetteredCount'" in body
    assert re.search(r"operator: 'GreaterThan'\s+threshold: 0\b", body), "any dead letter alerts"
    kind, body = found["serverErrors"]
    assert "scopes: [functionAppId]" in body
    assert "metricNamespace: 'Microsoft.Web/sites'" in body and "metricName: 'Http5xx'" in body


def test_main_passes_an_action_group_parameter_or_creates_one():
    main = (BICEP / "main.bicep").read_text()
    assert re.search(r"^param alertActionGroupId string = ''$", main, re.M)
    module = re.search(r"module alerts 'modules/alerts\.bicep' = \{(.*?)\n\}", main, re.S).group(1)
    assert "actionGroupId: empty(alertActionGroupId) ? actionGroup.id : alertActionGroupId" in module
    for wired in ["appInsightsId: monitoring.outputs.appInsightsId", "functionAppId: functionApp.outputs.id",
                  "topicId: eventGrid.outputs.id"]:
        assert wired in module, wired
    kind, body = resources(main)["actionGroup"]
    assert kind == "Microsoft.Insights/actionGroups"
    assert "output id string = topic.id" in (BICEP / "modules/eventgrid.bicep").read_text()
