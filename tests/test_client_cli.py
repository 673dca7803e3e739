"""The ``katta`` CLI through its entry point against the live stack: login, whoami, logout,
devices, vaults, init/recover — and how it fails (one line on stderr, exit 1; usage errors exit 2)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from katta_client.cli import main
from tests.support.live_stack import live_stack  # noqa: F401 - fixture

pytestmark = pytest.mark.slow  # a live stack, a subprocess or a long run: not in the fast lane

KATTA = Path(sys.executable).parent / "katta"


@pytest.fixture(autouse=True)
def file_keychain(monkeypatch):
    monkeypatch.setenv("KATTA_KEYCHAIN", "file")
    for name in ("KATTA_PASSWORD", "KATTA_USERNAME", "KATTA_SERVER", "KATTA_CONFIG_DIR"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def katta(live_stack, tmp_path, capsys):
    """Runs ``katta --server <live> --config-dir <tmp> ARGS``; returns (exit code, stdout, stderr)."""
    def run(*args, config_dir=tmp_path / "cfg"):
        code = main(["--server", live_stack.api_url, "--config-dir", str(config_dir), *args])
        out, err = capsys.readouterr()
        return code, out, err
    return run


def assert_one_line_error(code, err, fragment):
    assert code == 1
    assert err.startswith("katta: error: ") and fragment in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_login_whoami_logout(katta, live_stack, tmp_path):
    user = live_stack.new_user("cli")
    code, out, _ = katta("login", "--username", user, "--password", user)
    assert code == 0 and out.strip() == f"Signed in to {live_stack.api_url} as {user}."

    code, out, _ = katta("whoami", "--json")
    assert code == 0
    me = json.loads(out)
    assert me["name"] and me["type"] == "USER" and "ecdhPublicKey" not in me

    code, out, _ = katta("whoami")
    assert code == 0 and user in out and "not set up" in out

    code, out, _ = katta("--json", "logout")
    assert code == 0 and json.loads(out) == {"server": live_stack.api_url, "user": user, "revoked": True}
    assert not list((tmp_path / "cfg" / "keys").rglob("tokens"))

    code, _, err = katta("whoami")
    assert_one_line_error(code, err, "not signed in")
    code, out, _ = katta("logout")
    assert code == 0 and "Not signed in" in out


def test_wrong_password_is_one_line_and_exit_1(katta):
    code, out, err = katta("login", "--username", "alice", "--password", "wrong")
    assert out == ""
    assert_one_line_error(code, err, "invalid_grant (Invalid user credentials)")
    assert "wrong" not in err.replace("wrong state", "")


def test_password_from_the_environment(katta, live_stack, monkeypatch):
    user = live_stack.new_user("env")
    monkeypatch.setenv("KATTA_USERNAME", user)
    monkeypatch.setenv("KATTA_PASSWORD", user)
    code, out, _ = katta("--json", "login")
    assert code == 0 and json.loads(out)["user"] == user


def test_usage_errors_exit_2(katta, capsys):
    assert katta("frobnicate")[0] == 2
    assert katta("login", "--device", "--password", "x")[0] == 2
    assert katta("vault")[0] == 2
    assert main(["--help"]) == 0


def test_unreachable_server(tmp_path, capsys):
    code = main(["--server", "http://127.0.0.1:9", "--config-dir", str(tmp_path), "--retry-max-wait", "0",
                 "login", "--password", "x", "--username", "x"])
    assert_one_line_error(code, capsys.readouterr().err, "cannot reach http://127.0.0.1:9")


def test_the_retry_bound_is_an_option_with_an_environment_default(tmp_path, monkeypatch):
    import importlib
    cli = importlib.import_module("katta_client.cli.main")
    seen = []

    class Recording(cli.Context):
        def __init__(self, *args):
            super().__init__(*args)
            seen.append((self.retry.max_wait, self.public_api.retry.max_wait))

    monkeypatch.setattr(cli, "Context", Recording)
    base = ["--server", "http://127.0.0.1:9", "--config-dir", str(tmp_path)]
    main([*base, "logout"])
    main([*base, "logout", "--retry-max-wait", "2.5"])
    monkeypatch.setenv("KATTA_RETRY_MAX_WAIT", "7")
    main([*base, "logout"])
    assert [wait for wait, _ in seen] == [30.0, 2.5, 7.0]
    assert all(wait == api_wait for wait, api_wait in seen)
    assert main([*base, "--retry-max-wait", "-1", "logout"]) == 2
    assert main([*base, "--retry-max-wait", "soon", "logout"]) == 2


def test_bad_server_url(tmp_path, capsys):
    code = main(["--server", "ftp://x", "--config-dir", str(tmp_path), "whoami"])
    assert_one_line_error(code, capsys.readouterr().err, "server URL must be http(s)")


def test_global_options_after_the_command(katta, live_stack, tmp_path, capsys):
    user = live_stack.new_user("late")
    code = main(["login", "--server", live_stack.api_url, "--config-dir", str(tmp_path / "late"),
                 "--username", user, "--password", user, "--json"])
    assert code == 0 and json.loads(capsys.readouterr().out)["user"] == user


def test_two_users_side_by_side(katta, live_stack, tmp_path):
    first, second = live_stack.new_user("side"), live_stack.new_user("side")
    assert katta("login", "--username", first, "--password", first, config_dir=tmp_path / "a")[0] == 0
    assert katta("login", "--username", second, "--password", second, config_dir=tmp_path / "b")[0] == 0
    names = {json.loads(katta("whoami", "--json", config_dir=tmp_path / d)[1])["id"] for d in ("a", "b")}
    assert len(names) == 2


def test_init_devices_vaults_and_recover(katta, live_stack, tmp_path):
    user = live_stack.new_user("init")
    laptop, desktop = tmp_path / "laptop", tmp_path / "desktop"
    assert katta("login", "--username", user, "--password", user, config_dir=laptop)[0] == 0
    code, out, _ = katta("--json", "init", "--device-name", "laptop", config_dir=laptop)
    assert code == 0
    created = json.loads(out)
    assert created["createdUserKeys"] and created["registeredDevice"] and created["accountKey"]
    account_key = created["accountKey"]
    assert account_key not in "".join(p.read_text() for p in laptop.rglob("*") if p.is_file())

    code, out, _ = katta("init", config_dir=laptop)  # again: the device opens the keys, nothing new
    assert code == 0 and "keys are unlocked" in out

    # a second device of the same user: the server does not know it, so the account key is needed
    assert katta("login", "--username", user, "--password", user, config_dir=desktop)[0] == 0
    code, _, err = katta("recover", "--account-key", "not-the-key", config_dir=desktop)
    assert_one_line_error(code, err, "wrong account key")
    code, out, _ = katta("--json", "recover", "--account-key", account_key, "--device-name", "desktop",
                         config_dir=desktop)
    assert code == 0
    recovered = json.loads(out)
    assert recovered["registeredDevice"] and not recovered["createdUserKeys"] and "accountKey" not in recovered

    code, out, _ = katta("--json", "device", "list", config_dir=desktop)
    devices = json.loads(out)
    assert sorted(d["name"] for d in devices) == ["desktop", "laptop"]
    assert [d["name"] for d in devices if d["thisDevice"]] == ["desktop"]
    code, out, _ = katta("device", "list", config_dir=desktop)
    assert code == 0 and created["deviceId"] in out.replace("\n", "").replace(" ", "")

    code, out, _ = katta("device", "remove", created["deviceId"][:16], config_dir=desktop)
    assert code == 0 and created["deviceId"] in out
    code, _, err = katta("device", "remove", created["deviceId"], config_dir=desktop)
    assert_one_line_error(code, err, "you have no device")

    code, out, _ = katta("vault", "list", config_dir=desktop)
    assert code == 0 and "No vaults" in out
    assert json.loads(katta("--json", "vault", "list", config_dir=desktop)[1]) == []
    code, _, err = katta("vault", "show", "not-a-uuid", config_dir=desktop)
    assert_one_line_error(code, err, "you have no vault 'not-a-uuid'")
    code, _, err = katta("vault", "members", "6f1c0d8e-1b2a-4c3d-9e8f-0a1b2c3d4e5f", config_dir=desktop)
    assert_one_line_error(code, err, "you have no vault '6f1c0d8e-1b2a-4c3d-9e8f-0a1b2c3d4e5f'")


def test_recover_refuses_an_account_without_keys(katta, live_stack, tmp_path):
    user = live_stack.new_user("nokeys")
    assert katta("login", "--username", user, "--password", user)[0] == 0
    code, _, err = katta("recover", "--account-key", "x")
    assert_one_line_error(code, err, "run `katta init`")


def test_the_installed_console_script(live_stack, tmp_path):
    user = live_stack.new_user("script")
    env = {**os.environ, "KATTA_CONFIG_DIR": str(tmp_path / "cfg"), "KATTA_KEYCHAIN": "file",
           "KATTA_SERVER": live_stack.api_url, "KATTA_PASSWORD": user}
    login = subprocess.run([str(KATTA), "login", "--username", user], env=env, capture_output=True, text=True,
                           timeout=60)
    assert login.returncode == 0, login.stderr
    whoami = subprocess.run([str(KATTA), "whoami", "--json"], env=env, capture_output=True, text=True, timeout=60)
    assert whoami.returncode == 0 and json.loads(whoami.stdout)["type"] == "USER"
    wrong = subprocess.run([str(KATTA), "login", "--username", user, "--password", "nope"], env=env,
                           capture_output=True, text=True, timeout=60)
    assert wrong.returncode == 1 and "Traceback" not in wrong.stderr
    assert wrong.stderr.startswith("katta: error: the identity provider refused: invalid_grant")
