"""The zip scripts/package.sh builds is what the Functions host expects (protocol §1, §7, §9)."""
import json
import re
import stat

from conftest import FUNCTIONS, ROOT


def test_zip_root_is_the_app_root(package_zip):
    names = set(package_zip.namelist()) - {n for n in package_zip.namelist() if n.endswith("/")}
    expected = {"host.json", "handler"} | {f"{fn}/function.json" for fn in FUNCTIONS}
    assert names == expected
    assert not any("local.settings" in n for n in package_zip.namelist())


def test_handler_is_executable_unix_entry(package_zip):
    info = package_zip.getinfo("handler")
    assert info.create_system == 3, "written as a Unix entry so the host honours the mode bits"
    mode = info.external_attr >> 16
    assert stat.S_ISREG(mode)
    assert mode & 0o111 == 0o111, f"handler mode {oct(mode)} lacks execute bits"
    assert mode & 0o022 == 0, f"handler mode {oct(mode)} is group/world writable"


def test_host_json(package_zip):
    host = json.loads(package_zip.read("host.json"))
    assert host["version"] == "2.0"
    ch = host["customHandler"]
    assert ch["description"]["defaultExecutablePath"] == "handler"
    assert ch["enableForwardingHttpRequest"] is True
    # Current hosts proxy (streaming) and prefer it; a host without the setting ignores it and forwards
    # (docs/protocol/functions-custom-handler.md §3); funchost models both.
    assert ch["enableProxyingHttpRequest"] is True
    assert host["extensionBundle"] == {
        "id": "Microsoft.Azure.Functions.ExtensionBundle", "version": "[4.*, 5.0.0)"}
    # Longer than the 230 s HTTP front-end limit and the relay's period; a timeout restarts
    # the single handler process, so it must not be short.
    h, m, s = (int(x) for x in host["functionTimeout"].split(":"))
    assert 230 < h * 3600 + m * 60 + s <= 600
    assert host["logging"]["logLevel"]["default"] in ("Information", "Debug", "Trace"), \
        "handler stdout is logged at Information; a higher default would drop it"


def bindings(zf, fn):
    return json.loads(zf.read(f"{fn}/function.json"))["bindings"]


def test_command_binding(package_zip):
    (trigger, out) = bindings(package_zip, "command")
    assert trigger["type"] == "httpTrigger" and trigger["direction"] == "in"
    assert trigger["authLevel"] == "function"
    assert [m.lower() for m in trigger["methods"]] == ["post"]
    assert out == {"type": "http", "direction": "out", "name": "res"}


def test_negotiate_binding(package_zip):
    """The SignalR client POSTs <hub URL>/negotiate, the hub URL being <origin>/api (push-deadletter-auth.md A2a)."""
    (trigger, out) = bindings(package_zip, "negotiate")
    assert trigger["type"] == "httpTrigger" and trigger["direction"] == "in"
    assert trigger["authLevel"] == "function"
    assert [m.lower() for m in trigger["methods"]] == ["post"]
    assert trigger["route"] == "negotiate"
    assert out == {"type": "http", "direction": "out", "name": "res"}


def test_query_binding(package_zip):
    (trigger, out) = bindings(package_zip, "query")
    assert trigger["type"] == "httpTrigger" and trigger["direction"] == "in"
    assert trigger["authLevel"] == "function"
    assert [m.lower() for m in trigger["methods"]] == ["get"]
    assert out == {"type": "http", "direction": "out", "name": "res"}


def test_projection_binding(package_zip):
    # cardinality many: the host hands a whole Event Grid batch to one invocation (docs/protocol/eventgrid-batches.md).
    assert bindings(package_zip, "projection") == [
        {"type": "eventGridTrigger", "direction": "in", "name": "eventGridEvent", "cardinality": "many"}]


def test_relay_binding(package_zip):
    (timer,) = bindings(package_zip, "relay")
    assert timer["type"] == "timerTrigger" and timer["name"] == "relayTimer"
    # NCRONTAB with seconds: second 0 of every minute.
    assert timer["schedule"].split() == ["0", "*/1", "*", "*", "*", "*"]
    assert timer["runOnStartup"] is False


