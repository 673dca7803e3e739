"""A change that loses a race is decided again on a fresh read; an outage is not retried here.

``Transactions.resolving_races`` is what the member routes commit through
(tests/test_concurrency.py races them); here its limits, with the pauses counted, not slept.
"""
from __future__ import annotations

import pytest

from chalicelib import errors
from chalicelib.db.table import RACE_ATTEMPTS, ConditionFailed, Contended, Table, Transaction, Transactions
from tests.support import faults


class Change:
    """Fails with ``error`` the first ``losses`` times, then answers "done"."""

    def __init__(self, error: Exception, losses: int) -> None:
        self.error, self.losses, self.calls = error, losses, 0

    def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.losses:
            raise self.error
        return "done"


@pytest.fixture
def pauses():
    return []


@pytest.fixture
def transactions(pauses):
    return Transactions(Table("unused"), sleep=pauses.append)


@pytest.mark.parametrize("error", [ConditionFailed(), Contended()], ids=["condition", "contended"])
def test_a_lost_race_is_decided_again_after_a_jittered_pause(transactions, pauses, error):
    change = Change(error, RACE_ATTEMPTS - 1)
    assert transactions.resolving_races(change) == "done"
    assert change.calls == RACE_ATTEMPTS
    assert len(pauses) == RACE_ATTEMPTS - 1
    assert all(0 <= p < 0.01 * 2 ** n for n, p in enumerate(pauses))


@pytest.mark.parametrize("error", [ConditionFailed(), Contended()], ids=["condition", "contended"])
def test_a_race_lost_every_time_surfaces(transactions, error):
    change = Change(error, RACE_ATTEMPTS)
    with pytest.raises(type(error)):
        transactions.resolving_races(change)
    assert change.calls == RACE_ATTEMPTS


@pytest.mark.parametrize("error", [errors.ServiceUnavailable(), errors.Conflict("a vault must keep at least one owner")],
                         ids=["outage", "rule"])
def test_an_outage_or_a_rule_is_not_retried(transactions, pauses, error):
    change = Change(error, 1)
    with pytest.raises(type(error)):
        transactions.resolving_races(change)
    assert change.calls == 1 and pauses == []


def test_a_transaction_cancelled_by_a_concurrent_one_is_contended(aws):
    table = Table("katta-test")
    transaction = Transaction().put({"pk": "RACE", "sk": "ITEM"}, condition="attribute_not_exists(pk)")
    with faults.installed() as injector:
        with injector.failing(("dynamodb", "TransactWriteItems", 1), faults.TRANSACTION_CONFLICT):
            with pytest.raises(Contended) as contended:
                table.commit(transaction)
    assert contended.value.status == 503 and contended.value.headers["Retry-After"] == "1"
    assert table.get("RACE", "ITEM") is None
