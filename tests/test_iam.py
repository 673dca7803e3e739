"""Least privilege, checked: every AWS call the code makes against what each policy allows, and back.

The calls are read from the source (every ``<client>.<operation>(…)`` of a DynamoDB, KMS or S3
operation, and every paginator), so a new call without its grant fails here, and so does a grant
no call needs. Each principal is checked against the code that runs as it: the Lambda role against
``chalicelib`` (in the template and in ``.chalice/policy-<stage>.json``), the create-bucket role
against the bucket creation (``chalicelib/storage/s3.py`` runs with the caller's credentials), the
access-bucket role against the client SDK.
"""
from __future__ import annotations

import ast
import json
import re
from functools import lru_cache
from pathlib import Path

import pytest
from botocore import xform_name
from botocore.session import get_session
from cfnlint.decode import decode_str

ROOT = Path(__file__).resolve().parents[1]
SERVICES = ("dynamodb", "kms", "s3")
CLIENT_RECEIVER = re.compile(r"(client|kms|s3)", re.IGNORECASE)
# Operations IAM authorizes as other actions (the service authorization reference).
AUTHORIZED_AS = {
    "dynamodb:TransactWriteItems": {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
                                    "dynamodb:ConditionCheckItem"},
    "kms:ReEncrypt": {"kms:ReEncryptFrom", "kms:ReEncryptTo"},
    "s3:HeadBucket": {"s3:ListBucket"},
    "s3:HeadObject": {"s3:GetObject"},
    "s3:ListObjectsV2": {"s3:ListBucket"},
    "s3:CreateMultipartUpload": {"s3:PutObject"},
    "s3:UploadPart": {"s3:PutObject"},
    "s3:CompleteMultipartUpload": {"s3:PutObject"},
}
# Granted for callers other than our code: Katta's desktop client (Cyberduck's S3 profile) asks a
# bucket's region; the Lambda runtime writes the function's logs.
USED_OUTSIDE_THE_CODE = {"AccessBucketRole": {"s3:GetBucketLocation"}}
# Code in chalicelib that never runs in Lambda: the table definition is for the local stack and the
# tests (CloudFormation creates the deployed table).
NOT_IN_LAMBDA = {"chalicelib/db/schema.py"}


@lru_cache(maxsize=None)
def _operations(service: str) -> dict[str, str]:
    model = get_session().get_service_model(service)
    return {xform_name(name): name for name in model.operation_names}


def aws_calls(*paths: Path) -> dict[str, set[str]]:
    """Every IAM action the code under ``paths`` needs → the files that need it."""
    needed: dict[str, set[str]] = {}
    for path in (f for p in paths for f in ([p] if p.is_file() else sorted(p.rglob("*.py")))):
        if str(path.relative_to(ROOT)) in NOT_IN_LAMBDA:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            if not CLIENT_RECEIVER.search(ast.unparse(node.func.value)):
                continue
            name = node.func.attr
            if name == "get_paginator" and node.args and isinstance(node.args[0], ast.Constant):
                name = node.args[0].value
            services = [s for s in SERVICES if name in _operations(s)]
            assert len(services) <= 1, f"{path}: {name} is an operation of {services}; name the client"
            for service in services:
                action = f"{service}:{_operations(service)[name]}"
                for granted in AUTHORIZED_AS.get(action, {action}):
                    needed.setdefault(granted, set()).add(str(path.relative_to(ROOT)))
    return needed


def _template() -> dict:
    template, matches = decode_str((ROOT / "infra" / "template.yaml").read_text())
    assert not matches
    return template["Resources"]


def _statements(document) -> list[dict]:
    """Allow statements of a policy document; both branches of an ``Fn::If``."""
    found = []
    for statement in document["Statement"]:
        if isinstance(statement, dict) and "Fn::If" in statement:
            found += [s for s in statement["Fn::If"][1:] if isinstance(s, dict) and "Effect" in s]
        else:
            found.append(statement)
    return [s for s in found if s["Effect"] == "Allow"]


def _actions(statements: list[dict]) -> set[str]:
    actions: set[str] = set()
    for statement in statements:
        named = statement["Action"]
        actions.update([named] if isinstance(named, str) else named)
    return actions


def _role_statements(role: str) -> list[dict]:
    resources = _template()
    statements = [s for p in resources[role]["Properties"].get("Policies", []) for s in _statements(p["PolicyDocument"])]
    for resource in resources.values():
        if resource["Type"] == "AWS::IAM::RolePolicy" and resource["Properties"]["RoleName"] == {"Ref": role}:
            statements += _statements(resource["Properties"]["PolicyDocument"])
    return statements