def test_verify_binding(package_zip):
    (timer,) = bindings(package_zip, "verify")
    assert timer["type"] == "timerTrigger" and timer["name"] == "verifyTimer"
    # Daily at 03:30 UTC: reconciliation while shops are shut.
    assert timer["schedule"].split() == ["0", "30", "3", "*", "*", "*"]
    assert timer["runOnStartup"] is False

# --- routes -------------------------------------------------------------------------------
# A small matcher for the subset of ASP.NET Core route templates used here: literal
# segments, {name}, {name:regex(...)} and a final catch-all {*name}, which may match nothing
# (ASP.NET Core: "catch-all parameters can also match the empty string"). Route matching is
# case-insensitive and regex constraints are evaluated case-insensitively.

def route_matches(template: str, path: str) -> bool:
    segments = [s for s in template.split("/") if s]
    parts = [p for p in path.split("/") if p]
    for i, seg in enumerate(segments):
        m = re.fullmatch(r"\{(\*?)(\w+)(?::regex\((.*)\))?\}", seg)
        if m and m.group(1):  # catch-all: must be last, takes the rest (possibly nothing)
            assert i == len(segments) - 1
            return True
        if i >= len(parts):
            return False
        if not m:
            if seg.lower() != parts[i].lower():
                return False
        elif m.group(3) and not re.search(m.group(3), parts[i], re.IGNORECASE):
            return False
    return len(parts) == len(segments)


API = [  # (method, path under /api, function) from docs/API.md
    ("POST", "commands", "command"),
    ("POST", "commands/batch", "command"),
    ("GET", "inventory", "query"),
    ("GET", "inventory/store-1/apple-pie", "query"),
    ("GET", "inventory/summary", "query"),
    ("GET", "activity", "query"),
    ("GET", "health", "query"),
    ("GET", "dashboard", "query"),
    ("GET", "openapi.json", "query"),
    ("GET", "dashboard/signalr.min.js", "query"),
    ("POST", "negotiate", "negotiate"),
]


def routing_table():
    table = []
    for fn in ("command", "query", "negotiate"):
        trigger = json.loads((ROOT / "functions" / fn / "function.json").read_text())["bindings"][0]
        table.append((fn, trigger["route"], {m.upper() for m in trigger["methods"]}))
    return table


def test_every_api_path_reaches_exactly_its_function():
    for method, path, expected in API:
        hits = [fn for fn, route, methods in routing_table()
                if method in methods and route_matches(route, path)]
        assert hits == [expected], f"{method} /api/{path} -> {hits}"


def test_query_route_does_not_swallow_other_paths():
    for method, path in [("GET", "commands"), ("GET", "admin/host"), ("GET", "inventoryx"),
                         ("GET", "openapixjson"), ("POST", "inventory")]:
        hits = [fn for fn, route, methods in routing_table()
                if method in methods and route_matches(route, path)]
        assert hits == [], f"{method} /api/{path} unexpectedly routed to {hits}"


def test_local_settings_example_lists_every_setting():
    values = json.loads((ROOT / "local.settings.json.example").read_text())["Values"]
    for name in ["COSMOS_ENDPOINT", "COSMOS_DATABASE", "COSMOS_CONTAINER", "COSMOS_KEY",
                 "EVENTGRID_TOPIC_ENDPOINT", "EVENTGRID_TOPIC_KEY", "EVENTGRID_SCHEMA",
                 "ELASTICSEARCH_URL", "ELASTICSEARCH_API_KEY", "ELASTICSEARCH_INDEX_PREFIX",
                 "REDIS_URL", "REDIS_USERNAME", "AZURE_CLIENT_ID", "RUST_LOG", "AZURE_SIGNALR_ENDPOINT",
                 "PIESHOP_DATA_DIR", "PIESHOP_LISTEN", "PIESHOP_API_KEYS",
                 "FUNCTIONS_WORKER_RUNTIME"]:
        assert name in values, name
    assert values["FUNCTIONS_WORKER_RUNTIME"] == "custom"
    secrets = ["COSMOS_KEY", "EVENTGRID_TOPIC_KEY", "ELASTICSEARCH_API_KEY", "PIESHOP_API_KEYS"]
    assert all(values[s] == "" for s in secrets), "the template must not carry secret values"
