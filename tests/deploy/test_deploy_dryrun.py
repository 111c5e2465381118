"""scripts/deploy.sh against recording stand-ins for `az` and `func`.

The stand-ins record every call (argv, working directory, and the content of any @parameters
file at the moment of the call) and answer like the real tools would for a successful run.
"""
import json
import os
import stat
import subprocess
from pathlib import Path

import pytest

from conftest import ROOT, SCRIPTS, build_package, require_tool

SECRET_KEY = "es-api-key-SECRET-7f3a9c=="
SECRET_URL = "https://elastic:pw-SECRET-b41d@es.example.com:9243"
APP = "pieshop-abc123"
OUTPUTS = [APP, "pieshop-events-abc123", "pieshopabc123", "eventgrid-deadletter",
           f"https://{APP}.azurewebsites.net/api/commands",
           f"https://{APP}.azurewebsites.net/api/inventory",
           f"https://{APP}.azurewebsites.net/api/dashboard",
           "https://pieshop-push-abc123.service.signalr.net"]

RECORDER = r'''#!/usr/bin/env python3
import json, os, sys
from pathlib import Path
args = sys.argv[1:]
entry = {"tool": os.path.basename(sys.argv[0]), "args": args, "cwd": os.getcwd(), "files": {}}
for a in args:
    if a.startswith("@") and os.path.isfile(a[1:]):
        entry["files"][a[1:]] = Path(a[1:]).read_text()
if entry["tool"] == "func":
    handler = Path("handler")
    entry["handler_mode"] = handler.stat().st_mode if handler.exists() else None
    entry["listing"] = sorted(str(p) for p in Path(".").rglob("*"))
    if Path("local.settings.json").exists():
        entry["local_settings"] = Path("local.settings.json").read_text()
    if Path(".funcignore").exists():
        entry["funcignore"] = Path(".funcignore").read_text()
with open(os.environ["FAKE_RECORD"], "a") as f:
    f.write(json.dumps(entry) + "\n")
line = " ".join(args)
if entry["tool"] == "az":
    if line.startswith("account show"):
        if os.environ.get("FAKE_AZ_LOGGED_OUT"):
            print("Please run 'az login' to setup account.", file=sys.stderr); sys.exit(1)
        print("Test Subscription\t00000000-0000-0000-0000-000000000000")
    elif line.startswith("group exists"):
        print(os.environ.get("FAKE_GROUP_EXISTS", "true"))
    elif line.startswith("deployment group create") and "main.bicep" in line:
        print(os.environ["FAKE_OUTPUTS"])
    elif line.startswith("functionapp function show"):
        print("projection")
'''


# A healthy Elasticsearch for deploy.sh's check, answering from the curl config file it is given (which must
# hold the URL and the key, so neither is an argument). It records into FAKE_ES_RECORD, not FAKE_RECORD: the
# az/func call lists the tests below assert stay as they were. FAKE_ES_VERSION and FAKE_ES_MISSING (a
# privilege the key lacks) make it fall short.
CURL = r'''#!/usr/bin/env python3
import json, os, sys
args = sys.argv[1:]
config = open(args[args.index("--config") + 1]).read()
out = args[args.index("-o") + 1]
settings = {}
for line in config.splitlines():
    key, _, value = line.partition(" = ")
    settings.setdefault(key, []).append(json.loads(value))
with open(os.environ["FAKE_ES_RECORD"], "a") as f:
    f.write(json.dumps({"args": args, "config": config}) + "\n")
url = settings["url"][0]
if url.endswith("/_security/user/_has_privileges"):
    asked = json.loads(settings["data"][0])
    missing = os.environ.get("FAKE_ES_MISSING", "")
    index = {i["names"][0]: {p: p != missing for p in i["privileges"]} for i in asked["index"]}
    cluster = {p: p != missing for p in asked["cluster"]}
    ok = all(cluster.values()) and all(all(v.values()) for v in index.values())
    body = {"has_all_requested": ok, "cluster": cluster, "index": index}
else:
    body = {"version": {"number": os.environ.get("FAKE_ES_VERSION", "9.1.10")}, "tagline": "You Know, for Search"}
json.dump(body, open(out, "w"))
sys.stdout.write("200")
'''


