"""The deploy command (``scripts/deploy --stage NAME --settings FILE [--dry-run]``).

One settings file (TOML, see ``infra/settings.example.toml``) is the only thing an operator
writes. Every value is checked against the others before anything is created — the Lambda's
settings by the same model that checks them at start, the issuer against the domain, the bucket
prefix against the template's pattern and the storage profile's rules, the certificate against the
region — and every derived value (table, key alias, issuer URL, bucket prefix, stack name) is
written once, here, into the Chalice config, the template's parameters and the storage profile.
Then: ``chalice package`` with ``infra/template.yaml`` merged, cfn-lint, the code uploaded and a
CloudFormation change set executed, the custom domain mapped (Chalice's
``api_gateway_custom_domain``), the S3 STS storage profile seeded from the stack's outputs, and
what to register with the IdP printed. ``--dry-run`` does everything that needs no AWS (checks,
rendering, package, lint) and prints what it would do.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
STAGES = ("dev", "prod")
CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]
# What the deploy command sets itself, from the file's top-level values: never in [settings].
DERIVED_SETTINGS = ("stage", "public_base_url", "table_name", "kms_key_id", "sts_audience", "trusted_issuers")
_HOSTNAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
# infra/template.yaml's BucketPrefix pattern: the vault id (36) must still fit a bucket name (63).
_BUCKET_PREFIX = re.compile(r"^[a-z0-9][a-z0-9.-]{0,24}$")
_CERTIFICATE = re.compile(r"^arn:aws[a-z-]*:acm:([a-z0-9-]+):\d{12}:certificate/[0-9a-f-]+$")
_KNOWN_KEYS = {"region", "domain", "certificate_arn", "artifact_bucket", "bucket_prefix", "sts_audience",
               "management_key_arn", "extra_kms_key_arns", "trusted_issuers", "settings"}
_KMS_KEY = re.compile(r"^arn:aws[a-z-]*:kms:([a-z0-9-]+):\d{12}:key/[0-9a-f-]+$")
PROFILE_NAME = "AWS S3 (STS)"


class DeployError(Exception):
    """A refusal, with every problem found (one per line): nothing was created."""


@dataclass(frozen=True)
class Plan:
    stage: str
    region: str
    domain: str
    certificate_arn: str | None
    artifact_bucket: str
    bucket_prefix: str
    sts_audience: str
    trusted_issuers: list[dict[str, Any]]
    settings: dict[str, Any] = field(default_factory=dict)
    # A replacement of the stack's management key (docs/runbook.md): new ring versions are wrapped
    # under it, and the service may use it and the extra keys beside the stack's own.
    management_key_arn: str | None = None
    extra_kms_key_arns: tuple[str, ...] = ()

    @property
    def stack_name(self) -> str:
        return f"katta-{self.stage}"

    @property
    def base_url(self) -> str:
        return f"https://{self.domain}"

    def environment(self) -> dict[str, str]:
        """The Lambda's ``KATTA_*`` variables."""
        values = {"stage": self.stage, "public_base_url": self.base_url, "table_name": f"katta-{self.stage}",
                  "kms_key_id": self.management_key_arn or f"alias/katta-{self.stage}-management",
                  "sts_audience": self.sts_audience,
                  "trusted_issuers": self.trusted_issuers, **self.settings}
        return {f"KATTA_{k.upper()}": v if isinstance(v, str) else json.dumps(v) for k, v in values.items()}

    def parameters(self) -> dict[str, str]:
        """infra/template.yaml's parameters, from the same values as the environment."""
        keys = dict.fromkeys((*((self.management_key_arn,) if self.management_key_arn else ()),
                              *self.extra_kms_key_arns))
        return {"Stage": self.stage, "IssuerUrl": self.base_url, "StsAudience": self.sts_audience,
                "BucketPrefix": self.bucket_prefix, "ExtraKmsKeyArns": ",".join(keys)}

    def chalice_config(self) -> dict[str, Any]:
        config = json.loads((ROOT / ".chalice" / "config.json").read_text())
        stage: dict[str, Any] = {"api_gateway_stage": "api", "iam_policy_file": f"policy-{self.stage}.json",
                                 "api_gateway_endpoint_type": "REGIONAL", "environment_variables": self.environment()}
        if self.certificate_arn:
            stage["api_gateway_custom_domain"] = {"domain_name": self.domain, "certificate_arn": self.certificate_arn,
                                                  "tls_version": "TLS_1_2"}
        return {**config, "environment_variables": {}, "stages": {self.stage: stage}}


