"""bench.harness.ReplayedAws: the first call of each shape goes to moto, the rest are answered from
the recording — a conditional write recorded as a success succeeds again without writing, and a read
of other keys is not answered with the items of the keys recorded."""
from __future__ import annotations

import os

import boto3
import pytest
from moto import mock_aws

from chalicelib.db.schema import create_table


@pytest.fixture
def harness():
    """bench.harness, whose import sets the bench's environment: the other tests' is given back."""
    saved = dict(os.environ)
    from bench import harness
    yield harness
    os.environ.clear()
    os.environ.update(saved)


def _put(client, pk: str):
    return client.put_item(TableName="replay", Item={"pk": {"S": pk}, "sk": {"S": "A"}},
                           ConditionExpression="attribute_not_exists(pk)")


def test_writes_replay_by_shape_and_reads_by_their_keys(harness):
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_table(client, "replay")
        with harness.ReplayedAws() as replay:
            _put(client, "first")
            # The same conditional put again would fail against moto; replayed, it succeeds as recorded.
            with harness.CallCounter() as counter:
                _put(client, "first")
                _put(client, "second")
            assert replay.recorded == 1 and counter.calls[("dynamodb", "PutItem")] == 2
            first = client.get_item(TableName="replay", Key={"pk": {"S": "first"}, "sk": {"S": "A"}})
            second = client.get_item(TableName="replay", Key={"pk": {"S": "second"}, "sk": {"S": "A"}})
            assert replay.recorded == 3
            first["Item"]["pk"]["S"] = "changed by the caller"
            again = client.get_item(TableName="replay", Key={"pk": {"S": "first"}, "sk": {"S": "A"}})
        assert replay.recorded == 3 and again["Item"]["pk"] == {"S": "first"}
        assert "Item" not in second  # never written: only the recorded put reached moto
        assert "Item" not in client.get_item(TableName="replay", Key={"pk": {"S": "second"}, "sk": {"S": "A"}})