@pytest.fixture
def fakes(tmp_path, monkeypatch):
    require_tool("unzip")
    bin_dir = tmp_path / "fakebin"
    bin_dir.mkdir()
    for tool in ("az", "func"):
        p = bin_dir / tool
        p.write_text(RECORDER)
        p.chmod(0o755)
    (bin_dir / "curl").write_text(CURL)
    (bin_dir / "curl").chmod(0o755)
    record = tmp_path / "calls.jsonl"
    env = dict(os.environ)
    env.update({
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "FAKE_RECORD": str(record),
        "FAKE_ES_RECORD": str(tmp_path / "es-calls.jsonl"),
        "FAKE_OUTPUTS": "\t".join(OUTPUTS),
        "ELASTICSEARCH_URL": SECRET_URL,
        "ELASTICSEARCH_API_KEY": SECRET_KEY,
        "TMPDIR": str(tmp_path / "tmp"),
    })
    (tmp_path / "tmp").mkdir()
    env.pop("PIESHOP_RESOURCE_GROUP", None)

    def run(*args, **extra_env):
        record.write_text("")
        result = subprocess.run([str(SCRIPTS / "deploy.sh"), *args], env={**env, **extra_env},
                                capture_output=True, text=True, cwd=ROOT, timeout=120)
        calls = [json.loads(line) for line in record.read_text().splitlines()]
        return result, calls

    run.tmp = tmp_path / "tmp"
    return run


def kind(call):
    """The command path (arguments before the first option), plus the template's file name."""
    words = []
    for a in call["args"]:
        if a.startswith("-"):
            break
        words.append(a)
    label = " ".join([call["tool"], *words])
    for a in call["args"]:
        if a.endswith(".bicep"):
            label += " " + Path(a).name
    return label


def assert_no_secret(result, calls):
    for secret in (SECRET_KEY, SECRET_URL, "pw-SECRET-b41d"):
        assert secret not in result.stdout and secret not in result.stderr, "secret in the log"
        for c in calls:
            assert not any(secret in a for a in c["args"]), f"secret in the arguments of {kind(c)}"


def arg_after(call, flag):
    """Every value given to a flag (az accepts several values after one --parameters)."""
    values, taking = [], False
    for a in call["args"]:
        if a.startswith("--"):
            taking = a == flag
        elif taking:
            values.append(a)
    return values


@pytest.fixture
def package(tmp_path, fake_binary):
    return build_package(tmp_path, fake_binary)


def test_full_run_order_and_arguments(fakes, package):
    result, calls = fakes("--resource-group", "rg-test", "--package", str(package))
    assert result.returncode == 0, result.stderr
    assert [kind(c) for c in calls] == [
        "az account show",
        "az group create",
        "az deployment group create main.bicep",
        f"func azure functionapp publish {APP}",
        "az functionapp function show",
        "az deployment group create subscription.bicep",
    ]
    _, group, infra, publish, _, sub = calls
    assert arg_after(group, "--name") == ["rg-test"]
    assert arg_after(infra, "--resource-group") == ["rg-test"]

    # The secrets reached the deployment through a parameters file, not an argument.
    param_files = [p[1:] for p in arg_after(infra, "--parameters") if p.startswith("@")]
    assert str(ROOT / "bicep" / "main.parameters.json") in param_files
    secret_files = [f for f in param_files if "secret" in Path(f).name]
    assert len(secret_files) == 1
    params = json.loads(infra["files"][secret_files[0]])["parameters"]
    assert params["elasticsearchApiKey"]["value"] == SECRET_KEY
    assert params["elasticsearchUrl"]["value"] == SECRET_URL
    assert not Path(secret_files[0]).exists(), "the secrets file must be deleted after the run"
    assert list(fakes.tmp.iterdir()) == [], "deploy.sh left temporary files behind"

    # func publishes the unpacked zip: handler executable, runtime custom, settings not uploaded.
    assert publish["args"] == ["azure", "functionapp", "publish", APP]
    assert publish["handler_mode"] & 0o111 == 0o111
    assert {"host.json", "handler", "projection/function.json"} <= set(publish["listing"])
    assert json.loads(publish["local_settings"])["Values"]["FUNCTIONS_WORKER_RUNTIME"] == "custom"
    assert "local.settings.json" in publish["funcignore"].split()

    # The subscription names the resources the infrastructure deployment reported.
    sub_params = arg_after(sub, "--parameters")
    assert sub_params == [f"topicName={OUTPUTS[1]}", f"functionAppName={APP}",
                          f"storageAccountName={OUTPUTS[2]}",
                          f"deadLetterContainerName={OUTPUTS[3]}"]
    assert arg_after(sub, "--resource-group") == ["rg-test"]
    assert OUTPUTS[4] in result.stdout and OUTPUTS[6] in result.stdout
    assert f"live push: {OUTPUTS[7]}" in result.stdout
    assert_no_secret(result, calls)


