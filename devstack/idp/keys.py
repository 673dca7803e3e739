"""Signing keys of the dev IdP: generation, loading and the on-disk state.

The key is persisted as an unencrypted PKCS#8 PEM file (mode 0600, directory 0700) so that a
restarted IdP serves the same JWKS and tokens minted before the restart still verify. The key id
(``kid``) is the key's RFC 7638 thumbprint, so it is stable too.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any, Union

from cryptography.hazmat.primitives.asymmetric import ec, rsa
from joserfc.jwk import ECKey, RSAKey

SigningKey = Union[ECKey, RSAKey]

SUPPORTED_ALGS = ("ES256", "RS256")

#: Repository root (``devstack/idp/keys.py`` → three levels up).
REPO_ROOT = Path(__file__).resolve().parents[2]
#: Where the CLI keeps its state unless ``--state-dir`` says otherwise.
DEFAULT_STATE_DIR = REPO_ROOT / ".devstack" / "idp"


def _check_alg(alg: str) -> str:
    if alg not in SUPPORTED_ALGS:
        raise ValueError(f"unsupported signing algorithm {alg!r}; use one of {', '.join(SUPPORTED_ALGS)}")
    return alg


def _finish(key: SigningKey, alg: str) -> SigningKey:
    """Re-import ``key`` with ``kid`` (its thumbprint), ``use`` and ``alg`` parameters."""
    cls = ECKey if alg == "ES256" else RSAKey
    if not isinstance(key, cls):
        raise ValueError(f"a {alg} signing key must be an {'EC P-256' if alg == 'ES256' else 'RSA'} key")
    if alg == "ES256" and key.as_dict(private=False).get("crv") != "P-256":
        raise ValueError("an ES256 signing key must be on curve P-256")
    if alg == "RS256" and key.private_key is not None and key.private_key.key_size < 2048:
        raise ValueError("an RS256 signing key must have at least 2048 bits")
    if not key.is_private:
        raise ValueError("the dev IdP needs a private key to sign tokens")
    params = {"kid": key.thumbprint(), "use": "sig", "alg": alg}
    return cls.import_key(key.as_pem(private=True), parameters=params)


def generate_key(alg: str = "ES256") -> SigningKey:
    """A fresh signing key for ``alg`` (P-256 for ES256, RSA-2048 for RS256) with a ``kid``."""
    _check_alg(alg)
    key = ECKey.generate_key("P-256", private=True) if alg == "ES256" else RSAKey.generate_key(2048, private=True)
    return _finish(key, alg)


def coerce_key(key: Any, alg: str | None = None) -> tuple[SigningKey, str]:
    """Accept a joserfc key, a ``cryptography`` private key or PEM text/bytes; return (key, alg).

    ``alg`` defaults to what the key type implies (EC → ES256, RSA → RS256).
    """
    if isinstance(key, (str, bytes)):
        data = key.encode() if isinstance(key, str) else key
        try:
            key = ECKey.import_key(data)
        except Exception:  # noqa: BLE001 - not an EC key; try RSA, which raises a clear error
            key = RSAKey.import_key(data)
    elif isinstance(key, ec.EllipticCurvePrivateKey):
        key = ECKey.import_key(key)
    elif isinstance(key, rsa.RSAPrivateKey):
        key = RSAKey.import_key(key)
    if not isinstance(key, (ECKey, RSAKey)):
        raise TypeError(f"unsupported signing key type {type(key).__name__}")
    if alg is None:
        alg = "ES256" if isinstance(key, ECKey) else "RS256"
    _check_alg(alg)
    return _finish(key, alg), alg


def key_path(state_dir: Path | str, alg: str) -> Path:
    return Path(state_dir) / f"signing-key-{_check_alg(alg).lower()}.pem"


def load_or_create_key(state_dir: Path | str, alg: str = "ES256") -> SigningKey:
    """Load the ``alg`` key from ``state_dir``, creating (and persisting, mode 0600) it first if absent.

    Two processes starting at once end up with the same key: the file is published with a hard
    link, which fails if another process got there first, and the loser loads the winner's key.
    """
    path = key_path(state_dir, alg)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not path.exists():
        key = generate_key(alg)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(key.as_pem(private=True))
                fh.flush()
                os.fsync(fh.fileno())
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass
        finally:
            tmp.unlink(missing_ok=True)
    # Tighten permissions of a key file someone copied in with a looser mode.
    if path.stat().st_mode & 0o077:
        os.chmod(path, 0o600)
    key, _ = coerce_key(path.read_bytes(), alg)
    return key
