"""Our token service against a real STS: SeaweedFS trusts our issuer and enforces the vault tag.

The API is served over HTTP from this process (``chalice.local``'s server, with
DynamoDB and KMS in a moto *server*), because SeaweedFS fetches our JWKS from
``<public base URL>/.well-known/jwks.json``. The flow is the client's: create
a vault, get an s3-token, assume the create-bucket role, let the API create the
bucket, then assume the access role and use the bucket. moto is never asked
whether access is restricted; SeaweedFS answers that.
"""
from __future__ import annotations

import json
import threading
import time
import uuid

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError
from joserfc import jwt
from joserfc.jwk import ECKey

from tests.support.app_server import threaded_app_server
from tests.support.katta_keys import vault_dto
from tests.support.tokens import TokenIssuer

pytestmark = pytest.mark.slow  # a live stack, a subprocess or a long run: not in the fast lane

seaweed_module = pytest.importorskip("devstack.seaweed")

HOST = "127.0.0.1"
PREFIX = "katta-"
CLIENT_CONFIG = Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1})
STS_REFUSALS = {"AccessDenied", "ExpiredTokenException", "InvalidIdentityToken", "InvalidParameterValue"}


class Stack:
    def __init__(self, url: str, idp: TokenIssuer, seaweed) -> None:
        self.url = url
        self.idp = idp
        self.seaweed = seaweed

    def call(self, username: str, method: str, path: str, roles=("user", "create-vaults"), **kwargs):
        token = self.idp.token(username, realm_access={"roles": list(roles)})
        return requests.request(method, self.url + path, headers={"Authorization": f"Bearer {token}"},
                                timeout=30, **kwargs)

    def s3_token(self, username: str, vault_id: str):
        return self.call(username, "POST", f"/api/storage/s3-token?vault={vault_id}")

    def assume(self, role_arn: str, token: str) -> dict:
        sts = boto3.client("sts", endpoint_url=self.seaweed.endpoint_url, region_name="us-east-1",
                           aws_access_key_id="unused", aws_secret_access_key="unused", aws_session_token=None,
                           config=CLIENT_CONFIG)
        return sts.assume_role_with_web_identity(RoleArn=role_arn, RoleSessionName="katta-e2e",
                                                 WebIdentityToken=token)["Credentials"]

    def s3(self, credentials: dict):
        return boto3.client("s3", endpoint_url=self.seaweed.endpoint_url, region_name="us-east-1",
                            aws_access_key_id=credentials["AccessKeyId"],
                            aws_secret_access_key=credentials["SecretAccessKey"],
                            aws_session_token=credentials["SessionToken"], config=CLIENT_CONFIG)

    def vault_s3(self, username: str, vault_id: str):
        response = self.s3_token(username, vault_id)
        assert response.status_code == 200, response.text
        return self.s3(self.assume(self.seaweed.access_bucket_role_arn, response.json()["access_token"]))


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    from moto.server import ThreadedMotoServer

    from chalicelib import deps
    from devstack.bootstrap_aws import bootstrap

    moto = ThreadedMotoServer(ip_address=HOST, port=0, verbose=False)
    moto.start()
    moto_host, moto_port = moto.get_host_and_port()
    server, attach = threaded_app_server(HOST)
    url = f"http://{HOST}:{server.server_address[1]}"
    idp = TokenIssuer()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_ENDPOINT_URL", f"http://{moto_host}:{moto_port}")
        patch.setenv("KATTA_PUBLIC_BASE_URL", url)
        patch.setenv("KATTA_TABLE_NAME", "katta-e2e")
        patch.setenv("KATTA_KMS_KEY_ID", "alias/katta-e2e")
        deps.reset()
        bootstrap("katta-e2e", "alias/katta-e2e")
        idp.trust(patch)
        import app
        attach(app.app)
        threading.Thread(target=server.serve_forever, name="katta-e2e-api", daemon=True).start()
        try:
            with seaweed_module.start_seaweed(url, url + "/.well-known/jwks.json", PREFIX, port=0,
                                              state_dir=tmp_path_factory.mktemp("seaweed")) as seaweed:
                yield Stack(url, idp, seaweed)
        finally:
            server.shutdown()
            server.server_close()
            moto.stop()
    deps.reset()  # after the patches are undone: the real accessors again


@pytest.fixture(scope="module")
def admin_s3(stack):
    return boto3.client("s3", endpoint_url=stack.seaweed.endpoint_url, region_name="us-east-1",
                        aws_access_key_id=stack.seaweed.admin.access_key,
                        aws_secret_access_key=stack.seaweed.admin.secret_key, aws_session_token=None,
                        config=CLIENT_CONFIG)


@pytest.fixture(scope="module")
def profile(stack):
    seaweed = stack.seaweed
    response = stack.call("root", "POST", "/api/storageprofile", roles=("user", "admin"), json={
        "name": "SeaweedFS", "protocol": "S3STS", "endpoint": seaweed.endpoint_url, "pathStyleAccessEnabled": True,
        "region": "us-east-1", "regions": ["us-east-1"], "bucketPrefix": PREFIX, "stsEndpoint": seaweed.endpoint_url,
        "stsRoleCreateBucketClient": seaweed.create_bucket_role_arn,
        "stsRoleCreateBucketHub": seaweed.create_bucket_role_arn,
        "stsRoleAccessBucketAssumeRoleWithWebIdentity": seaweed.access_bucket_role_arn})
    assert response.status_code == 201, response.text
    return response.json()


