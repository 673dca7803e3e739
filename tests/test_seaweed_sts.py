"""Storage access against a real S3 + STS (SeaweedFS): one token, one vault.

SeaweedFS fetches the test issuer's JWKS over loopback, verifies each web
identity token, applies the role's trust policy and then the access policy
``<prefix>${aws:PrincipalTag/Vault}`` on every S3 call. moto cannot show any
of this (architecture §11).
"""
from __future__ import annotations

import time
import uuid

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from chalicelib.errors import InvalidField
from chalicelib.storage.vault_ids import canonical_vault_id
from devstack.seaweed import DEFAULT_STS_AUDIENCE, start_seaweed
from tests.support.oidc_test_issuer import AWS_TAGS, FLAT_PRINCIPAL_TAGS, OidcTestIssuer, new_signing_key

pytestmark = pytest.mark.slow  # a live stack, a subprocess or a long run: not in the fast lane

PREFIX = "katta-"
CLIENT_CONFIG = Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1})
# What SeaweedFS 4.48 answers for a refused AssumeRoleWithWebIdentity, by cause.
STS_REFUSALS = {"AccessDenied", "ExpiredTokenException", "InvalidIdentityToken", "InvalidParameterValue"}


@pytest.fixture(scope="module")
def issuer():
    issuer = OidcTestIssuer(DEFAULT_STS_AUDIENCE).start()
    yield issuer
    issuer.stop()


@pytest.fixture(scope="module")
def seaweed(issuer, tmp_path_factory):
    with start_seaweed(issuer.url, issuer.jwks_uri, PREFIX, port=0,
                       state_dir=tmp_path_factory.mktemp("seaweed")) as seaweed:
        yield seaweed


@pytest.fixture(scope="module")
def admin(seaweed):
    return boto3.client("s3", endpoint_url=seaweed.endpoint_url, region_name="us-east-1",
                        aws_access_key_id=seaweed.admin.access_key, aws_secret_access_key=seaweed.admin.secret_key,
                        aws_session_token=None, config=CLIENT_CONFIG)


@pytest.fixture(scope="module")
def vaults(admin):
    """Two vault buckets, each holding one object, made by the admin identity."""
    ids = {"A": str(uuid.uuid4()), "B": str(uuid.uuid4())}
    for name, vault_id in ids.items():
        admin.create_bucket(Bucket=PREFIX + vault_id)
        admin.put_object(Bucket=PREFIX + vault_id, Key="vault.uvf", Body=f"template {name}".encode())
    return ids


def sts_client(seaweed):
    return boto3.client("sts", endpoint_url=seaweed.endpoint_url, region_name="us-east-1",
                        aws_access_key_id="unused", aws_secret_access_key="unused", aws_session_token=None,
                        config=CLIENT_CONFIG)


def assume(seaweed, role_arn: str, token: str, session_name: str = "katta-test") -> dict:
    answer = sts_client(seaweed).assume_role_with_web_identity(
        RoleArn=role_arn, RoleSessionName=session_name, WebIdentityToken=token)
    return answer["Credentials"]


def s3_with(seaweed, credentials: dict):
    return boto3.client("s3", endpoint_url=seaweed.endpoint_url, region_name="us-east-1",
                        aws_access_key_id=credentials["AccessKeyId"],
                        aws_secret_access_key=credentials["SecretAccessKey"],
                        aws_session_token=credentials["SessionToken"], config=CLIENT_CONFIG)


def vault_s3(seaweed, issuer, vault_id: str, **claims):
    return s3_with(seaweed, assume(seaweed, seaweed.access_bucket_role_arn, issuer.token(vault_id, **claims)))


def error_code(call) -> str:
    with pytest.raises(ClientError) as refused:
        call()
    return refused.value.response["Error"]["Code"]


def refused_by_sts(seaweed, role_arn: str, token: str) -> str:
    code = error_code(lambda: assume(seaweed, role_arn, token))
    assert code in STS_REFUSALS
    return code


