"""The deploy command: its checks, what it renders, its dry run, and the storage profile it seeds."""
from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path

import pytest

from infra import deploy

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "infra" / "settings.example.toml"


def example(**changes) -> dict:
    raw = tomllib.loads(EXAMPLE.read_text())
    for key, value in changes.items():
        if value is None:
            raw.pop(key, None)
        else:
            raw[key] = value
    return raw


def refusal(stage: str = "prod", **changes) -> str:
    with pytest.raises(deploy.DeployError) as refused:
        deploy.check(stage, example(**changes))
    return str(refused.value)


def test_the_example_passes_and_every_derived_value_is_written_once():
    plan = deploy.check("prod", example())
    environment, parameters = plan.environment(), plan.parameters()
    assert environment["KATTA_PUBLIC_BASE_URL"] == parameters["IssuerUrl"] == "https://katta.example.com"
    # The template names the table katta-${Stage} and the alias alias/katta-${Stage}-management.
    assert (environment["KATTA_TABLE_NAME"], environment["KATTA_KMS_KEY_ID"]) == (
        "katta-prod", "alias/katta-prod-management")
    assert environment["KATTA_STS_AUDIENCE"] == parameters["StsAudience"]
    assert json.loads(environment["KATTA_TRUSTED_ISSUERS"])[0]["issuer"] == "https://sso.katta.example/realms/katta"
    profile = deploy.storage_profile(plan, "arn:aws:iam::1:role/c", "arn:aws:iam::1:role/a")
    assert (profile["bucketPrefix"], profile["region"]) == (parameters["BucketPrefix"], plan.region)


@pytest.mark.parametrize("changes, named", [
    ({"domain": "https://katta.example.com"}, "domain:"),
    ({"domain": None}, "domain:"),
    ({"region": "Frankfurt"}, "region:"),
    ({"certificate_arn": "arn:aws:acm:us-east-1:123456789012:certificate/0f6b7a5e"}, "certificate_arn: the certificate is in us-east-1"),
    ({"bucket_prefix": "Katta_Vaults-"}, "bucket_prefix:"),
    ({"bucket_prefix": "a-very-long-bucket-prefix-x"}, "bucket_prefix:"),
    ({"bucket_prefix": "xn--katta-"}, "bucket_prefix:"),
    ({"artifact_bucket": None}, "artifact_bucket:"),
    ({"trusted_issuers": []}, "trusted_issuers:"),
    ({"management_key_arn": "alias/katta-prod-next"}, "is not a KMS key ARN"),
    ({"extra_kms_key_arns": ["arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab"]}, "is in us-east-1"),
    ({"IssuerUrl": "https://other.example.com"}, "IssuerUrl: not a setting of the deploy file"),
    ({"settings": {"public_base_url": "https://other.example.com"}}, "settings.public_base_url: set by the deploy"),
    ({"settings": {"no_such_knob": 1}}, "settings.no_such_knob: not a setting"),
    ({"trusted_issuers": [{"issuer": "https://idp.example", "audience": "katta", "algorithms": ["HS256"]}]},
     "KATTA_TRUSTED_ISSUERS"),
    ({"trusted_issuers": [{"issuer": "http://127.0.0.1:8180/realms/katta", "audience": "katta"}]},
     "loopback issuer"),
    ({"trusted_issuers": [{"issuer": "https://katta.example.com", "audience": "katta"}]},
     "our own issuer"),
])
def test_a_value_that_is_wrong_or_disagrees_is_named_before_anything_is_made(changes, named):
    assert named in refusal(**changes)


def test_every_problem_is_reported_at_once_and_the_stage_is_checked():
    problems = refusal("staging", domain="katta", region="x").splitlines()
    # The certificate disagrees with the (wrong) region too: each value is checked against the others.
    assert [p.split(":")[0] for p in problems] == ["--stage", "region", "domain", "certificate_arn"]


def test_the_chalice_config_maps_the_domain_only_with_a_certificate():
    stage = deploy.check("prod", example()).chalice_config()["stages"]["prod"]
    assert stage["api_gateway_custom_domain"]["domain_name"] == "katta.example.com"
    assert stage["api_gateway_endpoint_type"] == "REGIONAL"
    without = deploy.check("prod", example(certificate_arn=None))
    assert "api_gateway_custom_domain" not in without.chalice_config()["stages"]["prod"]
    assert "Map katta.example.com to the stack's REST API" in deploy.registration(without)


def test_the_registration_names_the_clients_and_redirects_desktop_clients_use():
    text = deploy.registration(deploy.check("prod", example(settings={"scim_token_sha256": "0" * 64})))
    assert "public client katta-cli" in text and "http://127.0.0.1/*" in text
    assert "org.cryptomator.ios:/hub/auth" in text and "https://katta.example.com/scim/v2" in text


