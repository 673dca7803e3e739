"""The issue's acceptance, through the CLI's entry point against a live stack with SeaweedFS:

alice logs in and runs ``init`` (account key shown once), creates a vault, puts a 5 MB file,
adds bob and grants him access; bob, on his own configuration directory, logs in, runs ``init``
and gets the same bytes; the bucket holds only UVF ciphertext; alice on a fresh configuration
directory recovers with her account key and reads the file.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from katta_client.cli import main
from tests.support.live_stack import shared_live_stack

pytestmark = pytest.mark.slow  # a live stack, a subprocess or a long run: not in the fast lane

pytest.importorskip("devstack.seaweed")

FILE_SIZE = 5 * 1024 * 1024
MARKER = b"KATTA-PLAINTEXT-MARKER-"
UVF_KEY = re.compile(r"^(vault\.uvf|d/[A-Z2-7]{2}/[A-Z2-7]{30}/(|dir\.uvf|[A-Za-z0-9_-]+\.uvf(/dir\.uvf)?))$")


@dataclass
class Run:
    code: int
    out: str
    err: str

    def json(self):
        return json.loads(self.out)


def katta(stack, config_dir: Path, *args: str) -> Run:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["--server", stack.api_url, "--config-dir", str(config_dir), *args])
    return Run(code, out.getvalue(), err.getvalue())


def ok(run: Run) -> Run:
    assert run.code == 0, run.err
    return run


def one_line_error(run: Run, fragment: str) -> None:
    assert run.code == 1, run.out
    assert run.err.startswith("katta: error: ") and fragment in run.err, run.err
    assert "Traceback" not in run.err and len(run.err.strip().splitlines()) == 1


@pytest.fixture(scope="module", autouse=True)
def file_keychain():
    saved = {k: os.environ.get(k) for k in ("KATTA_KEYCHAIN", "KATTA_PASSWORD", "KATTA_USERNAME", "KATTA_SERVER",
                                            "KATTA_CONFIG_DIR")}
    os.environ["KATTA_KEYCHAIN"] = "file"
    for name in list(saved)[1:]:
        os.environ.pop(name, None)
    yield
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """alice's vault with a 5 MB file, bob granted; built once through the CLI."""
    stack = shared_live_stack(storage=True)
    root = tmp_path_factory.mktemp("vault-flow")
    alice, bob = stack.new_user("alice"), stack.new_user("bob")
    a_cfg, b_cfg = root / "alice", root / "bob"
    ok(katta(stack, a_cfg, "login", "--username", alice, "--password", alice))
    init = ok(katta(stack, a_cfg, "--json", "init")).json()
    assert init["createdUserKeys"] is True and init["accountKey"]
    vault = ok(katta(stack, a_cfg, "--json", "vault", "create", "Team files")).json()
    plaintext = bytearray(os.urandom(FILE_SIZE))
    for offset in range(0, FILE_SIZE, 1024 * 1024):  # recognisable plaintext, to search the bucket for
        plaintext[offset:offset + len(MARKER)] = MARKER
    source = root / "report.bin"
    source.write_bytes(bytes(plaintext))
    ok(katta(stack, a_cfg, "put", str(source), "/Quarterly Report.bin"))
    ok(katta(stack, b_cfg, "login", "--username", bob, "--password", bob))
    ok(katta(stack, b_cfg, "init"))
    added = ok(katta(stack, a_cfg, "--json", "vault", "add", bob)).json()
    granted = ok(katta(stack, a_cfg, "--json", "vault", "grant")).json()
    assert [g["id"] for g in granted["granted"]] == [added["added"]["id"]]
    return dict(stack=stack, root=root, alice=alice, bob=bob, a_cfg=a_cfg, b_cfg=b_cfg, vault=vault,
                account_key=init["accountKey"], plaintext=bytes(plaintext), source=source)


def test_bob_gets_the_same_bytes(world, tmp_path):
    target = tmp_path / "copy.bin"
    run = ok(katta(world["stack"], world["b_cfg"], "--json", "get", "--vault", "Team files",
                   "/Quarterly Report.bin", str(target)))
    assert run.json()["size"] == FILE_SIZE
    assert target.read_bytes() == world["plaintext"]


def test_the_bucket_holds_only_uvf_ciphertext(world):
    storage = world["stack"].storage
    s3 = storage.admin_s3()
    bucket = storage.bucket(world["vault"]["id"])
    keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
            for o in page.get("Contents", ())]
    assert "vault.uvf" in keys
    assert all(UVF_KEY.match(k) for k in keys), keys
    assert not any("Quarterly" in k or "Report" in k for k in keys)
    data_keys = [k for k in keys if k.endswith(".uvf") and k != "vault.uvf" and not k.endswith("dir.uvf")]
    assert len(data_keys) == 1
    body = s3.get_object(Bucket=bucket, Key=data_keys[0])["Body"].read()
    assert body[:4] == b"uvf\x01" and len(body) > FILE_SIZE
    assert MARKER not in body and world["plaintext"][1000:1064] not in body
    vault_uvf = s3.get_object(Bucket=bucket, Key="vault.uvf")["Body"].read()
    assert b"seeds" not in vault_uvf and json.loads(vault_uvf)["recipients"]


