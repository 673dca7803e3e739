"""db/table.py decodes DynamoDB's typed attributes itself (boto3's TypeDeserializer was a fifth of a
warm request's CPU): the same values as boto3's, with numbers as JSON-ready ints (floats only with
a fractional part)."""
from __future__ import annotations

from decimal import Decimal

import pytest

from boto3.dynamodb.types import Binary, TypeDeserializer, TypeSerializer

from chalicelib.db.table import from_dynamo, to_dynamo

ITEM = {
    "pk": "VAULT#v", "n": 5, "big": 2**53 - 1, "negative": -17, "fraction": Decimal("1.5"), "flag": True,
    "nothing": None, "blob": b"\x00\xffsealed", "names": {"a", "b"}, "numbers": {1, 2, 3}, "blobs": {b"x", b"y"},
    "nested": {"list": [1, "two", {"three": Decimal("3.25")}, [False]], "empty": {}}, "empty_list": [],
}


def _boto3(value):
    """What the decoding was: boto3's values, Decimals made int (or float), Binary made bytes."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, Binary):
        return bytes(value)
    if isinstance(value, dict):
        return {k: _boto3(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_boto3(v) for v in value]
    if isinstance(value, set):
        return {_boto3(v) for v in value}
    return value


def test_items_decode_as_boto3_decodes_them():
    typed = {k: TypeSerializer().serialize(v) for k, v in ITEM.items()}
    assert from_dynamo(typed) == {k: _boto3(TypeDeserializer().deserialize(v)) for k, v in typed.items()}
    decoded = from_dynamo(typed)
    assert type(decoded["n"]) is int and type(decoded["big"]) is int and decoded["fraction"] == 1.5
    assert type(decoded["nested"]["list"][2]["three"]) is float and decoded["blob"] == b"\x00\xffsealed"


def test_numbers_in_any_notation_are_integers_when_whole():
    assert from_dynamo({"a": {"N": "1E+3"}, "b": {"N": "10.0"}, "c": {"N": "-0.5"}}) == {"a": 1000, "b": 10, "c": -0.5}
    assert type(from_dynamo({"a": {"N": "1E+3"}})["a"]) is int


def test_what_is_written_reads_back():
    plain = {k: v for k, v in ITEM.items() if v is not None}
    assert from_dynamo(to_dynamo(plain)) == _boto3(plain)


def test_items_encode_as_boto3_encodes_them():
    ours, theirs = to_dynamo(ITEM), {k: TypeSerializer().serialize(v) for k, v in ITEM.items() if v is not None}
    as_sets = {"SS", "NS", "BS"}
    normal = lambda typed: {k: ({t: sorted(v) for t, v in a.items()} if set(a) & as_sets else a) for k, a in typed.items()}  # noqa: E731
    assert normal(ours) == normal(theirs)
    for refused in (1.5, set(), {1, "a"}, object()):
        with pytest.raises(TypeError):
            to_dynamo({"x": refused})