def test_rerun_makes_the_same_calls(fakes, package):
    first, calls1 = fakes("--resource-group", "rg-test", "--package", str(package))
    second, calls2 = fakes("--resource-group", "rg-test", "--package", str(package))
    assert first.returncode == second.returncode == 0
    strip = lambda calls: [[a for a in c["args"] if "/tmp" not in a and "secret" not in a]
                           for c in calls]
    assert strip(calls1) == strip(calls2)
    assert_no_secret(second, calls2)


def test_binary_option_packages_without_building(fakes, fake_binary):
    result, calls = fakes("--resource-group", "rg-test", "--binary", str(fake_binary))
    assert result.returncode == 0, result.stderr
    assert "package.sh" in result.stderr and "build.sh" not in result.stderr
    publish = next(c for c in calls if c["tool"] == "func")
    assert publish["handler_mode"] & 0o111 == 0o111


def test_what_if_changes_nothing(fakes):
    result, calls = fakes("--resource-group", "rg-test", "--what-if")
    assert result.returncode == 0, result.stderr
    assert [kind(c) for c in calls] == [
        "az account show", "az group exists", "az deployment group what-if main.bicep"]
    assert_no_secret(result, calls)


def test_what_if_on_a_new_group_calls_nothing_that_writes(fakes):
    result, calls = fakes("--resource-group", "rg-new", "--what-if", FAKE_GROUP_EXISTS="false")
    assert result.returncode == 0, result.stderr
    assert [kind(c) for c in calls] == ["az account show", "az group exists"]
    assert "would create" in result.stdout


def test_logged_out_stops_before_any_change(fakes, package):
    result, calls = fakes("--resource-group", "rg-test", "--package", str(package),
                          FAKE_AZ_LOGGED_OUT="1")
    assert result.returncode != 0
    assert "az login" in result.stderr
    assert [kind(c) for c in calls] == ["az account show"]


def test_resource_group_is_required(fakes, package):
    result, calls = fakes("--package", str(package))
    assert result.returncode != 0 and "--resource-group" in result.stderr
    assert calls == []


def es_calls(fakes):
    path = fakes.tmp.parent / "es-calls.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_the_cluster_is_checked_before_anything_is_deployed_without_a_secret_in_any_argument(fakes, package):
    result, calls = fakes("--resource-group", "rg-test", "--package", str(package), FAKE_ES_VERSION="8.19.0")
    assert result.returncode == 0, result.stderr
    assert "Elasticsearch 8.19.0 at es.example.com: supported" in result.stdout
    checks = es_calls(fakes)
    assert [json.loads(c["config"].splitlines()[0].split(" = ")[1]).rsplit("/", 1)[-1] for c in checks] == \
        ["", "_has_privileges"]
    for check in checks:
        assert SECRET_KEY in check["config"], "the key reaches curl through its config file"
        assert not any(s in a for a in check["args"] for s in (SECRET_KEY, "pw-SECRET-b41d")), check["args"]
    assert_no_secret(result, calls)


def test_an_unsupported_major_stops_before_any_change(fakes, package):
    result, calls = fakes("--resource-group", "rg-test", "--package", str(package), FAKE_ES_VERSION="7.17.25")
    assert result.returncode != 0
    assert "Elasticsearch 7.17.25 at es.example.com is not supported" in result.stderr
    assert "8 9" in result.stderr
    assert [kind(c) for c in calls] == ["az account show"], "nothing deployed"
    assert_no_secret(result, calls)


def test_a_key_without_the_read_models_privileges_stops_before_any_change(fakes, package):
    result, calls = fakes("--resource-group", "rg-test", "--package", str(package), FAKE_ES_MISSING="delete_index")
    assert result.returncode != 0
    assert "lacks what the read model needs" in result.stderr and "delete_index on pieshop-*" in result.stderr
    assert [kind(c) for c in calls] == ["az account show"], "nothing deployed"
    assert_no_secret(result, calls)
