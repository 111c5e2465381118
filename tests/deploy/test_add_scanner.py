"""scripts/add-scanner.sh against an `az` stand-in that keeps function keys in funchost's keys file
(tools/funchost/src/keys.rs: the host's roles, flat), then funchost itself checks the keys as the
Functions host does: a wall display's query key must open `negotiate` too, or live push gets 401.
"""
import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import ROOT, SCRIPTS
from test_handler_starts import handler_binary

# `az functionapp function keys set|delete|list` on a funchost keys file (FAKE_KEYS), as the real
# command behaves: `set` without --key-value makes a new key and prints it; --output none prints nothing.
AZ = r'''#!/usr/bin/env python3
import json, os, secrets, sys
args = sys.argv[1:]
def opt(name):
    return args[args.index(name) + 1] if name in args else None
if args[:2] == ["account", "show"]:
    sys.exit(0)
if args[:3] != ["functionapp", "function", "keys"]:
    print("unexpected az call: " + " ".join(args), file=sys.stderr); sys.exit(2)
path = os.environ["FAKE_KEYS"]
keys = json.load(open(path))
function, name = opt("--function-name"), opt("--key-name")
own = keys.setdefault("functionKeys", {}).setdefault(function, {})
verb = args[3]
if verb == "set":
    own[name] = opt("--key-value") or secrets.token_urlsafe(32)
    if opt("--output") != "none":
        print(own[name])
elif verb == "delete":
    own.pop(name)
elif verb == "list":
    print("\n".join(own))
json.dump(keys, open(path, "w"))
'''

MASTER = "master-key-0123456789abcdef"


@pytest.fixture
def az(tmp_path):
    bin_dir = tmp_path / "fakebin"
    bin_dir.mkdir()
    (bin_dir / "az").write_text(AZ)
    (bin_dir / "az").chmod(0o755)
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps({"masterKey": MASTER, "hostKeys": {}, "functionKeys": {}}))
    env = dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}", FAKE_KEYS=str(keys))

    def run(*args):
        done = subprocess.run([str(SCRIPTS / "add-scanner.sh"), "--resource-group", "rg", "--app", "pieshop-t",
                               *args], env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip(), json.loads(keys.read_text())["functionKeys"]

    run.keys_file = keys
    return run


def funchost_binary() -> Path:
    # Where cargo puts it: CI builds into CARGO_TARGET_DIR (a cache outside the clone).
    path = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "debug" / "funchost"
    if not path.is_file():
        subprocess.run(["cargo", "build", "-p", "funchost", "--bin", "funchost"], cwd=ROOT, check=True)
    return path


def status(base, method, path, key):
    request = urllib.request.Request(base + path, method=method, data=b"" if method == "POST" else None,
                                     headers={"x-functions-key": key})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_a_query_key_is_set_on_negotiate_too_and_funchost_lets_it_through(az, tmp_path):
    value, keys = az("--function", "query", "wall-1")
    assert value and keys["query"]["scanner-wall-1"] == value
    assert keys["negotiate"]["scanner-wall-1"] == value, "the same key value on negotiate"
    state = tmp_path / "funchost"
    env = {k: v for k, v in os.environ.items()
           if k not in ("COSMOS_ENDPOINT", "ELASTICSEARCH_URL", "REDIS_URL", "EVENTGRID_TOPIC_ENDPOINT",
                        "PIESHOP_API_KEYS", "PIESHOP_DATA_DIR")}
    env.update(RUST_LOG="warn", FUNCHOST_LOG="warn")
    host = subprocess.Popen([str(funchost_binary()), "--app", str(ROOT), "--listen", "127.0.0.1:0",
                             "--instances", "1", "--keys", str(az.keys_file), "--state-dir", str(state),
                             "--timer-period-ms", "0", "--handler", str(handler_binary())],
                            env=env, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        front_door = state / "front-door"
        deadline = time.monotonic() + 90
        while not front_door.exists():
            assert host.poll() is None, "funchost exited"
            assert time.monotonic() < deadline, "funchost never became ready"
            time.sleep(0.05)
        base = front_door.read_text()
        assert status(base, "GET", "/api/inventory", value) == 200
        # Past the host's key check, the handler answers: 503 without a SignalR Service (it then polls).
        assert status(base, "POST", "/api/negotiate?negotiateVersion=1", value) not in (401, 404)
        assert status(base, "POST", "/api/negotiate?negotiateVersion=1", "not-a-key") == 401
        assert status(base, "POST", "/api/commands", value) == 401, "a query key does not write"
    finally:
        # funchost leads its own process group: its handler instance goes with it.
        os.killpg(host.pid, signal.SIGKILL)
        host.wait()


def test_revoking_a_query_key_removes_it_from_negotiate_too(az):
    az("--function", "query", "wall-2")
    _, keys = az("--function", "query", "--revoke", "wall-2")
    assert "scanner-wall-2" not in keys["query"] and "scanner-wall-2" not in keys["negotiate"]


def test_a_command_key_is_set_on_command_alone(az):
    value, keys = az("till-1")
    assert keys == {"command": {"scanner-till-1": value}}