def _trust(role: str) -> dict:
    """The role's trust policy, its ``Fn::Sub`` placeholders filled in."""
    document = _template()[role]["Properties"]["AssumeRolePolicyDocument"]
    if isinstance(document, dict) and "Fn::Sub" in document:
        text = document["Fn::Sub"][0] if isinstance(document["Fn::Sub"], list) else document["Fn::Sub"]
        document = json.loads(re.sub(r"\$\{(\w+)\}", r"<\1>", text))
    return document


PRINCIPALS = {
    "ApiHandlerRole": ((ROOT / "chalicelib",), ("dynamodb", "kms")),
    "CreateBucketRole": ((ROOT / "chalicelib" / "storage" / "s3.py",), ("s3",)),
    "AccessBucketRole": ((ROOT / "katta_client",), ("s3",)),
}


def _needed(role: str) -> set[str]:
    paths, services = PRINCIPALS[role]
    return {a for a in aws_calls(*paths) if a.split(":")[0] in services}


def test_the_scan_finds_the_calls_we_know_of():
    found = aws_calls(ROOT / "chalicelib")
    assert {"dynamodb:GetItem", "dynamodb:Query", "dynamodb:ConditionCheckItem", "kms:GenerateDataKey",
            "kms:ReEncryptTo", "s3:CreateBucket", "s3:DeleteBucket"} <= set(found)
    assert "chalicelib/storage/s3.py" in found["s3:DeleteObject"]


@pytest.mark.parametrize("role", sorted(PRINCIPALS))
def test_each_role_allows_every_call_its_code_makes_and_nothing_else(role):
    paths, services = PRINCIPALS[role]
    needed = _needed(role)
    granted = {a for a in _actions(_role_statements(role)) if a.split(":")[0] in services}
    assert sorted(needed - granted) == [], f"{role} lacks grants the code needs"
    assert sorted(granted - needed - USED_OUTSIDE_THE_CODE.get(role, set())) == [], f"{role} grants what no call uses"


@pytest.mark.parametrize("stage", ["local", "dev", "prod"])
def test_the_chalice_policy_of_each_stage_matches_the_lambda_code(stage):
    policy = json.loads((ROOT / ".chalice" / f"policy-{stage}.json").read_text())
    # Logs and traces are the Lambda runtime's to send, not calls of the code.
    granted = {a for a in _actions(_statements(policy)) if not a.startswith(("logs:", "xray:"))}
    assert granted == _needed("ApiHandlerRole")


def test_the_key_policy_gives_the_service_no_more_than_it_calls():
    statement = next(s for s in _template()["ManagementKey"]["Properties"]["KeyPolicy"]["Statement"]
                     if s["Sid"] == "ServiceUsesTheKey")
    assert set(statement["Action"]) == {a for a in _needed("ApiHandlerRole") if a.startswith("kms:")}


def test_rewrapping_to_another_key_is_granted_on_that_key():
    # rewrap-versions ReEncrypts to a key named in the request; afterwards versions decrypt under it.
    extra = next(s for s in _role_statements("ApiHandlerRole") if s.get("Sid") == "ExtraKmsKeys")
    assert {"kms:ReEncryptTo", "kms:Decrypt"} <= set(extra["Action"])
    assert extra["Resource"] == {"Ref": "ExtraKmsKeyArns"}
    for stage in ("local", "dev", "prod"):
        policy = json.loads((ROOT / ".chalice" / f"policy-{stage}.json").read_text())
        key = next(s for s in policy["Statement"] if s["Sid"] == "ManagementKey")
        (alias,) = key["Condition"]["ForAnyValue:StringLike"].values()
        assert alias.endswith("-management*"), "a next key aliased <alias>-next must be usable"


@pytest.mark.parametrize("role", ["CreateBucketRole", "AccessBucketRole"])
def test_the_bucket_roles_trust_only_our_vault_tokens(role):
    (statement,) = _trust(role)["Statement"]
    assert statement["Principal"] == {"Federated": "<IssuerProvider>"}
    assert statement["Condition"]["StringEquals"] == {"<Issuer>:aud": "<StsAudience>"}
    like = statement["Condition"]["StringLike"]
    assert like["<Issuer>:sub"] == "?*"
    assert like["aws:RequestTag/Vault"] == "????????-????-????-????-????????????"
    issuer = _template()[role]["Properties"]["AssumeRolePolicyDocument"]["Fn::Sub"][1]["Issuer"]
    # The condition key is the provider's URL without its scheme.
    assert issuer == {"Fn::Select": [1, {"Fn::Split": ["https://", {"Ref": "IssuerUrl"}]}]}
