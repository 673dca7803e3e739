"""Where this device keeps its secrets: the device key and the login tokens, per server and user.

The OS keyring (``keyring`` package) when a usable backend exists, else private files under the
configuration directory (0600 files in 0700 directories, atomic writes). ``KATTA_KEYCHAIN=file``
(or ``keyring``) forces one store; tests force the file store.

Only two kinds of secret exist here, by design: the device's private key (PKCS#8) and the OAuth
tokens. The account key is never stored — it is the user's recovery secret, shown once.
"""
from __future__ import annotations

import base64
import binascii
import json
import os
from pathlib import Path
from typing import Any, Mapping, Optional, Protocol

from .config import ConfigError, atomic_write, ensure_private_dir, server_slug

KEYCHAIN_ENV = "KATTA_KEYCHAIN"
DEVICE_KEY = "device-key"
TOKENS = "tokens"
_KINDS = (DEVICE_KEY, TOKENS)
_SERVICE_PREFIX = "katta:"


class KeychainError(Exception):
    """The key store could not be read or written; the message says which and why."""


class SecretStore(Protocol):
    name: str

    def get(self, server: str, user: str, kind: str) -> Optional[str]: ...

    def set(self, server: str, user: str, kind: str, value: str) -> None: ...

    def delete(self, server: str, user: str, kind: str) -> None: ...


def _check_kind(kind: str) -> None:
    if kind not in _KINDS:
        raise KeychainError(f"unknown secret kind {kind!r}")


class FileStore:
    """``<config dir>/keys/<server>/<user>/<kind>``, 0600 files in 0700 directories."""

    name = "file"

    def __init__(self, config_dir: Path) -> None:
        self.root = Path(config_dir) / "keys"

    def path(self, server: str, user: str, kind: str) -> Path:
        _check_kind(kind)
        return self.root / server_slug(server) / server_slug(user) / kind

    def get(self, server: str, user: str, kind: str) -> Optional[str]:
        path = self.path(server, user, kind)
        try:
            mode = path.stat().st_mode & 0o777
            if mode & 0o077:
                raise KeychainError(f"{path} is readable by others (mode {mode:o}); fix with chmod 600")
            return path.read_text()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise KeychainError(f"cannot read {path}: {exc.strerror}") from None

    def set(self, server: str, user: str, kind: str, value: str) -> None:
        path = self.path(server, user, kind)
        try:
            ensure_private_dir(self.root)
            ensure_private_dir(path.parent.parent)
            atomic_write(path, value.encode())
        except (OSError, ConfigError) as exc:
            raise KeychainError(f"cannot write {path}: {exc}") from None

    def delete(self, server: str, user: str, kind: str) -> None:
        path = self.path(server, user, kind)
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            raise KeychainError(f"cannot delete {path}: {exc.strerror}") from None


class KeyringStore:
    """The OS keyring: service ``katta:<server>``, account ``<user>/<kind>``."""

    def __init__(self, backend: Any) -> None:
        self.backend = backend
        self.name = f"keyring ({type(backend).__module__}.{type(backend).__name__})"

    def get(self, server: str, user: str, kind: str) -> Optional[str]:
        _check_kind(kind)
        return self._call("read", self.backend.get_password, _SERVICE_PREFIX + server, f"{user}/{kind}")

    def set(self, server: str, user: str, kind: str, value: str) -> None:
        _check_kind(kind)
        self._call("write", self.backend.set_password, _SERVICE_PREFIX + server, f"{user}/{kind}", value)

    def delete(self, server: str, user: str, kind: str) -> None:
        import keyring.errors

        _check_kind(kind)
        try:
            self.backend.delete_password(_SERVICE_PREFIX + server, f"{user}/{kind}")
        except keyring.errors.PasswordDeleteError:
            pass  # nothing stored: deleting is done
        except keyring.errors.KeyringError as exc:
            raise KeychainError(f"the OS keyring refused to delete a secret: {exc}") from None

    def _call(self, what: str, function: Any, *args: str) -> Any:
        import keyring.errors

        try:
            return function(*args)
        except keyring.errors.KeyringError as exc:
            raise KeychainError(f"the OS keyring refused to {what} a secret: {exc}") from None


def usable_keyring_backend() -> Optional[Any]:
    """The OS keyring backend, or None when only the fail/null backends (or nothing) are there."""
    try:
        import keyring
        from keyring.backends import fail, null
    except ImportError:
        return None
    backend = keyring.get_keyring()
    if isinstance(backend, (fail.Keyring, null.Keyring)):
        return None
    try:
        priority = backend.priority
    except Exception:  # a backend may raise to say it is not viable
        return None
    return backend if priority > 0 else None


def open_store(config_dir: Path, choice: Optional[str] = None) -> SecretStore:
    """``choice`` (default ``$KATTA_KEYCHAIN``, else ``auto``): ``auto``, ``keyring`` or ``file``."""
    choice = (choice or os.environ.get(KEYCHAIN_ENV) or "auto").lower()
    if choice == "file":
        return FileStore(config_dir)
    if choice not in ("auto", "keyring"):
        raise KeychainError(f"{KEYCHAIN_ENV} must be auto, keyring or file, not {choice!r}")
    backend = usable_keyring_backend()
    if backend is not None:
        return KeyringStore(backend)
    if choice == "keyring":
        raise KeychainError("no usable OS keyring backend; use KATTA_KEYCHAIN=file to keep secrets in files")
    return FileStore(config_dir)


class Keychain:
    """Device keys and tokens of one configuration directory."""

    def __init__(self, store: SecretStore) -> None:
        self.store = store

    @classmethod
    def open(cls, config_dir: Path, choice: Optional[str] = None) -> "Keychain":
        return cls(open_store(config_dir, choice))

    # -- device key (PKCS#8 DER) -------------------------------------------------------------

    def device_key(self, server: str, user: str) -> Optional[bytes]:
        stored = self.store.get(server, user, DEVICE_KEY)
        if stored is None:
            return None
        try:
            return base64.b64decode(stored, validate=True)
        except (binascii.Error, ValueError):
            raise KeychainError(f"the stored device key for {user} at {server} is damaged") from None

    def save_device_key(self, server: str, user: str, pkcs8_der: bytes) -> None:
        self.store.set(server, user, DEVICE_KEY, base64.b64encode(pkcs8_der).decode())

    def delete_device_key(self, server: str, user: str) -> None:
        self.store.delete(server, user, DEVICE_KEY)

    # -- OAuth tokens ------------------------------------------------------------------------

    def tokens(self, server: str, user: str) -> Optional[dict[str, Any]]:
        stored = self.store.get(server, user, TOKENS)
        if stored is None:
            return None
        try:
            tokens = json.loads(stored)
        except ValueError:
            raise KeychainError(f"the stored tokens for {user} at {server} are damaged; run katta login") from None
        if not isinstance(tokens, dict):
            raise KeychainError(f"the stored tokens for {user} at {server} are damaged; run katta login")
        return tokens

    def save_tokens(self, server: str, user: str, tokens: Mapping[str, Any]) -> None:
        self.store.set(server, user, TOKENS, json.dumps(dict(tokens), sort_keys=True))

    def delete_tokens(self, server: str, user: str) -> None:
        self.store.delete(server, user, TOKENS)