def test_alice_recovers_on_a_new_device_with_her_account_key(world, tmp_path):
    stack, fresh = world["stack"], tmp_path / "alice-laptop"
    ok(katta(stack, fresh, "login", "--username", world["alice"], "--password", world["alice"]))
    one_line_error(katta(stack, fresh, "get", "--vault", "Team files", "/Quarterly Report.bin",
                         str(tmp_path / "x")), "katta init")
    one_line_error(katta(stack, fresh, "recover", "--account-key", "not-the-key"), "wrong account key")
    ok(katta(stack, fresh, "recover", "--account-key", world["account_key"]))
    target = tmp_path / "again.bin"
    ok(katta(stack, fresh, "get", "--vault", world["vault"]["id"], "/Quarterly Report.bin", str(target)))
    assert target.read_bytes() == world["plaintext"]
    unlocked = ok(katta(stack, fresh, "--json", "vault", "unlock", "--vault", "Team files")).json()
    assert unlocked["owner"] is True and unlocked["id"] == world["vault"]["id"]


def test_directories_listing_and_removal(world, tmp_path):
    stack, cfg = world["stack"], world["a_cfg"]
    ok(katta(stack, cfg, "mkdir", "/Projects"))
    one_line_error(katta(stack, cfg, "mkdir", "/Projects"), "already exists")
    note = tmp_path / "note.txt"
    note.write_text("katta")
    ok(katta(stack, cfg, "put", str(note), "/Projects/"))
    listing = ok(katta(stack, cfg, "--json", "ls", "/Projects")).json()
    assert listing == [{"name": "note.txt", "type": "file", "size": 5}]
    root = {e["name"]: e for e in ok(katta(stack, cfg, "--json", "ls")).json()}
    assert root["Projects"]["type"] == "directory" and root["Quarterly Report.bin"]["size"] == FILE_SIZE
    one_line_error(katta(stack, cfg, "rm", "/Projects"), "directory not empty")
    ok(katta(stack, cfg, "rm", "/Projects/note.txt"))
    ok(katta(stack, cfg, "rm", "/Projects"))
    one_line_error(katta(stack, cfg, "ls", "/Projects"), "no such directory")
    one_line_error(katta(stack, cfg, "get", "/missing.txt", str(tmp_path / "m")), "no such file")
    one_line_error(katta(stack, cfg, "ls", "/a/../b"), "invalid")


