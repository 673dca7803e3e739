"""devstack.seaweed: the configuration it writes and the process it starts and stops."""
from __future__ import annotations

import json
import socket
import stat
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from devstack import seaweed as sw

pytestmark = pytest.mark.slow  # a live stack, a subprocess or a long run: not in the fast lane

ISSUER = "http://127.0.0.1:8000"


def config(**overrides):
    arguments = {"issuer": ISSUER, "jwks_uri": ISSUER + "/.well-known/jwks.json", "bucket_prefix": "katta-",
                 "audience": "sts.amazonaws.com", "signing_key": b"k" * 32, **overrides}
    return sw.iam_config(**arguments)


def test_provider_trusts_our_issuer_its_jwks_and_audience_and_allows_only_the_vault_tag():
    (provider,) = config()["sts"]["providers"]
    assert provider["type"] == "oidc" and provider["enabled"] is True
    assert provider["config"] == {"issuer": ISSUER, "clientId": "sts.amazonaws.com",
                                  "jwksUri": ISSUER + "/.well-known/jwks.json", "allowedPrincipalTagKeys": ["Vault"]}


def test_both_roles_trust_only_web_identities_of_our_issuer_for_the_sts_audience():
    roles = {role["roleName"]: role for role in config(audience="custom-aud")["roles"]}
    assert set(roles) == {"katta-create-bucket", "katta-access-bucket"}
    for name, role in roles.items():
        assert role["roleArn"] == f"arn:aws:iam::role/{name}"
        assert role["attachedPolicies"] == [name]
        (statement,) = role["trustPolicy"]["Statement"]
        assert statement["Principal"] == {"Federated": sw.PROVIDER_NAME}
        assert statement["Action"] == ["sts:AssumeRoleWithWebIdentity"]
        assert statement["Condition"] == {"StringEquals": {"oidc:iss": ISSUER, "oidc:aud": "custom-aud"}}


def test_both_policies_name_only_the_tagged_vault_bucket():
    policies = {policy["name"]: policy["document"] for policy in config(bucket_prefix="kv-")["policies"]}
    resources = {resource for statement in policies["katta-access-bucket"]["Statement"]
                 for resource in statement["Resource"]}
    assert resources == {"arn:aws:s3:::kv-${aws:PrincipalTag/Vault}", "arn:aws:s3:::kv-${aws:PrincipalTag/Vault}/*"}
    actions = {action for statement in policies["katta-access-bucket"]["Statement"] for action in statement["Action"]}
    assert not any(action in actions for action in ("s3:CreateBucket", "s3:DeleteBucket", "s3:*", "s3:PutBucketPolicy"))
    assert policies["katta-create-bucket"]["Statement"] == [
        {"Effect": "Allow", "Action": ["s3:CreateBucket", "s3:PutObject"],
         "Resource": ["arn:aws:s3:::kv-${aws:PrincipalTag/Vault}", "arn:aws:s3:::kv-${aws:PrincipalTag/Vault}/*"]}]


def test_policies_deny_by_default_and_sts_sessions_last_an_hour_at_most():
    document = config()
    assert document["policy"] == {"defaultEffect": "Deny", "storeType": "memory"}
    assert document["sts"]["maxSessionLength"] == "1h"


@pytest.mark.parametrize("prefix", ["", "Katta-", "katta_", "katta-*", "katta-?", "-katta", "k" * 28, "katta-${x}"])
def test_bucket_prefix_that_could_not_prefix_a_vault_bucket_is_refused(prefix):
    with pytest.raises(ValueError, match="bucket prefix"):
        config(bucket_prefix=prefix)


def test_free_port_pairs_are_distinct_and_leave_room_for_grpc():
    ports = sw.free_port_pairs(5)
    both = ports + [port + sw.GRPC_OFFSET for port in ports]
    assert len(set(both)) == 10
    assert all(port + sw.GRPC_OFFSET <= 65535 for port in ports)


def admin_s3(handle: sw.Seaweed):
    return boto3.client("s3", endpoint_url=handle.endpoint_url, region_name="us-east-1",
                        aws_access_key_id=handle.admin.access_key, aws_secret_access_key=handle.admin.secret_key,
                        aws_session_token=None,
                        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))


def socket_files(handle: sw.Seaweed) -> list[Path]:
    return [path for port in handle.ports.values() for offset in (0, sw.GRPC_OFFSET)
            for path in Path("/tmp").glob(f"seaweedfs-*-{port + offset}.sock")]


def test_each_start_is_clean_and_stop_leaves_nothing_running(tmp_path):
    state = tmp_path / "seaweed"
    first = sw.start_seaweed(ISSUER, port=0, state_dir=state)
    try:
        admin_s3(first).create_bucket(Bucket="katta-left-over")
        assert stat.S_IMODE((state / "s3.json").stat().st_mode) == 0o600
        assert stat.S_IMODE((state / "iam.json").stat().st_mode) == 0o600
        assert json.loads((state / "iam.json").read_text())["sts"]["providers"][0]["config"]["jwksUri"] == \
            ISSUER + "/.well-known/jwks.json"
    finally:
        first.stop()
    assert first.process.poll() is not None
    assert socket_files(first) == []

    with sw.start_seaweed(ISSUER, port=0, state_dir=state) as second:
        assert admin_s3(second).list_buckets()["Buckets"] == []
        assert second.admin != first.admin
        assert second.server_environment() == {
            "KATTA_S3_ENDPOINT_URL": second.endpoint_url,
            "KATTA_STS_ENDPOINT_URL": second.endpoint_url,
            "KATTA_STS_AUDIENCE": "sts.amazonaws.com",
            "KATTA_BUCKET_PREFIX": "katta-",
            "KATTA_STS_CREATE_BUCKET_ROLE_ARN": "arn:aws:iam::role/katta-create-bucket",
            "KATTA_STS_ACCESS_BUCKET_ROLE_ARN": "arn:aws:iam::role/katta-access-bucket",
        }
    assert second.process.poll() is not None


def test_a_busy_s3_port_is_reported_before_anything_starts(tmp_path):
    (port,) = sw.free_port_pairs(1)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        with pytest.raises(OSError, match=f"port {port} is in use"):
            sw.start_seaweed(ISSUER, port=port, state_dir=tmp_path / "seaweed")
    assert not (tmp_path / "seaweed").exists()


def test_an_s3_port_without_room_for_its_grpc_twin_is_refused(tmp_path):
    with pytest.raises(ValueError, match="gRPC"):
        sw.start_seaweed(ISSUER, port=60000, state_dir=tmp_path / "seaweed")