def load(stage: str, path: Path) -> Plan:
    try:
        raw = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise DeployError(f"{path}: {exc}") from None
    return check(stage, raw)


def check(stage: str, raw: dict[str, Any]) -> Plan:
    """The plan, or DeployError naming every value that is wrong or disagrees with another."""
    problems: list[str] = []
    if stage not in STAGES:
        problems.append(f"--stage: must be one of {', '.join(STAGES)}")
    problems += [f"{key}: not a setting of the deploy file" for key in sorted(set(raw) - _KNOWN_KEYS)]
    region, domain = str(raw.get("region", "")), str(raw.get("domain", ""))
    if not _REGION.fullmatch(region):
        problems.append("region: an AWS region such as eu-central-1 is required")
    if not _HOSTNAME.fullmatch(domain):
        problems.append("domain: the API's host name (no scheme, no path), e.g. katta.example.com, is required; "
                        "our issuer is https://<domain>")
    certificate = raw.get("certificate_arn")
    if certificate is not None:
        match = _CERTIFICATE.fullmatch(str(certificate))
        if match is None:
            problems.append("certificate_arn: an ACM certificate ARN is required")
        elif match.group(1) != region:
            # A regional custom domain needs its certificate in the API's own region.
            problems.append(f"certificate_arn: the certificate is in {match.group(1)}, the API in {region}")
    if not _BUCKET.fullmatch(str(raw.get("artifact_bucket", ""))):
        problems.append("artifact_bucket: an existing S3 bucket for the deployment package is required")
    prefix = str(raw.get("bucket_prefix", "katta-vault-"))
    if not _BUCKET_PREFIX.fullmatch(prefix):
        problems.append("bucket_prefix: lower-case letters, digits, '.' and '-', at most 25 characters")
    keys = [raw["management_key_arn"]] if "management_key_arn" in raw else []
    extra_keys = raw.get("extra_kms_key_arns", [])
    if not isinstance(extra_keys, list):
        problems.append("extra_kms_key_arns: a list of KMS key ARNs")
        extra_keys = []
    for key in (*keys, *extra_keys):
        match = _KMS_KEY.fullmatch(str(key))
        if match is None:
            problems.append(f"management_key_arn / extra_kms_key_arns: {key!r} is not a KMS key ARN (an alias "
                            "cannot be granted)")
        elif match.group(1) != region:
            problems.append(f"management_key_arn / extra_kms_key_arns: {key} is in {match.group(1)}, the API in {region}")
    issuers = raw.get("trusted_issuers")
    if not isinstance(issuers, list) or not issuers:
        problems.append("trusted_issuers: at least one [[trusted_issuers]] entry (your IdP) is required")
        issuers = []
    extra = raw.get("settings", {})
    if not isinstance(extra, dict):
        problems.append("settings: a table of KATTA_ settings by their names without the prefix")
        extra = {}
    problems += [f"settings.{k}: set by the deploy command (top-level value), not here"
                 for k in sorted(set(extra) & set(DERIVED_SETTINGS))]
    if problems:
        raise DeployError("\n".join(problems))
    plan = Plan(stage, region, domain, certificate, raw["artifact_bucket"], prefix,
                str(raw.get("sts_audience", "sts.amazonaws.com")), issuers, extra,
                raw.get("management_key_arn"), tuple(extra_keys))
    problems += _settings_problems(plan) + _profile_problems(plan)
    if problems:
        raise DeployError("\n".join(problems))
    return plan


def _settings_problems(plan: Plan) -> list[str]:
    """The Lambda's settings, checked by the model that checks them at its start."""
    from pydantic import ValidationError

    from chalicelib.settings import Settings, describe
    unknown = sorted(set(plan.settings) - set(Settings.model_fields))
    if unknown:
        return [f"settings.{name}: not a setting (README, Settings)" for name in unknown]
    values = {k.removeprefix("KATTA_").lower(): v for k, v in plan.environment().items()}
    try:
        Settings(**{k: json.loads(v) if k in ("trusted_issuers", "token_exchange_audiences") else v
                    for k, v in values.items()})
    except ValidationError as error:
        return [describe(error)]
    return []


