"""The key chain: OS keyring when usable, else private files (0600 in 0700, atomic writes)."""
from __future__ import annotations

import os
import stat

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import fail, null

from katta_client import keychain as keychain_module
from katta_client.config import Accounts, ConfigError, atomic_write, normalize_server
from katta_client.keychain import FileStore, Keychain, KeychainError, KeyringStore, open_store

SERVER = "http://127.0.0.1:8000"


class MemoryKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def __init__(self):
        super().__init__()
        self.items = {}

    def get_password(self, service, username):
        return self.items.get((service, username))

    def set_password(self, service, username, password):
        self.items[(service, username)] = password

    def delete_password(self, service, username):
        if (service, username) not in self.items:
            raise keyring.errors.PasswordDeleteError("missing")
        del self.items[(service, username)]


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_file_store_is_private_and_atomic(tmp_path):
    chain = Keychain(FileStore(tmp_path / "cfg"))
    chain.save_device_key(SERVER, "alice", b"\x30\x81pkcs8")
    chain.save_tokens(SERVER, "alice", {"access_token": "a", "refresh_token": "r"})
    store = chain.store
    assert isinstance(store, FileStore)
    for kind in ("device-key", "tokens"):
        path = store.path(SERVER, "alice", kind)
        assert mode(path) == 0o600
        assert mode(path.parent) == 0o700 and mode(path.parent.parent) == 0o700 and mode(store.root) == 0o700
        assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]
    assert chain.device_key(SERVER, "alice") == b"\x30\x81pkcs8"
    assert chain.tokens(SERVER, "alice") == {"access_token": "a", "refresh_token": "r"}
    chain.save_tokens(SERVER, "alice", {"access_token": "b"})  # replaced, not appended
    assert chain.tokens(SERVER, "alice") == {"access_token": "b"}


def test_file_store_keeps_servers_and_users_apart(tmp_path):
    chain = Keychain(FileStore(tmp_path))
    chain.save_tokens(SERVER, "alice", {"access_token": "alice-here"})
    chain.save_tokens(SERVER, "bob", {"access_token": "bob-here"})
    chain.save_tokens("https://katta.example.com", "alice", {"access_token": "alice-there"})
    assert chain.tokens(SERVER, "alice") == {"access_token": "alice-here"}
    assert chain.tokens(SERVER, "bob") == {"access_token": "bob-here"}
    assert chain.tokens("https://katta.example.com", "alice") == {"access_token": "alice-there"}
    assert chain.tokens(SERVER, "carol") is None
    chain.delete_tokens(SERVER, "alice")
    chain.delete_tokens(SERVER, "alice")  # deleting twice is fine
    assert chain.tokens(SERVER, "alice") is None and chain.tokens(SERVER, "bob")


def test_user_names_cannot_escape_the_store(tmp_path):
    store = FileStore(tmp_path / "cfg")
    Keychain(store).save_tokens(SERVER, "../../evil", {"access_token": "x"})
    path = store.path(SERVER, "../../evil", "tokens")
    assert path.resolve().is_relative_to((tmp_path / "cfg" / "keys").resolve())


def test_a_readable_secret_file_is_refused(tmp_path):
    chain = Keychain(FileStore(tmp_path))
    chain.save_device_key(SERVER, "alice", b"key")
    path = chain.store.path(SERVER, "alice", "device-key")
    os.chmod(path, 0o644)
    with pytest.raises(KeychainError, match="readable by others"):
        chain.device_key(SERVER, "alice")


def test_damaged_entries_are_reported(tmp_path):
    store = FileStore(tmp_path)
    store.set(SERVER, "alice", "tokens", "{not json")
    store.set(SERVER, "alice", "device-key", "***")
    with pytest.raises(KeychainError, match="damaged"):
        Keychain(store).tokens(SERVER, "alice")
    with pytest.raises(KeychainError, match="damaged"):
        Keychain(store).device_key(SERVER, "alice")


