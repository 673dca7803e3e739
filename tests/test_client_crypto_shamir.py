"""Shamir's secret sharing in npm ``shamir-secret-sharing``'s format: its shares combine here, ours
combine to the same secret, and the refusals name what is wrong."""
from __future__ import annotations

import base64
import json
import os
from itertools import combinations
from pathlib import Path

import pytest

from katta_client.crypto import InvalidFormat
from katta_client.crypto import shamir

VECTORS = json.loads((Path(__file__).parent / "reference" / "shamir-vectors.json").read_text())["cases"]


@pytest.mark.parametrize("case", VECTORS, ids=lambda c: f"{c['threshold']}-of-{len(c['shares'])}")
def test_shares_the_npm_package_wrote_combine_in_any_subset_of_the_threshold(case):
    secret, shares = base64.b64decode(case["secret"]), [base64.b64decode(s) for s in case["shares"]]
    for subset in combinations(shares, case["threshold"]):
        assert shamir.combine(list(subset)) == secret
    assert shamir.combine(shares) == secret  # more than needed works too


@pytest.mark.parametrize("case", [c for c in VECTORS if c["threshold"] > 2], ids=lambda c: f"{c['threshold']}")
def test_fewer_shares_than_the_threshold_give_another_secret(case):
    shares = [base64.b64decode(s) for s in case["shares"]]
    assert shamir.combine(shares[:case["threshold"] - 1]) != base64.b64decode(case["secret"])


@pytest.mark.parametrize(("n", "k", "length"), [(2, 2, 1), (3, 2, 48), (5, 3, 185), (255, 2, 4)])
def test_our_shares_have_the_npm_layout_and_combine(n, k, length):
    secret = os.urandom(length)
    shares = shamir.split(secret, n, k)
    assert len(shares) == n and all(len(s) == length + 1 for s in shares)
    assert len({s[-1] for s in shares}) == n and 0 not in {s[-1] for s in shares}  # x last, distinct, not 0
    assert shamir.combine(shares[-k:]) == secret


def test_a_tampered_share_combines_into_a_wrong_secret_without_an_error():
    secret = os.urandom(32)
    first, second, _ = shamir.split(secret, 3, 2)
    tampered = bytes([first[0] ^ 1]) + first[1:]
    assert shamir.combine([tampered, second]) != secret


@pytest.mark.parametrize(("secret", "n", "k", "words"), [
    (b"", 3, 2, "empty"), (b"s", 3, 1, "threshold"), (b"s", 2, 3, "threshold"), (b"s", 256, 2, "255"),
])
def test_split_refuses_what_cannot_work(secret, n, k, words):
    with pytest.raises(InvalidFormat, match=words):
        shamir.split(secret, n, k)


@pytest.mark.parametrize(("shares", "words"), [
    ([b"\x01\x01"], "between 2"), ([b"\x01\x01", b"\x01\x02\x03"], "same length"),
    ([b"\x01\x05", b"\x02\x05"], "distinct"), ([b"\x01\x00", b"\x02\x01"], "non-zero"), ([b"\x01", b"\x02"], "2 bytes"),
])
def test_combine_refuses_shares_that_are_not_shares(shares, words):
    with pytest.raises(InvalidFormat, match=words):
        shamir.combine(shares)
