"""A transaction whose answer was lost lands once: its ClientRequestToken, honoured as DynamoDB does.

moto ignores the token; the fault layer (``tests/support/faults.py``) answers a repeat of an
applied token with success without reaching moto, and a reused token with other items as a
mismatch, as AWS does. A counter that ``ADD``s one per commit shows how often a change landed.
"""
from __future__ import annotations

import pytest

from chalicelib import errors
from chalicelib.db.table import Table, Transaction
from tests.support import faults
from tests.support.atomic import atomic_items  # noqa: F401 — fixture


@pytest.fixture
def table(aws):
    return Table("katta-test")


@pytest.fixture
def injector(aws):
    with faults.installed() as installed:
        yield installed


def counted(transaction: Transaction | None = None) -> Transaction:
    """One conditional write and one counter: a repeat applied again would fail or count twice."""
    transaction = transaction or Transaction()
    transaction.update("COUNTER", "C", "ADD n :one", values={":one": 1})
    return transaction.put({"pk": "ONCE", "sk": "ITEM"}, condition="attribute_not_exists(pk)")


def count(table: Table) -> int:
    return table.get("COUNTER", "C", consistent=True)["n"]


def test_a_lost_answer_retried_by_the_client_lands_once_and_answers_success(table, injector):
    with injector.failing(("dynamodb", "TransactWriteItems", 1), faults.LOST_RESPONSE, attempts=1):
        table.commit(counted())
    assert injector.fired == 1
    assert count(table) == 1


def test_the_same_transaction_committed_again_after_every_answer_was_lost_lands_once(table, injector):
    """The request answered 503 although its first attempt landed; committing the same transaction
    again (same token) is answered success and changes nothing."""
    transaction = counted()
    with injector.failing(("dynamodb", "TransactWriteItems", 1), faults.LOST_RESPONSE):
        with pytest.raises(errors.ServiceUnavailable):
            table.commit(transaction)
    assert count(table) == 1
    table.commit(transaction)
    assert count(table) == 1


def test_two_transactions_with_equal_items_are_two_changes(table, injector):
    first = Transaction().update("COUNTER", "C", "ADD n :one", values={":one": 1})
    second = Transaction().update("COUNTER", "C", "ADD n :one", values={":one": 1})
    table.commit(first)
    table.commit(second)
    assert count(table) == 2


def test_the_token_follows_the_transaction_and_its_items():
    transaction = counted()
    items = [{"Put": {"Item": {"pk": {"S": "A"}, "sk": {"S": "B"}, "blob": {"B": b"\x00\x01"}}}}]
    token = transaction.request_token(items)
    assert len(token) == 36 and token == transaction.request_token(items)
    renewed = [{"Put": {"Item": {"pk": {"S": "A"}, "sk": {"S": "C"}}}}]
    assert transaction.request_token(renewed) != token  # a renewed key is another request
    assert Transaction().request_token(items) != token


def test_a_token_reused_with_other_items_is_refused_as_dynamodb_does(table, injector):
    """The emulation itself: the same token with other parameters is a mismatch, never applied."""
    from botocore.exceptions import ClientError

    client = table.client
    client.transact_write_items(TransactItems=[{"Put": {"TableName": "katta-test", "Item": {"pk": {"S": "T"}, "sk": {"S": "1"}}}}],
                                ClientRequestToken="t" * 36)
    with pytest.raises(ClientError) as mismatch:
        client.transact_write_items(TransactItems=[{"Put": {"TableName": "katta-test", "Item": {"pk": {"S": "T"}, "sk": {"S": "2"}}}}],
                                    ClientRequestToken="t" * 36)
    assert mismatch.value.response["Error"]["Code"] == "IdempotentParameterMismatchException"
    assert table.get("T", "2") is None


def test_the_local_stacks_moto_honours_the_token_too(table, atomic_items):
    """devstack/moto_atomic.py: the same transaction sent again (a retry after a lost answer) lands once."""
    transaction = counted()
    table.commit(transaction)
    table.commit(transaction)
    assert count(table) == 1
    table.commit(Transaction().update("COUNTER", "C", "ADD n :one", values={":one": 1}))
    assert count(table) == 2  # another transaction with another token is another change