def test_a_flipped_byte_is_a_clear_error_and_nothing_is_written(world, tmp_path):
    stack, cfg = world["stack"], world["a_cfg"]
    victim = tmp_path / "victim.bin"
    victim.write_bytes(os.urandom(100_000))
    ok(katta(stack, cfg, "put", str(victim), "/victim.bin"))
    storage = stack.storage
    s3, bucket = storage.admin_s3(), storage.bucket(world["vault"]["id"])
    before = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    keys = [k for k in before if k.endswith(".uvf") and not k.endswith("dir.uvf") and k != "vault.uvf"]
    key = next(k for k in keys if s3.head_object(Bucket=bucket, Key=k)["ContentLength"] < 200_000)
    body = bytearray(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    body[50_000] ^= 0x01
    s3.put_object(Bucket=bucket, Key=key, Body=bytes(body))
    target = tmp_path / "out.bin"
    run = katta(stack, world["b_cfg"], "get", "--vault", "Team files", "/victim.bin", str(target))
    one_line_error(run, "does not authenticate")
    assert not target.exists() and list(tmp_path.glob("*.katta-part")) == []


def test_a_member_without_a_grant_is_refused(world, tmp_path):
    stack = world["stack"]
    carol = stack.new_user("carol")
    cfg = tmp_path / "carol"
    ok(katta(stack, cfg, "login", "--username", carol, "--password", carol))
    ok(katta(stack, cfg, "init"))
    one_line_error(katta(stack, cfg, "ls", "--vault", world["vault"]["id"]), "no vault")
    ok(katta(stack, world["a_cfg"], "vault", "add", carol))
    run = katta(stack, cfg, "ls", "--vault", world["vault"]["id"])
    assert run.code == 1 and "Traceback" not in run.err  # a member, but no access token yet
    one_line_error(katta(stack, world["a_cfg"], "vault", "grant", "nobody-awaits"), "not awaiting access")
    ok(katta(stack, world["a_cfg"], "vault", "grant", carol))
    assert ok(katta(stack, cfg, "--json", "ls", "--vault", world["vault"]["id"])).code == 0
    ok(katta(stack, world["a_cfg"], "vault", "remove", carol))
    one_line_error(katta(stack, cfg, "ls", "--vault", world["vault"]["id"]), "no vault")


def test_archive_stops_access(world, tmp_path):
    stack, cfg = world["stack"], world["a_cfg"]
    ok(katta(stack, cfg, "vault", "create", "Short-lived"))
    ok(katta(stack, cfg, "vault", "archive"))
    run = katta(stack, cfg, "ls")
    assert run.code == 1 and "archived" in run.err and "Traceback" not in run.err
    ok(katta(stack, cfg, "vault", "archive", "--undo"))
    ok(katta(stack, cfg, "ls"))
    ok(katta(stack, cfg, "vault", "use", "Team files"))


def test_many_files_roles_and_names_on_the_live_stack(world, tmp_path):
    """``put -r``, ``sync down`` (changed only, ``--delete``) and ``mv`` through SeaweedFS; each user's
    role in ``vault list``; ``vault show``/``members`` by name."""
    stack, a_cfg, b_cfg = world["stack"], world["a_cfg"], world["b_cfg"]
    tree = tmp_path / "site"
    (tree / "css").mkdir(parents=True)
    (tree / "index.html").write_text("<h1>katta</h1>")
    (tree / "css" / "main.css").write_text("h1 {}")
    ok(katta(stack, a_cfg, "put", "-r", "--vault", "Team files", str(tree), "/"))
    mirror = tmp_path / "bobs-site"
    pulled = ok(katta(stack, b_cfg, "--json", "sync", "down", "--vault", "Team files", "/site", str(mirror))).json()
    assert [a["action"] for a in pulled["actions"]] == ["mkdir", "mkdir", "download", "download"]
    assert (mirror / "css" / "main.css").read_text() == "h1 {}"
    again = ok(katta(stack, b_cfg, "--json", "sync", "down", "--vault", "Team files", "/site", str(mirror))).json()
    assert again["actions"] == []
    ok(katta(stack, a_cfg, "mv", "--vault", "Team files", "/site/css", "/site/styles"))
    moved = ok(katta(stack, b_cfg, "--json", "sync", "down", "--delete", "--vault", "Team files", "/site",
                     str(mirror))).json()
    assert [(a["action"], a["path"]) for a in moved["actions"]] == [
        ("mkdir", "styles"), ("download", "styles/main.css"), ("delete", "css/main.css"), ("delete", "css")]
    assert sorted(p.relative_to(mirror).as_posix() for p in mirror.rglob("*")) == [
        "index.html", "styles", "styles/main.css"]

    roles = {v["name"]: v["role"] for v in ok(katta(stack, b_cfg, "--json", "vault", "list")).json()}
    assert roles == {"Team files": "MEMBER"}
    assert "OWNER" in ok(katta(stack, a_cfg, "vault", "list")).out
    assert ok(katta(stack, b_cfg, "--json", "vault", "show", "team files")).json()["id"] == world["vault"]["id"]
    members = ok(katta(stack, a_cfg, "--json", "vault", "members", "team files")).json()  # owners only
    assert {m["name"].casefold() for m in members} >= {world["alice"], world["bob"]}
    one_line_error(katta(stack, a_cfg, "vault", "add", world["alice"]), "is you")


def test_a_member_is_added_by_e_mail(world, tmp_path):
    """`katta vault add bob@example.org` (issue 19): the whole address, in any case; a part of it is
    nobody's, and says how a colleague becomes known."""
    stack = world["stack"]
    dave = stack.new_user("dave")
    cfg = tmp_path / "dave"
    ok(katta(stack, cfg, "login", "--username", dave, "--password", dave))
    me = ok(katta(stack, cfg, "--json", "whoami")).json()
    ok(katta(stack, cfg, "init"))
    one_line_error(katta(stack, world["a_cfg"], "vault", "add", f"{dave}@katta"), "no user or group named")
    added = ok(katta(stack, world["a_cfg"], "--json", "vault", "add", f"{dave.upper()}@Katta.Local",
                     "--vault", "Team files")).json()
    assert added["added"]["id"] == me["id"] and added["role"] == "MEMBER"
    granted = ok(katta(stack, world["a_cfg"], "--json", "vault", "grant", dave, "--vault", "Team files")).json()
    assert [g["id"] for g in granted["granted"]] == [me["id"]]
    assert ok(katta(stack, cfg, "--json", "ls", "--vault", world["vault"]["id"])).code == 0
