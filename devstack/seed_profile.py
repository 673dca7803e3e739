"""Seeds the local S3 STS storage profile (SeaweedFS) so ``katta vault create`` works out of the box.

Idempotent: the profile's id is derived from its endpoint and roles, and it is written only if
absent. Its values come from ``Seaweed.server_environment()`` (the ``KATTA_S3_*``/``KATTA_STS_*``
settings the API is started with). ``python -m devstack.seed_profile`` reads them from the
environment, like ``devstack.bootstrap_aws``.
"""
from __future__ import annotations

import os
import uuid
from typing import Any, Mapping

PROFILE_NAME = "Local SeaweedFS (S3 STS)"
REGION = "us-east-1"
_NAMESPACE = uuid.UUID("6f1d3c1e-5b7a-4e43-9a55-6b6174746100")


def sts_profile(name: str, region: str, bucket_prefix: str, create_bucket_role: str, access_bucket_role: str, *,
                endpoint: str | None = None, sts_endpoint: str | None = None,
                path_style: bool = False) -> dict[str, Any]:
    """An S3 STS storage profile, validated as the API validates an admin's ``POST /api/storageprofile``;
    its id is derived from what it points at, so seeding it again finds it."""
    from chalicelib.storage.formats import ProfileInput

    profile = ProfileInput.model_validate({
        "name": name, "protocol": "S3STS", "endpoint": endpoint, "pathStyleAccessEnabled": path_style,
        "region": region, "regions": [region], "bucketPrefix": bucket_prefix, "stsEndpoint": sts_endpoint,
        "stsRoleCreateBucketClient": create_bucket_role, "stsRoleCreateBucketHub": create_bucket_role,
        "stsRoleAccessBucketAssumeRoleWithWebIdentity": access_bucket_role,
    }).root
    record = profile.model_dump(mode="json", exclude={"id"}, exclude_none=True)
    identity = "|".join(str(record.get(k)) for k in ("endpoint", "bucketPrefix", "stsRoleCreateBucketClient",
                                                     "stsRoleAccessBucketAssumeRoleWithWebIdentity"))
    return {**record, "id": str(uuid.uuid5(_NAMESPACE, identity))}


def profile_record(environment: Mapping[str, str]) -> dict[str, Any]:
    """The local stack's profile, from the settings SeaweedFS gives the API."""
    return sts_profile(PROFILE_NAME, REGION, environment["KATTA_BUCKET_PREFIX"],
                       environment["KATTA_STS_CREATE_BUCKET_ROLE_ARN"], environment["KATTA_STS_ACCESS_BUCKET_ROLE_ARN"],
                       endpoint=environment["KATTA_S3_ENDPOINT_URL"], sts_endpoint=environment["KATTA_STS_ENDPOINT_URL"],
                       path_style=True)


def seed_storage_profile(table_name: str, environment: Mapping[str, str] = os.environ,
                         record: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write ``record`` (the local stack's profile by default) into ``table_name`` unless it is there; returns it."""
    from chalicelib.db.storage_profiles import StorageProfileRepository
    from chalicelib.db.table import ConditionFailed, Table, Transaction

    table = Table(table_name)
    repository = StorageProfileRepository(table)
    record = record or profile_record(environment)
    existing = repository.get(record["id"])
    if existing is not None:
        return existing
    try:
        table.commit(repository.create(Transaction(), record))
    except ConditionFailed:  # seeded concurrently: same id, same content
        pass
    return record


if __name__ == "__main__":
    seeded = seed_storage_profile(os.environ.get("KATTA_TABLE_NAME", "katta"))
    print(f"storage profile {seeded['name']} ({seeded['id']}) at {seeded['endpoint']}")
