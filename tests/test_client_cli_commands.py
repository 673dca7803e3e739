"""The vault and whoami commands against a fake hub (no stack): the ROLE column, one vault resolver
for every command, the user match rule of ``vault add``, and what ``whoami --json`` leaves out."""
from __future__ import annotations

import json

import pytest

from katta_client.cli import main
from katta_client.cli.context import Context
from katta_client.http import Forbidden

ALICE = {"id": "u-alice", "type": "USER", "name": "alice", "email": "alice@example.org",
         "privateKeys": "eyJ.wrapped.keys", "setupCode": "eyJ.wrapped.code", "ecdhPublicKey": "MFkw"}
ALINA = {"id": "u-alina", "type": "USER", "name": "alina", "email": "alina@example.org"}
BOB = {"id": "u-bob", "type": "USER", "name": "bob", "email": "bob@example.org"}
ADMINS = {"id": "g-admins", "type": "GROUP", "name": "admins"}
TEAM = {"id": "0b9e4c1e-3f6a-4c1d-8a8e-6f1e2d3c4b5a", "name": "Team", "archived": False,
        "creationTime": "2026-01-01T00:00:00Z"}
DOCS = {"id": "7d2f9a10-5b3c-4e8d-9f1a-2c3b4d5e6f70", "name": "Docs", "archived": False,
        "creationTime": "2026-01-02T00:00:00Z"}
OTHER = "11111111-2222-4333-8444-555555555555"


class FakeHub:
    """The calls the commands make, answered as the hub's contract does (``accessible`` has no role)."""

    def __init__(self, people=(ALICE, ALINA, BOB, ADMINS)):
        self.people = list(people)
        self.added: list[tuple[str, str, str]] = []
        self.readable_by_id: list[dict] = []  # what an admin may read without being a member

    def get_me(self, **_):
        return dict(ALICE)

    def accessible_vaults(self, role=None):
        owned = [TEAM]
        return [dict(v) for v in (owned if role == "OWNER" else [DOCS] if role == "MEMBER" else [TEAM, DOCS])]

    def get_vault(self, vault_id):
        for vault in (TEAM, DOCS, *self.readable_by_id):
            if vault["id"] == vault_id:
                return dict(vault)
        raise Forbidden("403 Forbidden: you are not a member of this vault", status=403)

    def members(self, vault_id):
        self.get_vault(vault_id)
        return [{"id": "u-alice", "name": "alice", "type": "USER", "vaultRole": "OWNER", "ecdhPublicKey": "MFkw"}]

    def search_authorities(self, query):
        # Names and e-mails by prefix, as Hub's search does (this server's searches names only)
        return [dict(p) for p in self.people
                if any(p.get(f, "").casefold().startswith(query.casefold()) for f in ("name", "email"))]

    def authorities(self, ids):
        return [dict(p) for p in self.people if p["id"] in ids]

    def add_user(self, vault_id, user_id, role):
        self.added.append((vault_id, user_id, role))

    add_group = add_user


@pytest.fixture
def hub(monkeypatch, tmp_path):
    fake = FakeHub()
    monkeypatch.setattr(Context, "api", property(lambda self: fake))
    monkeypatch.setattr(Context, "current_user", lambda self: "alice")
    return fake


def katta(capsys, tmp_path, *args):
    code = main(["--server", "https://hub.example.org", "--config-dir", str(tmp_path / "cfg"), *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_vault_list_shows_each_role(hub, capsys, tmp_path):
    code, out, _ = katta(capsys, tmp_path, "vault", "list")
    assert code == 0
    rows = {line.split()[1]: line.split()[2] for line in out.splitlines()[1:]}
    assert rows == {"Team": "OWNER", "Docs": "MEMBER"}
    code, out, _ = katta(capsys, tmp_path, "--json", "vault", "list")
    assert {v["name"]: v["role"] for v in json.loads(out)} == {"Team": "OWNER", "Docs": "MEMBER"}
    code, out, _ = katta(capsys, tmp_path, "--json", "vault", "list", "--role", "MEMBER")
    assert [(v["name"], v["role"]) for v in json.loads(out)] == [("Docs", "MEMBER")]


@pytest.mark.parametrize("command", ["show", "members"])
def test_show_and_members_take_a_name_like_every_command(hub, capsys, tmp_path, command):
    for name in ("Team", "team", TEAM["id"], TEAM["id"].upper()):
        code, out, err = katta(capsys, tmp_path, "--json", "vault", command, name)
        assert code == 0, err
        answer = json.loads(out)
        assert answer["id"] == TEAM["id"] if command == "show" else answer[0]["vaultRole"] == "OWNER"
    code, _, err = katta(capsys, tmp_path, "vault", command, "Nope")
    assert code == 1 and "you have no vault 'Nope'" in err
    code, _, err = katta(capsys, tmp_path, "vault", command)
    assert code == 1 and "no vault selected" in err
    code, _, err = katta(capsys, tmp_path, "vault", command, OTHER)  # not ours, and the hub refuses it
    assert code == 1 and f"you have no vault '{OTHER}'" in err
    hub.readable_by_id.append({**TEAM, "id": OTHER, "name": "Elsewhere"})  # as an admin: by id, not a member
    code, out, err = katta(capsys, tmp_path, "--json", "vault", command, OTHER)
    assert code == 0, err


def test_vault_add_never_picks_the_caller_by_prefix(hub, capsys, tmp_path):
    code, _, err = katta(capsys, tmp_path, "vault", "add", "a", "--vault", "Team")
    # alice (the caller) is left out; alina and the admins group remain: both listed, nothing added
    assert code == 1 and "matches several" in err and "alina" in err and "admins" in err and "alice" not in err
    assert hub.added == []
    code, _, err = katta(capsys, tmp_path, "vault", "add", "ali", "--vault", "Team")
    assert code == 0, err
    assert hub.added == [(TEAM["id"], "u-alina", "MEMBER")]


def test_vault_add_match_rule(hub, capsys, tmp_path):
    hub.people.append({"id": "u-bobby", "type": "USER", "name": "bobby", "email": "bobby@example.org"})
    for who, expected in (("bob", "u-bob"), ("BOB", "u-bob"), ("bobby@example.org", "u-bobby"), ("bobb", "u-bobby"),
                          ("adm", "g-admins")):
        hub.added.clear()
        code, _, err = katta(capsys, tmp_path, "vault", "add", who, "--vault", "Team")
        assert code == 0, (who, err)
        assert [a[1] for a in hub.added] == [expected], who
    code, _, err = katta(capsys, tmp_path, "vault", "add", "alice", "--vault", "Team")
    assert code == 1 and "'alice' is you" in err
    code, _, err = katta(capsys, tmp_path, "vault", "add", "carol", "--vault", "Team")
    assert code == 1 and "no user or group named 'carol'" in err


def test_whoami_json_leaves_the_wrapped_keys_out_unless_asked(hub, capsys, tmp_path):
    code, out, _ = katta(capsys, tmp_path, "--json", "whoami")
    me = json.loads(out)
    assert code == 0 and me["id"] == "u-alice" and me["ecdhPublicKey"] == "MFkw"
    assert "privateKeys" not in me and "setupCode" not in me and "eyJ.wrapped" not in out
    code, out, _ = katta(capsys, tmp_path, "--json", "whoami", "--with-keys")
    me = json.loads(out)
    assert me["privateKeys"] == ALICE["privateKeys"] and me["setupCode"] == ALICE["setupCode"]
