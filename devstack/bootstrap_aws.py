"""Creates the table and the KMS management key in the moto server (idempotent)."""
from __future__ import annotations

import os

import boto3

from chalicelib.db.schema import create_table


def ensure_management_key(kms, alias: str) -> str:
    """The key behind ``alias``, created with that alias if missing."""
    try:
        return kms.describe_key(KeyId=alias)["KeyMetadata"]["KeyId"]
    except kms.exceptions.NotFoundException:
        key_id = kms.create_key(Description="Katta management key (local stack)",
                                KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]["KeyId"]
        kms.create_alias(AliasName=alias, TargetKeyId=key_id)
        return key_id


def bootstrap(table_name: str, key_alias: str) -> None:
    create_table(boto3.client("dynamodb"), table_name)
    ensure_management_key(boto3.client("kms"), key_alias)


if __name__ == "__main__":
    bootstrap(os.environ.get("KATTA_TABLE_NAME", "katta"), os.environ.get("KATTA_KMS_KEY_ID", "alias/katta-management"))
