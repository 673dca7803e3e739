"""Identity: bearer verification, account resolution, roles (architecture §3).

The web layer asks it who a request's caller is (``web.authenticate_optional``); the
services only ever see the resulting ``Principal``.
"""
from chalicelib.auth.accounts import Principal

__all__ = ["Principal"]
