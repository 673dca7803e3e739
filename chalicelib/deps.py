"""The service objects of one Lambda process, created on first use.

As in Chalice's todo-app sample: module-level accessors, nothing built at
import, so a cold start pays only for what the first request needs.
"""
from __future__ import annotations

import functools

from chalicelib.settings import get_settings


@functools.lru_cache(maxsize=1)
def table():
    from chalicelib.store.table import Table
    return Table(get_settings().table_name)


@functools.lru_cache(maxsize=1)
def users():
    from chalicelib.store.users import UserRepository
    return UserRepository(table())


@functools.lru_cache(maxsize=1)
def jwks():
    from chalicelib.auth.jwks import JwksCache
    return JwksCache(get_settings())


@functools.lru_cache(maxsize=1)
def bearer_verifier():
    from chalicelib.auth.bearer import BearerVerifier
    return BearerVerifier(get_settings(), jwks())


@functools.lru_cache(maxsize=1)
def accounts():
    from chalicelib.auth.accounts import AccountService
    return AccountService(get_settings(), users())


def reset() -> None:
    """Forgets every cached object and client (tests change settings and AWS mocks)."""
    from chalicelib import aws
    for accessor in (table, users, jwks, bearer_verifier, accounts):
        accessor.cache_clear()
    get_settings.cache_clear()
    aws.reset()
