"""The deployable template: `chalice package --merge-template` yields one template cfn-lint accepts."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cfnlint.decode import decode_str

pytestmark = pytest.mark.slow  # a live stack, a subprocess or a long run: not in the fast lane

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def merged(tmp_path_factory) -> Path:
    # The deploy steps build the web app first: the package must carry it (chalicelib/webapp/dist).
    subprocess.run([str(ROOT / "scripts" / "bootstrap-web")], check=True, capture_output=True)
    out = tmp_path_factory.mktemp("package") / "out"
    env = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1"}
    command = [str(BIN / "chalice"), "package", "--stage", "prod", "--merge-template", "infra/template.yaml",
               "--template-format", "yaml", str(out)]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    return out / "sam.yaml"


def test_the_lambda_package_carries_the_web_apps_build(merged):
    import zipfile

    built = {str(p.relative_to(ROOT)) for p in (ROOT / "chalicelib" / "webapp" / "dist").rglob("*") if p.is_file()}
    with zipfile.ZipFile(merged.parent / "deployment.zip") as package:
        packaged = set(package.namelist())
    assert "chalicelib/webapp/dist/index.html" in built
    assert built <= packaged, sorted(built - packaged)


def test_cfn_lint_passes_on_the_template_and_the_merged_package(merged):
    result = subprocess.run([str(BIN / "cfn-lint"), str(ROOT / "infra" / "template.yaml"), str(merged)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def resources(path: Path) -> dict:
    template, matches = decode_str(path.read_text())
    assert not matches
    return template["Resources"]


def statements(role: dict) -> list[dict]:
    return [s for policy in role["Properties"]["Policies"] for s in policy["PolicyDocument"]["Statement"]]


def test_lambda_role_names_every_resource(merged):
    found = resources(merged)
    role_statements = statements(found["ApiHandlerRole"])
    for statement in found["ApiHandlerKeyPolicy"]["Properties"]["PolicyDocument"]["Statement"]:
        # A conditional statement (the extra keys of a key replacement) is checked as it would be given.
        role_statements += [s for s in statement["Fn::If"][1:] if "Effect" in s] if "Fn::If" in statement \
            else [statement]
    for statement in role_statements:
        if statement["Sid"] == "Tracing":
            assert set(statement["Action"]) == {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}
            continue  # X-Ray's actions take no resource
        named = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        for resource in named:
            text = json.dumps(resource)
            assert resource != "*" and "key/*" not in text and "table/*" not in text, statement["Sid"]
    assert found["APIHandler"]["Properties"]["Role"] == {"Fn::GetAtt": ["ApiHandlerRole", "Arn"]}


def test_access_role_is_scoped_by_the_vault_session_tag(merged):
    found = resources(merged)
    for statement in statements(found["AccessBucketRole"]):
        assert "${!aws:PrincipalTag/Vault}" in json.dumps(statement["Resource"])
    # The trust policy's conditions are checked in tests/test_iam.py; here: it survives the merge.
    trust = found["AccessBucketRole"]["Properties"]["AssumeRolePolicyDocument"]["Fn::Sub"][0]
    assert '"Federated": "${IssuerProvider}"' in trust


def test_table_has_ttl_pitr_and_the_index_the_code_queries(merged):
    table = resources(merged)["Table"]["Properties"]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    from chalicelib.db.schema import TABLE_DEFINITION
    assert table["KeySchema"] == TABLE_DEFINITION["KeySchema"]
    assert [i["IndexName"] for i in table["GlobalSecondaryIndexes"]] == ["gsi1"]


def test_chalice_config_turns_off_the_policy_autogen():
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    assert config["autogen_policy"] is False
    for stage in ("local", "dev", "prod"):
        assert (ROOT / ".chalice" / config["stages"][stage]["iam_policy_file"]).exists()


def test_logs_are_kept_90_days_and_invocations_traced(merged):
    found = resources(merged)
    groups = {name: r["Properties"] for name, r in found.items() if r["Type"] == "AWS::Logs::LogGroup"}
    assert {g["RetentionInDays"] for g in groups.values()} == {90} and len(groups) == 2
    assert groups["ApiHandlerLogGroup"]["LogGroupName"] == {"Fn::Sub": "/aws/lambda/${APIHandler}"}
    assert found["APIHandler"]["Properties"]["Tracing"] == "Active"


def counted_metrics() -> set[str]:
    """The metric names the code counts: the keywords of every ``metrics.fields(...)`` call."""
    import ast
    names = set()
    for path in (ROOT / "chalicelib").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and ast.unparse(node.func) == "metrics.fields":
                names.update(k.arg for k in node.keywords)
    return names


def test_every_metric_the_code_counts_has_a_place_on_the_dashboard_and_the_errors_an_alarm(merged):
    found = resources(merged)
    counted = counted_metrics()
    assert {"Requests", "ServerErrors", "Unavailable", "SecretReleases", "KeyRotations", "AuditWriteFailures"} <= counted
    dashboard = json.dumps(found["Dashboard"]["Properties"]["DashboardBody"])
    assert [m for m in sorted(counted) if f'\\"{m}\\"' not in dashboard] == []
    alarmed = {r["Properties"]["MetricName"] for r in found.values() if r["Type"] == "AWS::CloudWatch::Alarm"}
    assert {"ServerErrors", "Unavailable", "AuditWriteFailures", "ReadThrottleEvents", "WriteThrottleEvents"} <= alarmed
    on_functions = {(r["Properties"]["MetricName"], r["Properties"]["Dimensions"][0]["Value"]["Ref"])
                    for r in found.values() if r["Type"] == "AWS::CloudWatch::Alarm"
                    and r["Properties"]["Namespace"] == "AWS/Lambda"}
    functions = {name for name, r in found.items() if r["Type"] == "AWS::Serverless::Function"}
    # What never reached our code (a crash, a timeout, a throttled invocation) has no metric of ours.
    assert {("Errors", f) for f in functions} | {("Throttles", "APIHandler")} <= on_functions
    widgets = found["Dashboard"]["Properties"]["DashboardBody"]
    assert all(f"${{{name}}}" in json.dumps(widgets) for name in ("ApiFunction", "RotationFunction"))
