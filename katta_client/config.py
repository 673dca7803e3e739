"""Where the client keeps its state, and which account is signed in to which server.

The configuration directory (``--config-dir``, else ``KATTA_CONFIG_DIR``, else
``$XDG_CONFIG_HOME/katta`` or ``~/.config/katta``) is private: 0700, files 0600, written
atomically. Two users — or two test runs — on one machine use two directories. It holds
``accounts.json`` (the signed-in user name per server; nothing secret) and, when no OS keyring
is usable, the file key store (see :mod:`katta_client.keychain`).
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Mapping, Optional
from urllib.parse import urlsplit

DEFAULT_SERVER = "http://127.0.0.1:8000"
CONFIG_DIR_ENV = "KATTA_CONFIG_DIR"
ACCOUNTS_FILE = "accounts.json"


class ConfigError(Exception):
    """The configuration (directory, server URL, stored state) is unusable; the message says why."""


def default_config_dir(environ: Mapping[str, str] = os.environ) -> Path:
    if environ.get(CONFIG_DIR_ENV):
        return Path(environ[CONFIG_DIR_ENV]).expanduser()
    base = environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base).expanduser() / "katta"


def normalize_server(url: str) -> str:
    """``scheme://host[:port][/path]`` without a trailing slash; refuses anything else."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"server URL must be http(s)://host[:port], got {url!r}")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ConfigError(f"server URL must not carry user info, a query or a fragment: {url!r}")
    try:
        parts.port
    except ValueError:
        raise ConfigError(f"server URL has an invalid port: {url!r}") from None
    return f"{parts.scheme}://{parts.netloc.lower()}{parts.path.rstrip('/')}"


def server_slug(server: str) -> str:
    """A file-name-safe, collision-free name for a server URL."""
    readable = re.sub(r"[^A-Za-z0-9.-]+", "_", server.split("://", 1)[-1]).strip("_")[:60]
    digest = hashlib.sha256(server.encode()).hexdigest()[:12]
    return f"{readable}-{digest}"


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) and make it 0700; refuse a path that is not a directory."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not path.is_dir():
        raise ConfigError(f"{path} is not a directory")
    if path.stat().st_mode & 0o777 != 0o700:
        os.chmod(path, 0o700)
    return path


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` with mode 0600, atomically: readers see the old or the new file."""
    ensure_private_dir(path.parent)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")  # mkstemp: 0600
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


class JsonObjectFile:
    """A small JSON object kept in the config directory: missing is empty, unreadable is a
    ConfigError naming the file, and a write replaces it atomically."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def load(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read {self.path}: {exc}") from None
        return data if isinstance(data, dict) else {}

    def save(self, data: dict[str, Any]) -> None:
        atomic_write(self.path, json.dumps(data, indent=2, sort_keys=True).encode())


class Accounts(JsonObjectFile):
    """``accounts.json``: which user is signed in to which server (names only, no secrets)."""

    def __init__(self, config_dir: Path) -> None:
        super().__init__(Path(config_dir) / ACCOUNTS_FILE)

    def current_user(self, server: str) -> Optional[str]:
        entry = self.load().get(server)
        user = entry.get("user") if isinstance(entry, dict) else None
        return user if isinstance(user, str) and user else None

    def set_current_user(self, server: str, user: str) -> None:
        data = self.load()
        data[server] = {"user": user}
        self.save(data)

    def forget(self, server: str) -> None:
        data = self.load()
        if data.pop(server, None) is not None:
            self.save(data)
