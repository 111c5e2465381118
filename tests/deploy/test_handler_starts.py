"""The packaged handler starts the way the Functions host starts it (protocol §1, §2):
working directory = the unpacked zip, FUNCTIONS_CUSTOMHANDLER_PORT set, readiness = any answer
to GET /, then a timer invocation envelope POSTed to /relay answered with a 200 JSON object.
"""
import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import FIXTURES, ROOT, build_package, require_tool

# The host polls GET / every 25 ms for InitializationTimeout (default 30 s).
READY_DEADLINE_S = 30
# Settings that would select the Azure adapters; the test runs on the embedded default.
AZURE_SETTINGS = ("COSMOS_ENDPOINT", "COSMOS_KEY", "ELASTICSEARCH_URL", "ELASTICSEARCH_API_KEY",
                  "EVENTGRID_TOPIC_ENDPOINT", "EVENTGRID_TOPIC_KEY", "REDIS_URL", "PIESHOP_LISTEN")


def handler_binary() -> Path:
    explicit = os.environ.get("PIESHOP_HANDLER_BIN")
    if explicit:
        path = Path(explicit)
        assert path.is_file(), f"PIESHOP_HANDLER_BIN={explicit} does not exist"
        return path
    path = ROOT / "target" / "debug" / "handler"
    if not path.is_file():
        cargo = require_tool("cargo")
        subprocess.run([cargo, "build", "-p", "pieshop", "--bin", "handler"], cwd=ROOT, check=True)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(port, method, path, body=None, headers=None):
    """(status, headers, body bytes) for any HTTP answer, error statuses included."""
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method, data=body,
                                 headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


@pytest.fixture
def running_handler(tmp_path):
    require_tool("unzip")
    package = build_package(tmp_path, handler_binary())
    site = tmp_path / "site"
    # unzip restores the stored Unix mode: the handler must run without a chmod from us.
    subprocess.run(["unzip", "-q", str(package), "-d", str(site)], check=True)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in AZURE_SETTINGS}
    env.update({
        "FUNCTIONS_CUSTOMHANDLER_PORT": str(port),
        "FUNCTIONS_CUSTOMHANDLER_WORKER_ID": "test-worker",
        "FUNCTIONS_APP_ROOT_PATH": str(site),
        "PIESHOP_DATA_DIR": str(tmp_path / "data"),
        "RUST_LOG": "info",
    })
    log = open(tmp_path / "handler.log", "wb")
    proc = subprocess.Popen([str(site / "handler")], cwd=site, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + READY_DEADLINE_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"handler exited with {proc.returncode} before answering GET /: "
                            f"{(tmp_path / 'handler.log').read_text(errors='replace')[-2000:]}")
            try:
                request(port, "GET", "/")
                break  # any HTTP answer means ready, as for the host
            except (urllib.error.URLError, ConnectionError, OSError):
                if time.monotonic() > deadline:
                    pytest.fail(f"handler did not answer GET / within {READY_DEADLINE_S}s")
                time.sleep(0.025)  # the host's own poll interval
        yield proc, port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def timer_envelope() -> bytes:
    """The timer fixture, renamed to this app's relay function and binding."""
    envelope = json.loads((FIXTURES / "timer-request.json").read_text())
    envelope["Data"] = {"relayTimer": envelope["Data"].pop("rebuildTimer")}
    envelope["Metadata"]["sys"]["MethodName"] = "relay"
    return json.dumps(envelope, separators=(",", ":")).encode()


def test_answers_get_root(running_handler):
    _, port = running_handler
    status, _, _ = request(port, "GET", "/")
    assert 100 <= status < 600


def test_relay_envelope_gets_a_200_json_object(running_handler):
    proc, port = running_handler
    status, headers, body = request(port, "POST", "/relay", body=timer_envelope(), headers={
        "Content-Type": "application/json; charset=utf-8",
        "X-Azure-Functions-HostVersion": "4.1037.0",
        "X-Azure-Functions-InvocationId": "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
        "User-Agent": "Azure-Functions-Host/4.1037.0",
    })
    assert status == 200, body[:500]
    assert headers.get("Content-Type", "").startswith("application/json")
    answer = json.loads(body)
    assert isinstance(answer, dict) and answer, "the host needs a non-empty JSON object"
    assert isinstance(answer.get("Outputs"), dict)
    assert isinstance(answer.get("Logs", []), list)
    assert proc.poll() is None, "the handler must keep serving (exit 0 would stop the worker)"
