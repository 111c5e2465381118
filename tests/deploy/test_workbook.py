"""The operators' workbook (bicep/modules/workbook.bicep; no Bicep compiler here, so this reads the source): it
charts what the issue asks for, split per instance where the app's telemetry has one, and main.bicep deploys it
over the Application Insights resource. handlers/tests/api/alerts.rs checks that the handler sends every metric
name it charts."""
import re

from conftest import ROOT

BICEP = ROOT / "bicep"


def workbook():
    return (BICEP / "modules/workbook.bicep").read_text()


def test_the_workbook_charts_what_an_operator_watches():
    text = workbook()
    titles = re.findall(r"title: '([^']*)'", text)
    for wanted in ["Commands per second, by outcome", "Projection lag", "Outbox backlog", "Dead letters",
                   "Drift found by verify", "Push clients", "Server errors (5xx)"]:
        assert any(t.startswith(wanted) for t in titles), f"no chart {wanted!r} in {titles}"
    queries = re.findall(r"query: '([^']*)'", text)
    per_instance = [q for q in queries if "cloud_RoleInstance" in q]
    assert len(per_instance) >= 5, "lag, backlog, commands and 5xx are split per instance"
    for name in ["DeadLetteredCount", "Http5xx", "ConnectionCount"]:
        assert f"--{name}'" in text, f"platform metric {name}"


def test_main_deploys_the_workbook_on_application_insights():
    main = (BICEP / "main.bicep").read_text()
    module = re.search(r"module workbook 'modules/workbook\.bicep' = \{(.*?)\n\}", main, re.S).group(1)
    for wired in ["appInsightsId: monitoring.outputs.appInsightsId", "functionAppId: functionApp.outputs.id",
                  "topicId: eventGrid.outputs.id"]:
        assert wired in module, wired
    text = workbook()
    assert "'Microsoft.Insights/workbooks@2022-04-01'" in text
    assert "kind: 'shared'" in text and "sourceId: appInsightsId" in text
    assert "serializedData: string(workbookContent)" in text
    assert "version: 'Notebook/1.0'" in text
