"""Every setting is documented once, in handlers/src/config/variables.rs (clap `env` fields; `handler --help`
prints them, and a unit test checks the code reads no other). README's Configuration section and
local.settings.json.example must list exactly those."""
import json
import re

from conftest import ROOT

# Set by the Functions host itself, never by an operator.
SET_BY_HOST = {"FUNCTIONS_CUSTOMHANDLER_PORT", "REGION_NAME"}
# Read by the host or the Rust runtime, not by pieshop's configuration.
NOT_PIESHOP = {"FUNCTIONS_WORKER_RUNTIME", "AzureWebJobsStorage", "RUST_LOG"}


def read_by_code():
    source = (ROOT / "handlers/src/config/variables.rs").read_text()
    return set(re.findall(r'env = "([A-Z][A-Z0-9_]+)"', source))


def documented_in_readme():
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Configuration"):text.index("### Function keys")]
    return set(re.findall(r"`([A-Z][A-Z0-9_]+)`", section))


def test_every_variable_the_code_reads_is_documented_and_exampled():
    code = read_by_code()
    assert {"PIESHOP_LISTEN", "COSMOS_ENDPOINT", "REDIS_KEY_PREFIX"} <= code, code
    readme = documented_in_readme()
    assert code - readme == set(), "read by the code but not in README's Configuration"
    example = set(json.loads((ROOT / "local.settings.json.example").read_text())["Values"])
    assert code - SET_BY_HOST - example == set(), "read by the code but not in local.settings.json.example"


def test_nothing_documented_that_the_code_does_not_read():
    code = read_by_code() | NOT_PIESHOP
    example = set(json.loads((ROOT / "local.settings.json.example").read_text())["Values"])
    assert example - code == set(), "in local.settings.json.example but never read"
    readme_variables = {n for n in documented_in_readme() if "_" in n}
    assert readme_variables - code == set(), "in README's Configuration but never read"
