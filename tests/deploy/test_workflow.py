"""The CI workflow logs in with OIDC only and runs build -> package -> deploy -> smoke."""
import re

import pytest

from conftest import ROOT

yaml = pytest.importorskip("yaml", reason="PyYAML is needed to read the workflow")
WORKFLOW = ROOT / ".github" / "workflows" / "deploy.yml"


def load():
    return yaml.safe_load(WORKFLOW.read_text())


def test_oidc_login_and_no_other_secret():
    text = WORKFLOW.read_text()
    wf = load()
    assert wf["permissions"]["id-token"] == "write"
    steps = wf["jobs"]["deploy"]["steps"]
    (login,) = [s for s in steps if str(s.get("uses", "")).startswith("azure/login@")]
    assert set(login["with"]) == {"client-id", "tenant-id", "subscription-id"}
    assert "client-secret" not in text and "creds:" not in text
    assert set(re.findall(r"secrets\.(\w+)", text)) == \
        {"AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_SUBSCRIPTION_ID"}


def test_every_suite_passes_before_anything_deploys():
    jobs = load()["jobs"]
    assert jobs["deploy"]["needs"] == "test"
    assert any(step.get("run", "").strip() == "scripts/test.sh" for step in jobs["test"]["steps"])


def test_steps_run_in_order():
    steps = load()["jobs"]["deploy"]["steps"]
    runs = [s.get("run", "") for s in steps]

    def index(fragment):
        hits = [i for i, r in enumerate(runs) if fragment in r]
        assert hits, fragment
        return hits[0]

    login = next(i for i, s in enumerate(steps) if str(s.get("uses", "")).startswith("azure/login@"))
    order = [index("scripts/build.sh"), index("scripts/test-deploy.sh"), index("scripts/package.sh"),
             login, index("scripts/deploy.sh"), index("scripts/smoke.sh")]
    assert order == sorted(order)
    assert "--require-static" in runs[index("scripts/build.sh")]
