"""Web-of-trust signatures: ``USER#<signerId>`` / ``TRUST#<signedUserId>``.

A user's signatures live in the signer's partition, so following a chain is
one Query per hop.
"""
from __future__ import annotations

from typing import Any

from chalicelib.db import keys
from chalicelib.db.table import Table, Transaction


class TrustRepository:
    def __init__(self, table: Table) -> None:
        self.table = table

    def signed_by(self, signer_id: str) -> list[dict[str, Any]]:
        return list(self.table.query_all(keys.trust_signature(signer_id, "")[0], keys.TRUST_PREFIX))

    def put(self, transaction: Transaction, signer_id: str, user_id: str, signature: str,
            signer_key: str | None) -> Transaction:
        pk, sk = keys.trust_signature(signer_id, user_id)
        return transaction.put({"pk": pk, "sk": sk, "signerId": signer_id, "userId": user_id,
                                "signature": signature, "signerKey": signer_key})

    def remove(self, transaction: Transaction, signer_id: str, user_id: str) -> Transaction:
        return transaction.delete(*keys.trust_signature(signer_id, user_id))