def operations(s3, bucket: str) -> dict:
    """The object operations of a vault client, by name."""
    return {
        "get": lambda: s3.get_object(Bucket=bucket, Key="vault.uvf")["Body"].read(),
        "put": lambda: s3.put_object(Bucket=bucket, Key="d/AB/file.c9r", Body=b"ciphertext"),
        "list": lambda: s3.list_objects_v2(Bucket=bucket),
        "delete": lambda: s3.delete_object(Bucket=bucket, Key="vault.uvf"),
        "head": lambda: s3.head_object(Bucket=bucket, Key="vault.uvf"),
    }


# --- the vault's own bucket ------------------------------------------------------------------

def test_vault_token_reads_writes_lists_and_deletes_in_its_bucket(seaweed, issuer, vaults):
    bucket = PREFIX + vaults["A"]
    s3 = vault_s3(seaweed, issuer, vaults["A"])

    assert s3.get_object(Bucket=bucket, Key="vault.uvf")["Body"].read() == b"template A"
    s3.put_object(Bucket=bucket, Key="d/AB/file.c9r", Body=b"ciphertext")
    assert s3.get_object(Bucket=bucket, Key="d/AB/file.c9r")["Body"].read() == b"ciphertext"
    listed = [entry["Key"] for entry in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert listed == ["d/AB/file.c9r", "vault.uvf"]
    s3.delete_object(Bucket=bucket, Key="d/AB/file.c9r")
    assert [entry["Key"] for entry in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["vault.uvf"]


def test_vault_token_uploads_in_parts(seaweed, issuer, vaults):
    from boto3.s3.transfer import TransferConfig
    import io

    bucket = PREFIX + vaults["A"]
    s3 = vault_s3(seaweed, issuer, vaults["A"])
    chunk = 5 * 1024 * 1024
    s3.upload_fileobj(io.BytesIO(b"c" * (2 * chunk + 1)), bucket, "d/big.c9r",
                      Config=TransferConfig(multipart_threshold=chunk, multipart_chunksize=chunk))
    assert s3.head_object(Bucket=bucket, Key="d/big.c9r")["ContentLength"] == 2 * chunk + 1
    s3.delete_object(Bucket=bucket, Key="d/big.c9r")


# --- another vault's bucket ------------------------------------------------------------------

@pytest.mark.parametrize("operation", ["get", "put", "list", "delete", "head"])
def test_vault_token_is_denied_on_another_vaults_bucket(seaweed, issuer, admin, vaults, operation):
    s3 = vault_s3(seaweed, issuer, vaults["A"])
    code = error_code(operations(s3, PREFIX + vaults["B"])[operation])
    assert code in {"AccessDenied", "403"}
    assert admin.get_object(Bucket=PREFIX + vaults["B"], Key="vault.uvf")["Body"].read() == b"template B"


def test_vault_token_sees_only_its_bucket_and_creates_none(seaweed, issuer, vaults):
    s3 = vault_s3(seaweed, issuer, vaults["A"])
    names = {bucket["Name"] for bucket in s3.list_buckets()["Buckets"]}
    assert PREFIX + vaults["B"] not in names
    assert error_code(lambda: s3.create_bucket(Bucket=PREFIX + str(uuid.uuid4()))) == "AccessDenied"


def test_session_name_does_not_choose_the_vault(seaweed, issuer, vaults):
    # ${aws:username} is the client-chosen session name; the policy must not depend on it.
    token = issuer.token(vaults["A"])
    s3 = s3_with(seaweed, assume(seaweed, seaweed.access_bucket_role_arn, token, session_name=vaults["B"]))
    assert error_code(operations(s3, PREFIX + vaults["B"])["get"]) == "AccessDenied"


def test_a_token_for_vault_b_reaches_b_and_not_a(seaweed, issuer, vaults):
    s3 = vault_s3(seaweed, issuer, vaults["B"])
    assert operations(s3, PREFIX + vaults["B"])["get"]() == b"template B"
    assert error_code(operations(s3, PREFIX + vaults["A"])["get"]) == "AccessDenied"


def test_anonymous_requests_are_denied(seaweed, vaults):
    anonymous = boto3.client("s3", endpoint_url=seaweed.endpoint_url, region_name="us-east-1",
                             config=CLIENT_CONFIG.merge(Config(signature_version=UNSIGNED)))
    for operation in ("get", "put", "list"):
        assert error_code(operations(anonymous, PREFIX + vaults["A"])[operation]) == "AccessDenied"


# --- the create-bucket role ------------------------------------------------------------------

def test_create_bucket_role_creates_a_vault_bucket_with_its_template(seaweed, issuer, admin):
    vault_id = str(uuid.uuid4())
    s3 = s3_with(seaweed, assume(seaweed, seaweed.create_bucket_role_arn, issuer.token(vault_id)))
    s3.create_bucket(Bucket=PREFIX + vault_id)
    s3.put_object(Bucket=PREFIX + vault_id, Key="vault.uvf", Body=b"new template")

    assert admin.get_object(Bucket=PREFIX + vault_id, Key="vault.uvf")["Body"].read() == b"new template"
    assert error_code(lambda: s3.get_object(Bucket=PREFIX + vault_id, Key="vault.uvf")) == "AccessDenied"
    assert error_code(lambda: s3.list_objects_v2(Bucket=PREFIX + vault_id)) == "AccessDenied"
    assert error_code(lambda: s3.create_bucket(Bucket="other-" + vault_id)) == "AccessDenied"


def test_create_bucket_role_cannot_touch_another_vaults_bucket(seaweed, issuer, vaults):
    vault_id = str(uuid.uuid4())
    s3 = s3_with(seaweed, assume(seaweed, seaweed.create_bucket_role_arn, issuer.token(vault_id)))
    assert error_code(lambda: s3.put_object(Bucket=PREFIX + vaults["B"], Key="vault.uvf", Body=b"x")) == "AccessDenied"
    assert error_code(lambda: s3.create_bucket(Bucket=PREFIX + str(uuid.uuid4()))) == "AccessDenied"


def test_access_role_token_then_works_on_the_new_bucket(seaweed, issuer):
    vault_id = str(uuid.uuid4())
    creator = s3_with(seaweed, assume(seaweed, seaweed.create_bucket_role_arn, issuer.token(vault_id)))
    creator.create_bucket(Bucket=PREFIX + vault_id)
    creator.put_object(Bucket=PREFIX + vault_id, Key="vault.uvf", Body=b"fresh")
    assert operations(vault_s3(seaweed, issuer, vault_id), PREFIX + vault_id)["get"]() == b"fresh"


# --- tokens STS must refuse ------------------------------------------------------------------

def test_expired_token_is_refused(seaweed, issuer, vaults):
    past = int(time.time()) - 600
    token = issuer.token(vaults["A"], iat=past, exp=past + 300)
    assert refused_by_sts(seaweed, seaweed.access_bucket_role_arn, token) == "ExpiredTokenException"


def test_token_signed_by_a_foreign_key_with_our_kid_is_refused(seaweed, issuer, vaults):
    assume(seaweed, seaweed.access_bucket_role_arn, issuer.token(vaults["A"]))  # our key is known and cached
    fetches = issuer.fetches
    impostor = new_signing_key(kid=issuer.key.kid)
    for role in (seaweed.access_bucket_role_arn, seaweed.create_bucket_role_arn):
        refused_by_sts(seaweed, role, issuer.token(vaults["A"], key=impostor))
    assert issuer.fetches == fetches  # a known kid is checked against the cached key, no refetch


def test_token_signed_by_an_unpublished_key_is_refused_after_one_refetch(seaweed, issuer, vaults):
    assume(seaweed, seaweed.access_bucket_role_arn, issuer.token(vaults["A"]))
    fetches = issuer.fetches
    refused_by_sts(seaweed, seaweed.access_bucket_role_arn, issuer.token(vaults["A"], key=new_signing_key()))
    assert issuer.fetches == fetches + 1


def test_a_key_added_to_the_jwks_is_picked_up_on_its_first_use(seaweed, issuer, vaults):
    rotated = new_signing_key()
    issuer.keys.append(rotated)
    try:
        s3 = s3_with(seaweed, assume(seaweed, seaweed.access_bucket_role_arn, issuer.token(vaults["A"], key=rotated)))
        assert operations(s3, PREFIX + vaults["A"])["get"]() == b"template A"
    finally:
        issuer.keys.remove(rotated)


def test_token_with_another_audience_is_refused(seaweed, issuer, vaults):
    refused_by_sts(seaweed, seaweed.access_bucket_role_arn, issuer.token(vaults["A"], aud="katta"))


def test_audience_as_a_list_is_refused_by_the_trust_policy(seaweed, issuer, vaults):
    # SeaweedFS sets oidc:aud only from a single-string aud: the token service must mint one.
    token = issuer.token(vaults["A"], aud=[DEFAULT_STS_AUDIENCE])
    assert refused_by_sts(seaweed, seaweed.access_bucket_role_arn, token) == "AccessDenied"


def test_token_without_aud_but_a_matching_azp_is_refused_by_the_trust_policy(seaweed, issuer, vaults):
    # The provider alone would accept azp in place of aud; the oidc:aud condition does not.
    token = issuer.token(vaults["A"], aud=None, azp=DEFAULT_STS_AUDIENCE)
    assert refused_by_sts(seaweed, seaweed.access_bucket_role_arn, token) == "AccessDenied"


def test_token_of_another_issuer_is_refused(seaweed, issuer, vaults):
    refused_by_sts(seaweed, seaweed.access_bucket_role_arn, issuer.token(vaults["A"], iss=issuer.url + "/other"))


def test_token_without_kid_is_refused(seaweed, issuer, vaults):
    from joserfc import jwt

    token = jwt.encode({"alg": "ES256"}, issuer.claims(vaults["A"]), issuer.key, algorithms=["ES256"])
    refused_by_sts(seaweed, seaweed.access_bucket_role_arn, token)


def test_unknown_role_is_refused(seaweed, issuer, vaults):
    refused_by_sts(seaweed, "arn:aws:iam::role/katta-admin", issuer.token(vaults["A"]))


# --- what the tag claim must look like -------------------------------------------------------

def test_without_the_flat_tag_claim_the_session_reaches_no_bucket(seaweed, issuer, vaults):
    # SeaweedFS reads only the flat claim; the nested AWS claim alone leaves the tag unset.
    s3 = vault_s3(seaweed, issuer, vaults["A"], **{FLAT_PRINCIPAL_TAGS: None})
    assert error_code(operations(s3, PREFIX + vaults["A"])["get"]) == "AccessDenied"


def test_without_any_tag_claim_the_session_reaches_no_bucket(seaweed, issuer, vaults):
    s3 = vault_s3(seaweed, issuer, vaults["A"], **{FLAT_PRINCIPAL_TAGS: None, AWS_TAGS: None})
    for vault_id in vaults.values():
        assert error_code(operations(s3, PREFIX + vault_id)["get"]) == "AccessDenied"


def test_the_tag_not_the_scope_decides_the_bucket(seaweed, issuer, vaults):
    s3 = vault_s3(seaweed, issuer, vaults["A"], tag=vaults["B"])
    assert operations(s3, PREFIX + vaults["B"])["get"]() == b"template B"
    assert error_code(operations(s3, PREFIX + vaults["A"])["get"]) == "AccessDenied"


def test_seaweedfs_does_not_require_exp(seaweed, issuer, vaults):
    # Measured: a token without exp is accepted. The token service must always set a short exp.
    assume(seaweed, seaweed.access_bucket_role_arn, issuer.token(vaults["A"], exp=None))


# --- why vault ids are validated before they reach a token ------------------------------------

WIDENING_TAGS = {  # a tag that names vault B without being B's canonical id
    "star": lambda other: "*",
    "question-marks": lambda other: "?" * 36,
    "prefix-star": lambda other: other[:9] + "*",
    "upper-case": lambda other: other.upper(),
}


@pytest.mark.parametrize("shape", sorted(WIDENING_TAGS))
def test_a_patterned_tag_would_widen_access_so_the_server_refuses_such_ids(seaweed, issuer, vaults, shape):
    """SeaweedFS substitutes the tag into the policy and matches it as a case-insensitive glob.

    A vault-A token carrying such a tag reaches vault B. Our server never mints one:
    canonical_vault_id refuses every one of these values.
    """
    tag = WIDENING_TAGS[shape](vaults["B"])
    with pytest.raises(InvalidField):
        canonical_vault_id(tag)

    s3 = vault_s3(seaweed, issuer, vaults["A"], tag=tag)
    assert operations(s3, PREFIX + vaults["B"])["get"]() == b"template B"
