"""The configuration is read in one place (handlers/src/config*), and documented in README's Configuration
section and local.settings.json.example: every variable the code reads is in both, and neither lists one the
code does not read."""
import json
import re

from conftest import ROOT

# Set by the Functions host itself, never by an operator.
SET_BY_HOST = {"FUNCTIONS_CUSTOMHANDLER_PORT", "REGION_NAME"}
# Read by the host or the Rust runtime, not by pieshop's configuration.
NOT_PIESHOP = {"FUNCTIONS_WORKER_RUNTIME", "AzureWebJobsStorage", "RUST_LOG"}


def read_by_code():
    sources = [ROOT / "handlers/src/config.rs", ROOT / "handlers/src/config/azure.rs", ROOT / "handlers/src/host/listen.rs"]
    names = set()
    for source in sources:
        names |= set(re.findall(r'"((?:PIESHOP|COSMOS|EVENTGRID|ELASTICSEARCH|REDIS|AZURE|FUNCTIONS)_[A-Z_]+|REGION_NAME)"',
                                source.read_text()))
    return names


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