def _profile_problems(plan: Plan) -> list[str]:
    from pydantic import ValidationError
    try:
        storage_profile(plan, "arn:aws:iam::000000000000:role/check", "arn:aws:iam::000000000000:role/check")
    except ValidationError as error:
        return [f"bucket_prefix: {e['msg']}" for e in error.errors(include_url=False)]
    return []


def storage_profile(plan: Plan, create_bucket_role: str, access_bucket_role: str) -> dict[str, Any]:
    from devstack.seed_profile import sts_profile
    return sts_profile(PROFILE_NAME, plan.region, plan.bucket_prefix, create_bucket_role, access_bucket_role)


def render(plan: Plan, out: Path) -> Path:
    """A Chalice project for the stage under ``out``: the code as it is, the config from the plan."""
    project = out / "project"
    if project.exists():
        shutil.rmtree(project)
    (project / ".chalice").mkdir(parents=True)
    shutil.copy(ROOT / "app.py", project)
    shutil.copy(ROOT / "requirements.txt", project)
    shutil.copytree(ROOT / "chalicelib", project / "chalicelib", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / ".chalice" / f"policy-{plan.stage}.json", project / ".chalice")
    (project / ".chalice" / "config.json").write_text(json.dumps(plan.chalice_config(), indent=2) + "\n")
    (out / "parameters.json").write_text(json.dumps(plan.parameters(), indent=2) + "\n")
    return project


def package(plan: Plan, project: Path, out: Path) -> Path:
    """``chalice package`` with our template merged, then cfn-lint on the result."""
    target = out / "package"
    if target.exists():
        shutil.rmtree(target)
    _run([str(BIN / "chalice"), "--project-dir", str(project), "package", "--stage", plan.stage,
          "--merge-template", str(ROOT / "infra" / "template.yaml"), "--template-format", "yaml", str(target)],
         env_region=plan.region)
    template = target / "sam.yaml"
    _run([str(BIN / "cfn-lint"), "--regions", plan.region, "--", str(template)])
    return template


def _run(command: list[str], env_region: str | None = None) -> None:
    env = {**os.environ, **({"AWS_DEFAULT_REGION": env_region} if env_region else {})}
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise DeployError(f"{Path(command[0]).name} failed:\n{result.stdout}{result.stderr}")


def deploy(plan: Plan, template: Path) -> dict[str, str]:
    """Uploads the code, creates or updates the stack through a change set; the stack's outputs."""
    import boto3

    session = boto3.session.Session(region_name=plan.region)
    s3 = session.client("s3")
    code = template.parent / "deployment.zip"
    digest = hashlib.sha256(code.read_bytes()).hexdigest()
    s3.upload_file(str(code), plan.artifact_bucket, f"{plan.stack_name}/{digest}.zip")
    body = template.read_text().replace("./deployment.zip", f"s3://{plan.artifact_bucket}/{plan.stack_name}/{digest}.zip")
    # The merged template is larger than CreateChangeSet's inline limit (51,200 bytes): it goes by URL.
    template_key = f"{plan.stack_name}/{hashlib.sha256(body.encode()).hexdigest()}.yaml"
    s3.put_object(Bucket=plan.artifact_bucket, Key=template_key, Body=body.encode())
    template_url = f"https://{plan.artifact_bucket}.s3.{plan.region}.amazonaws.com/{template_key}"
    cloudformation = session.client("cloudformation")
    exists = _stack_exists(cloudformation, plan.stack_name)
    change_set = f"deploy-{digest[:16]}-{int(time.time())}"
    cloudformation.create_change_set(
        StackName=plan.stack_name, ChangeSetName=change_set, ChangeSetType="UPDATE" if exists else "CREATE",
        TemplateURL=template_url, Capabilities=CAPABILITIES,
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in plan.parameters().items()])
    from botocore.exceptions import WaiterError
    try:
        cloudformation.get_waiter("change_set_create_complete").wait(StackName=plan.stack_name,
                                                                     ChangeSetName=change_set)
    except WaiterError:
        reason = cloudformation.describe_change_set(StackName=plan.stack_name, ChangeSetName=change_set)
        if "didn't contain changes" not in reason.get("StatusReason", ""):
            raise DeployError(f"change set {change_set} failed: {reason.get('StatusReason')}") from None
    else:
        cloudformation.execute_change_set(StackName=plan.stack_name, ChangeSetName=change_set)
        waiter = "stack_update_complete" if exists else "stack_create_complete"
        try:
            cloudformation.get_waiter(waiter).wait(StackName=plan.stack_name)
        except WaiterError as error:
            raise DeployError(f"stack {plan.stack_name} did not deploy ({error}); see its events: "
                              f"aws cloudformation describe-stack-events --stack-name {plan.stack_name}") from None
    (stack,) = cloudformation.describe_stacks(StackName=plan.stack_name)["Stacks"]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def _stack_exists(cloudformation, name: str) -> bool:
    from botocore.exceptions import ClientError
    try:
        cloudformation.describe_stacks(StackName=name)
    except ClientError as exc:
        if "does not exist" in str(exc):
            return False
        raise
    return True


