"""Web-of-trust signatures: ``USER#<signerId>`` / ``TRUST#<signedUserId>``.

A user's signatures live in the signer's partition, so following a chain is
one Query per hop.
"""
from __future__ import annotations

from typing import Any

from chalicelib.store.table import Table, Transaction


def trust_key(signer_id: str, user_id: str) -> tuple[str, str]:
    return f"USER#{signer_id}", f"TRUST#{user_id}"


class TrustRepository:
    def __init__(self, table: Table) -> None:
        self.table = table

    def signed_by(self, signer_id: str) -> list[dict[str, Any]]:
        return list(self.table.query_all(trust_key(signer_id, "")[0], "TRUST#"))

    def put(self, transaction: Transaction, signer_id: str, user_id: str, signature: str,
            signer_key: str | None) -> Transaction:
        pk, sk = trust_key(signer_id, user_id)
        return transaction.put({"pk": pk, "sk": sk, "signerId": signer_id, "userId": user_id,
                                "signature": signature, "signerKey": signer_key})