def create_vault_with_bucket(stack, profile, owner: str, template: bytes) -> str:
    """The client's flow: vault record, s3-token, create-bucket role, PUT /api/storage."""
    vault_id = str(uuid.uuid4())
    assert stack.call(owner, "PUT", f"/api/vaults/{vault_id}", json=vault_dto(vault_id)).status_code == 201
    token = stack.s3_token(owner, vault_id).json()["access_token"]
    credentials = stack.assume(stack.seaweed.create_bucket_role_arn, token)
    response = stack.call(owner, "PUT", f"/api/storage/{vault_id}", json={
        "vaultId": vault_id, "storageConfigId": profile["id"], "vaultUvf": json.dumps({"template": template.decode()}),
        "dirUvf": "AAEC", "rootDirHash": "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", "region": "us-east-1",
        "awsAccessKey": credentials["AccessKeyId"], "awsSecretKey": credentials["SecretAccessKey"],
        "sessionToken": credentials["SessionToken"]})
    assert response.status_code == 200, response.text
    return vault_id


@pytest.fixture(scope="module")
def vaults(stack, profile):
    return {name: create_vault_with_bucket(stack, profile, "alice", f"template {name}".encode()) for name in "AB"}


def error_code(call) -> str:
    with pytest.raises(ClientError) as refused:
        call()
    return refused.value.response["Error"]["Code"]


def test_the_api_created_the_bucket_and_template_with_the_clients_credentials(admin_s3, vaults):
    bucket = PREFIX + vaults["A"]
    keys = sorted(o["Key"] for o in admin_s3.list_objects_v2(Bucket=bucket)["Contents"])
    assert keys == ["d/AB/CDEFGHIJKLMNOPQRSTUVWXYZ234567/", "d/AB/CDEFGHIJKLMNOPQRSTUVWXYZ234567/dir.uvf",
                    "vault.uvf"]
    assert json.loads(admin_s3.get_object(Bucket=bucket, Key="vault.uvf")["Body"].read()) == {"template": "template A"}


def test_a_second_bucket_creation_is_409(stack, profile, vaults):
    vault_id = vaults["A"]
    token = stack.s3_token("alice", vault_id).json()["access_token"]
    credentials = stack.assume(stack.seaweed.create_bucket_role_arn, token)
    response = stack.call("alice", "PUT", f"/api/storage/{vault_id}", json={
        "vaultId": vault_id, "storageConfigId": profile["id"], "vaultUvf": "{}", "dirUvf": "AAEC",
        "rootDirHash": "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", "region": "us-east-1",
        "awsAccessKey": credentials["AccessKeyId"], "awsSecretKey": credentials["SecretAccessKey"],
        "sessionToken": credentials["SessionToken"]})
    assert response.status_code == 409, response.text


def test_alices_token_for_a_reads_and_writes_bucket_a(stack, vaults):
    s3 = stack.vault_s3("alice", vaults["A"])
    bucket = PREFIX + vaults["A"]
    assert json.loads(s3.get_object(Bucket=bucket, Key="vault.uvf")["Body"].read()) == {"template": "template A"}
    s3.put_object(Bucket=bucket, Key="d/AB/file.uvf", Body=b"ciphertext")
    assert s3.get_object(Bucket=bucket, Key="d/AB/file.uvf")["Body"].read() == b"ciphertext"


@pytest.mark.parametrize("operation", ["get", "put", "list"])
def test_alices_token_for_a_is_denied_on_bucket_b(stack, admin_s3, vaults, operation):
    s3 = stack.vault_s3("alice", vaults["A"])
    other = PREFIX + vaults["B"]
    call = {"get": lambda: s3.get_object(Bucket=other, Key="vault.uvf"),
            "put": lambda: s3.put_object(Bucket=other, Key="vault.uvf", Body=b"overwritten"),
            "list": lambda: s3.list_objects_v2(Bucket=other)}[operation]
    assert error_code(call) == "AccessDenied"
    assert json.loads(admin_s3.get_object(Bucket=other, Key="vault.uvf")["Body"].read()) == {"template": "template B"}


def test_bob_gets_no_token_for_alices_vault(stack, vaults):
    response = stack.s3_token("bob", vaults["A"])
    assert response.status_code == 403
    assert "access_token" not in response.text


def test_sts_refuses_an_expired_token_of_ours(stack, vaults):
    from chalicelib import deps
    from chalicelib.settings import get_settings
    from chalicelib.tokens.s3_token import vault_claims

    issued = int(time.time()) - 900
    expired = deps.pop_keys().sign_jwt(vault_claims(get_settings(), "alice", vaults["A"], issued, 300))
    code = error_code(lambda: stack.assume(stack.seaweed.access_bucket_role_arn, expired))
    assert code in STS_REFUSALS


def test_sts_refuses_our_claims_signed_by_a_foreign_key_with_our_kid(stack, vaults):
    genuine = stack.s3_token("alice", vaults["A"]).json()["access_token"]
    stack.assume(stack.seaweed.access_bucket_role_arn, genuine)  # our key is known and cached
    decoded = jwt.decode(genuine, _published(stack))
    impostor = ECKey.generate_key("P-256", parameters={"kid": decoded.header["kid"]})
    forged = jwt.encode({"alg": "ES256", "kid": decoded.header["kid"], "typ": "JWT"}, decoded.claims, impostor,
                        algorithms=["ES256"])
    for role in (stack.seaweed.access_bucket_role_arn, stack.seaweed.create_bucket_role_arn):
        assert error_code(lambda: stack.assume(role, forged)) in STS_REFUSALS


def _published(stack):
    from joserfc.jwk import KeySet

    return KeySet.import_key_set(requests.get(stack.url + "/.well-known/jwks.json", timeout=10).json())