def seed(plan: Plan, outputs: dict[str, str]) -> dict[str, Any]:
    """The S3 STS storage profile, from the stack's roles, written once (its id is derived)."""
    from devstack.seed_profile import seed_storage_profile
    record = storage_profile(plan, outputs["CreateBucketRoleArn"], outputs["AccessBucketRoleArn"])
    return seed_storage_profile(outputs["TableName"], record=record)


def registration(plan: Plan) -> str:
    """What to register with the IdP and tell the desktop clients (README, "Desktop clients")."""
    issuer = plan.trusted_issuers[0]
    client_id = issuer.get("client_id", "katta-cli")
    lines = [
        f"Hub URL for desktop clients and the katta CLI: {plan.base_url}  (GET {plan.base_url}/api/config)",
        f"Register with your IdP ({issuer['issuer']}):",
        f"  API / audience: {issuer['audience']}",
        f"  public client {client_id} (no secret; authorization code + PKCE S256; device grant where offered),",
        "    redirect URIs: http://127.0.0.1/* (Cryptomator and Katta desktop, the katta CLI: loopback, any port),",
        "    org.cryptomator.ios:/hub/auth and org.cryptomator.android:/hub/auth (Cryptomator mobile)",
        "  roles or groups for user, create-vaults, admin (KATTA_TRUSTED_ISSUERS role_map)",
        f"AWS IAM trusts {plan.base_url} for {plan.sts_audience} (the stack's OIDC provider): nothing to register.",
    ]
    if plan.settings.get("scim_token_sha256"):
        lines.append(f"SCIM provisioning: tenant URL {plan.base_url}/scim/v2, the secret whose SHA-256 you configured")
    if not plan.certificate_arn:
        lines.append(f"Map {plan.domain} to the stack's REST API (stage api, empty base path) yourself: "
                     "no certificate_arn was given")
    else:
        lines.append(f"DNS: point {plan.domain} (CNAME or alias) at the regional domain name of the API's custom "
                     f"domain: aws apigateway get-domain-name --domain-name {plan.domain} "
                     "--query regionalDomainName")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/deploy", description=__doc__.split("\n\n")[0])
    parser.add_argument("--stage", required=True, help="dev or prod; the stack is katta-<stage>")
    parser.add_argument("--settings", required=True, type=Path, help="the deploy file (infra/settings.example.toml)")
    parser.add_argument("--dry-run", action="store_true", help="check, render, package and lint; create nothing")
    parser.add_argument("--out", type=Path, default=None, help="build directory (default out/<stage>)")
    args = parser.parse_args(argv)
    out = args.out or ROOT / "out" / args.stage
    try:
        plan = load(args.stage, args.settings)
        print(f"checked: stack {plan.stack_name} in {plan.region}, issuer {plan.base_url}, "
              f"buckets {plan.bucket_prefix}<vault id>")
        template = package(plan, render(plan, out), out)
        print(f"packaged and linted: {template}")
        if args.dry_run:
            print(f"would upload the code to s3://{plan.artifact_bucket}/{plan.stack_name}/, deploy {plan.stack_name} "
                  f"with {json.dumps(plan.parameters())}, map {plan.domain if plan.certificate_arn else 'no domain'}, "
                  f"and seed the storage profile '{PROFILE_NAME}' from the stack's outputs")
        else:
            outputs = deploy(plan, template)
            profile = seed(plan, outputs)
            print(f"deployed {plan.stack_name}; storage profile {profile['name']} ({profile['id']})")
        print(registration(plan))
    except DeployError as error:
        print(f"deploy refused:\n{error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