def test_the_storage_profile_is_seeded_from_the_outputs_once(aws):
    from chalicelib import deps
    plan = deploy.check("prod", example())
    outputs = {"TableName": os.environ["KATTA_TABLE_NAME"], "CreateBucketRoleArn": "arn:aws:iam::1:role/katta-prod-create-bucket",
               "AccessBucketRoleArn": "arn:aws:iam::1:role/katta-prod-access-bucket"}
    first = deploy.seed(plan, outputs)
    assert deploy.seed(plan, outputs) == first
    (stored,) = deps.storage_profiles().all()
    assert (stored["stsRoleCreateBucketClient"], stored["stsRoleAccessBucketAssumeRoleWithWebIdentity"]) == (
        outputs["CreateBucketRoleArn"], outputs["AccessBucketRoleArn"])


@pytest.mark.slow
def test_the_dry_run_packages_and_lints_and_touches_no_aws(tmp_path, monkeypatch, capsys):
    import boto3

    def no_aws(*args, **kwargs):
        raise AssertionError("a dry run must not call AWS")
    monkeypatch.setattr(boto3.session, "Session", no_aws)
    settings = tmp_path / "prod.toml"
    settings.write_text(EXAMPLE.read_text())
    assert deploy.main(["--stage", "prod", "--settings", str(settings), "--dry-run", "--out", str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out
    assert "packaged and linted" in printed and "would upload" in printed and "Register with your IdP" in printed
    config = json.loads((tmp_path / "out" / "project" / ".chalice" / "config.json").read_text())
    assert config["stages"]["prod"]["environment_variables"]["KATTA_PUBLIC_BASE_URL"] == "https://katta.example.com"
    assert "AWS::ApiGateway::DomainName" in (tmp_path / "out" / "package" / "sam.yaml").read_text()


def test_a_refused_file_exits_2_and_writes_nothing(tmp_path, capsys):
    settings = tmp_path / "bad.toml"
    settings.write_text('region = "eu-central-1"\n')
    assert deploy.main(["--stage", "prod", "--settings", str(settings), "--out", str(tmp_path / "out")]) == 2
    assert "deploy refused" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_replacement_management_key_is_used_for_new_versions_and_granted():
    key = "arn:aws:kms:eu-central-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    old = "arn:aws:kms:eu-central-1:123456789012:key/9876abcd-12ab-34cd-56ef-1234567890ab"
    plan = deploy.check("prod", example(management_key_arn=key, extra_kms_key_arns=[old]))
    assert plan.environment()["KATTA_KMS_KEY_ID"] == key
    assert plan.parameters()["ExtraKmsKeyArns"] == f"{key},{old}"
    assert deploy.check("prod", example()).parameters()["ExtraKmsKeyArns"] == ""


def test_deploy_uploads_the_code_and_template_and_runs_a_change_set(aws, tmp_path):
    """The CloudFormation path on moto, with a template moto can create (it has no SAM transform)."""
    import boto3
    plan = deploy.check("prod", example())
    boto3.client("s3", region_name=plan.region).create_bucket(
        Bucket=plan.artifact_bucket, CreateBucketConfiguration={"LocationConstraint": plan.region})
    (tmp_path / "deployment.zip").write_bytes(b"PK code")
    template = tmp_path / "sam.yaml"
    template.write_text("""AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Stage: {Type: String}
  IssuerUrl: {Type: String}
  StsAudience: {Type: String}
  BucketPrefix: {Type: String}
  ExtraKmsKeyArns: {Type: String}
Resources:
  Topic:
    Type: AWS::SNS::Topic
    Metadata: {CodeUri: ./deployment.zip}
Outputs:
  TableName: {Value: !Sub "katta-${Stage}"}
""")
    deploy.deploy(plan, template)  # moto keeps no outputs of a change set's stack: those are AWS's to test
    s3 = boto3.client("s3", region_name=plan.region)
    keys = {o["Key"].rsplit(".", 1)[1]: o["Key"] for o in s3.list_objects_v2(Bucket=plan.artifact_bucket)["Contents"]}
    assert sorted(keys) == ["yaml", "zip"] and all(k.startswith("katta-prod/") for k in keys.values())
    uploaded = s3.get_object(Bucket=plan.artifact_bucket, Key=keys["yaml"])["Body"].read().decode()
    assert f"s3://{plan.artifact_bucket}/{keys['zip']}" in uploaded and "./deployment.zip" not in uploaded
    (stack,) = boto3.client("cloudformation", region_name=plan.region).describe_stacks(StackName="katta-prod")["Stacks"]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]} == plan.parameters()
    deploy.deploy(plan, template)  # again: the same stack, updated (or left alone when nothing changed)