def test_only_device_keys_and_tokens_can_be_stored(tmp_path):
    with pytest.raises(KeychainError, match="unknown secret kind"):
        FileStore(tmp_path).set(SERVER, "alice", "account-key", "never")
    with pytest.raises(KeychainError, match="unknown secret kind"):
        KeyringStore(MemoryKeyring()).set(SERVER, "alice", "account-key", "never")
    assert not hasattr(Keychain, "save_account_key")


@pytest.mark.parametrize("unusable", [fail.Keyring, null.Keyring])
def test_without_a_usable_keyring_the_file_store_is_used(tmp_path, monkeypatch, unusable):
    monkeypatch.delenv(keychain_module.KEYCHAIN_ENV, raising=False)
    monkeypatch.setattr(keyring, "get_keyring", lambda: unusable())
    assert isinstance(open_store(tmp_path), FileStore)
    with pytest.raises(KeychainError, match="no usable OS keyring"):
        open_store(tmp_path, "keyring")


def test_a_usable_keyring_is_preferred(tmp_path, monkeypatch):
    backend = MemoryKeyring()
    monkeypatch.delenv(keychain_module.KEYCHAIN_ENV, raising=False)
    monkeypatch.setattr(keyring, "get_keyring", lambda: backend)
    chain = Keychain.open(tmp_path)
    assert isinstance(chain.store, KeyringStore)
    chain.save_device_key(SERVER, "alice", b"pkcs8")
    chain.save_tokens(SERVER, "alice", {"access_token": "a"})
    assert set(backend.items) == {("katta:" + SERVER, "alice/device-key"), ("katta:" + SERVER, "alice/tokens")}
    assert chain.device_key(SERVER, "alice") == b"pkcs8"
    chain.delete_tokens(SERVER, "alice")
    chain.delete_tokens(SERVER, "alice")
    assert chain.tokens(SERVER, "alice") is None
    assert not (tmp_path / "keys").exists()  # nothing fell through to files
    monkeypatch.setenv(keychain_module.KEYCHAIN_ENV, "file")  # and the file store can be forced
    assert isinstance(Keychain.open(tmp_path).store, FileStore)


def test_keyring_failures_are_keychain_errors(monkeypatch):
    class Locked(MemoryKeyring):
        def get_password(self, service, username):
            raise keyring.errors.KeyringLocked("locked")

    with pytest.raises(KeychainError, match="refused to read"):
        Keychain(KeyringStore(Locked())).tokens(SERVER, "alice")


def test_unknown_keychain_choice(tmp_path):
    with pytest.raises(KeychainError, match="auto, keyring or file"):
        open_store(tmp_path, "vault")


def test_atomic_write_leaves_the_old_file_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "d" / "f"
    atomic_write(target, b"old")
    monkeypatch.setattr(os, "replace", lambda *_a: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError):
        atomic_write(target, b"new")
    assert target.read_bytes() == b"old" and [p.name for p in target.parent.iterdir()] == ["f"]


def test_accounts_remember_the_user_per_server(tmp_path):
    accounts = Accounts(tmp_path)
    assert accounts.current_user(SERVER) is None
    accounts.set_current_user(SERVER, "alice")
    accounts.set_current_user("https://other", "bob")
    assert accounts.current_user(SERVER) == "alice" and mode(accounts.path) == 0o600
    accounts.forget(SERVER)
    assert accounts.current_user(SERVER) is None and accounts.current_user("https://other") == "bob"


@pytest.mark.parametrize("url", ["ftp://x", "127.0.0.1:8000", "http://u:p@host", "http://host/?q=1", "http://h:99999"])
def test_bad_server_urls_are_refused(url):
    with pytest.raises(ConfigError):
        normalize_server(url)


def test_server_urls_are_normalized():
    assert normalize_server(" HTTP://Katta.Example.com:8443/ ") == "http://katta.example.com:8443"
