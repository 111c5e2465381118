"""Offline checks: shellcheck on every script, checkov on bicep/, and the bicep facts the
Rust adapters depend on (no Bicep compiler here, so these read the source)."""
import json
import re
import subprocess

from conftest import ROOT, SCRIPTS, require_tool

BICEP = ROOT / "bicep"


def shell_scripts():
    scripts = sorted(SCRIPTS.glob("*.sh")) + sorted(SCRIPTS.glob("lib/*.sh"))
    ci = ROOT / ".ci"
    if ci.is_dir():
        shebangs = ("#!/usr/bin/env bash", "#!/usr/bin/env sh", "#!/bin/bash", "#!/bin/sh")
        scripts += [p for p in sorted(ci.iterdir()) if p.is_file() and (
            p.suffix == ".sh" or p.read_text(errors="ignore").startswith(shebangs))]
    return scripts


def test_shellcheck_passes():
    shellcheck = require_tool("shellcheck")
    scripts = shell_scripts()
    assert any(p.name == "deploy.sh" for p in scripts)
    result = subprocess.run([shellcheck, *map(str, scripts)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_every_script_has_help_and_strict_mode():
    mine = ["build.sh", "package.sh", "deploy.sh", "add-scanner.sh", "smoke.sh", "test-deploy.sh"]
    for name in mine:
        path = SCRIPTS / name
        text = path.read_text()
        assert "set -euo pipefail" in text, name
        result = subprocess.run([str(path), "--help"], capture_output=True, text=True, timeout=30)
        assert result.returncode == 0 and result.stdout.startswith("Usage:"), name


def test_checkov_passes_with_every_skip_explained():
    checkov = require_tool("checkov")
    result = subprocess.run(
        [checkov, "-d", str(BICEP), "--framework", "bicep", "--skip-download", "--compact",
         "--output", "json"], capture_output=True, text=True, timeout=600)
    report = json.loads(result.stdout)
    report = report[0] if isinstance(report, list) else report
    summary = report["summary"]
    # A file checkov cannot parse is silently not checked: treat it as a failure.
    assert summary["parsing_errors"] == 0, report["results"].get("parsing_errors")
    failed = [(c["check_id"], c["resource"], c["file_path"]) for c in report["results"]["failed_checks"]]
    assert failed == [] and summary["failed"] == 0
    assert summary["passed"] > 0
    for c in report["results"]["skipped_checks"]:
        reason = (c.get("check_result") or {}).get("suppress_comment", "")
        assert len(reason.strip()) >= 20, f"{c['check_id']} on {c['resource']} skipped without a reason"
    assert result.returncode == 0


def bicep_text():
    return {p.relative_to(BICEP).as_posix(): p.read_text() for p in BICEP.rglob("*.bicep")}


def test_cosmos_container_matches_the_adapter():
    cosmos = bicep_text()["modules/cosmos.bicep"]
    assert re.search(r"partitionKey:\s*\{\s*paths:\s*\[\s*'/pk'\s*\]", cosmos)
    included = re.search(r"includedPaths:\s*\[(.*?)\]", cosmos, re.S).group(1)
    assert sorted(re.findall(r"path:\s*'([^']+)'", included)) == \
        ["/kind/?", "/mark/?", "/recordedAt/?", "/unpublished/?"]
    assert "defaultTtl: -1" in cosmos, "markers and claims expire by their own ttl"
    excluded = re.search(r"excludedPaths:\s*\[(.*?)\]", cosmos, re.S).group(1)
    assert re.findall(r"path:\s*'([^']+)'", excluded) == ["/*"]
    assert "disableLocalAuth: true" in cosmos
    assert "EnableServerless" in cosmos
    main = bicep_text()["main.bicep"]
    assert "param cosmosServerless bool = true" in main
    assert "var cosmosContainer = 'inventory'" in main and "var cosmosDatabase = 'pieshop'" in main


def test_app_settings_cover_what_the_handler_reads():
    main = bicep_text()["main.bicep"]
    for name in ["AZURE_CLIENT_ID", "RUST_LOG", "COSMOS_ENDPOINT", "COSMOS_DATABASE",
                 "COSMOS_CONTAINER", "EVENTGRID_TOPIC_ENDPOINT", "EVENTGRID_SCHEMA",
                 "ELASTICSEARCH_URL", "ELASTICSEARCH_API_KEY", "ELASTICSEARCH_INDEX_PREFIX",
                 "REDIS_URL", "REDIS_USERNAME", "AZURE_SIGNALR_ENDPOINT"]:
        assert re.search(rf"^\s*{name}:", main, re.M), name
    # Keys are for emulators only; in Azure every service is reached with the identity.
    for name in ["COSMOS_KEY", "EVENTGRID_TOPIC_KEY", "PIESHOP_API_KEYS"]:
        assert name not in main
    # The secret settings are Key Vault references, not values.
    assert re.search(r"ELASTICSEARCH_API_KEY:\s*'\$\{kvRefPrefix\}", main)
    assert re.search(r"ELASTICSEARCH_URL:\s*'\$\{kvRefPrefix\}", main)
    app = bicep_text()["modules/functionapp.bicep"]
    assert "runtime: { name: 'custom', version: '1.0' }" in app
    assert "AzureWebJobsStorage__credential: 'managedidentity'" in app
    assert "FUNCTIONS_WORKER_RUNTIME" not in app.split("var hostSettings")[1].split("}")[0]


def test_no_secret_in_parameters_or_outputs():
    params = json.loads((BICEP / "main.parameters.json").read_text())["parameters"]
    for name in params:
        assert not re.search(r"key|secret|password|url", name, re.I), f"{name} in the parameters file"
    for path, text in bicep_text().items():
        for name, value in re.findall(r"^output\s+(\w+)\s+\w+\s*=\s*(.*)$", text, re.M):
            assert not re.search(r"apikey|secret|password|accesskey|primarykey", name, re.I), \
                f"{path}: output {name}"
            # No output may carry a secure parameter's value or a listed key.
            assert not re.search(r"listKeys|elasticsearchApiKey|elasticsearchUrl|primaryKey",
                                 value), f"{path}: output {name} = {value}"
        # @secure() params must have an empty default (no literal secret in source).
        for m in re.finditer(r"@secure\(\)\s*param\s+(\w+)\s+string(\s*=\s*'([^']*)')?", text):
            assert not m.group(3), f"{path}: secure param {m.group(1)} has a default"
        assert "listKeys()" not in text or path == "modules/redis.bicep", path


def test_event_subscription_targets_the_projection_function():
    sub = bicep_text()["subscription.bicep"]
    assert "endpointType: 'AzureFunction'" in sub
    assert "/functions/projection" in sub
    assert "eventDeliverySchema: 'CloudEventSchemaV1_0'" in sub
    assert "retryPolicy" in sub and "deadLetterWithResourceIdentity" in sub
    eg = bicep_text()["modules/eventgrid.bicep"]
    assert "inputSchema: 'CloudEventSchemaV1_0'" in eg and "disableLocalAuth: true" in eg


def test_signalr_is_serverless_keyless_and_the_app_may_only_use_its_rest_api():
    """Live push (push-deadletter-auth.md A2c): Serverless mode, local auth off, CORS for the app only, and the
    identity holds SignalR REST API Owner (:generateToken and :send), nothing wider."""
    signalr = bicep_text()["modules/signalr.bicep"]
    assert "{ flag: 'ServiceMode', value: 'Serverless' }" in signalr
    assert "disableLocalAuth: true" in signalr
    assert "cors: { allowedOrigins: [ appOrigin ] }" in signalr
    assert "signalrRestApiOwner: 'fd53cd77-2268-407a-8f46-7e7863d0f521'" in signalr
    assert re.findall(r"roleDefinitions', roleIds\.(\w+)\)", signalr) == ["signalrRestApiOwner"]
    main = bicep_text()["main.bicep"]
    assert "appOrigin: 'https://${functionApp.outputs.defaultHostName}'" in main
    assert "AZURE_SIGNALR_ENDPOINT: 'https://${signalrName}.service.signalr.net'" in main
