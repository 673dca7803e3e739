"""Shamir's secret sharing over GF(256), in the share format of npm ``shamir-secret-sharing``.

That package is what Cryptomator Hub's web client splits a vault's recovery key with, so a share
written here combines there and back: each share is the polynomial's value at ``x`` for every
secret byte, followed by ``x`` itself (one byte, 1..255, distinct per share). The field is
GF(2^8) with the AES polynomial x^8 + x^4 + x^3 + x + 1 (0x11b); the package computes in it with
log/exp tables, this module by shift-and-reduce, which is the same arithmetic. No PyPI package
writes this format, hence these few lines; ``tests/reference/shamir-vectors.json`` holds shares the
npm package produced.

Shamir's scheme does not authenticate: a tampered share combines into a wrong secret without an
error. Callers check what they recover (the vault's recovery key against its published public key).
"""

from __future__ import annotations

import secrets

from .errors import InvalidFormat

__all__ = ["MAX_SHARES", "split", "combine"]

MAX_SHARES = 255


def _mul(a: int, b: int) -> int:
    product = 0
    while b:
        if b & 1:
            product ^= a
        a <<= 1
        if a & 0x100:
            a ^= 0x11B
        b >>= 1
    return product


def _inverse(a: int) -> int:
    # a^254 = a^-1 in GF(2^8) (the multiplicative group has order 255).
    result, power, exponent = 1, a, 254
    while exponent:
        if exponent & 1:
            result = _mul(result, power)
        power = _mul(power, power)
        exponent >>= 1
    return result


def _evaluate(coefficients: list[int], x: int) -> int:
    result = 0
    for coefficient in reversed(coefficients):
        result = _mul(result, x) ^ coefficient
    return result


def split(secret: bytes, shares: int, threshold: int) -> list[bytes]:
    """``shares`` shares of ``secret``, any ``threshold`` of which give it back (2 ≤ threshold ≤ shares ≤ 255)."""
    if not secret:
        raise InvalidFormat("the secret to split must not be empty")
    if not 2 <= threshold <= shares <= MAX_SHARES:
        raise InvalidFormat(f"shares and threshold must satisfy 2 <= threshold <= shares <= {MAX_SHARES}")
    xs = list(range(1, MAX_SHARES + 1))
    secrets.SystemRandom().shuffle(xs)
    xs = xs[:shares]
    result = [bytearray(len(secret) + 1) for _ in xs]
    for share, x in zip(result, xs):
        share[-1] = x
    for i, byte in enumerate(secret):
        coefficients = [byte, *secrets.token_bytes(threshold - 1)]
        for share, x in zip(result, xs):
            share[i] = _evaluate(coefficients, x)
    return [bytes(s) for s in result]


def combine(shares: list[bytes]) -> bytes:
    """The secret the shares interpolate to at x = 0; fewer shares than the threshold give a wrong one."""
    if not 2 <= len(shares) <= MAX_SHARES:
        raise InvalidFormat(f"between 2 and {MAX_SHARES} shares are needed")
    length = len(shares[0])
    if length < 2 or any(len(s) != length for s in shares):
        raise InvalidFormat("shares must be at least 2 bytes and all of the same length")
    xs = [s[-1] for s in shares]
    if 0 in xs or len(set(xs)) != len(xs):
        raise InvalidFormat("shares must have distinct, non-zero x coordinates")
    # Lagrange basis at 0: prod x_j / (x_i + x_j) over j != i (subtraction is xor).
    basis = []
    for i, xi in enumerate(xs):
        numerator = denominator = 1
        for j, xj in enumerate(xs):
            if i != j:
                numerator = _mul(numerator, xj)
                denominator = _mul(denominator, xi ^ xj)
        basis.append(_mul(numerator, _inverse(denominator)))
    secret = bytearray(length - 1)
    for k in range(length - 1):
        value = 0
        for share, weight in zip(shares, basis):
            value ^= _mul(share[k], weight)
        secret[k] = value
    return bytes(secret)
