"""Many files at a time through the CLI's entry point: ``put -r``, ``get -r``, ``sync up|down``
(changed files only, ``--dry-run``, ``--delete``) and ``mv``, on a vault bucket in moto's S3 with
real UVF crypto (the vault's unlocking is replaced: it is tested with the live stack)."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from katta_client.cli import cmd_files, main
from katta_client.crypto import UvfVault, VaultMetadata, ciphertext_size
from katta_client.files import VaultFiles
from katta_client.storage import Bucket

VAULT = SimpleNamespace(id="0b9e4c1e-3f6a-4c1d-8a8e-6f1e2d3c4b5a", name="Team")


@pytest.fixture
def files(aws, monkeypatch):
    import boto3

    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="vault")
    uvf = UvfVault(VaultMetadata.create())
    for key, data in uvf.root_dir_objects().items():
        s3.put_object(Bucket="vault", Key=key, Body=data)
    vault_files = VaultFiles(uvf, Bucket(s3, "vault"))
    monkeypatch.setattr(cmd_files, "_files", lambda ctx, args: (VAULT, vault_files))
    return vault_files


@pytest.fixture
def bars(monkeypatch):
    """Each progress bar's total and what was counted against it."""
    import contextlib

    seen: list[list[int]] = []

    @contextlib.contextmanager
    def bar(ctx, label, total):  # type: ignore[no-untyped-def]
        seen.append([total or 0, 0])
        yield lambda n: seen[-1].__setitem__(1, seen[-1][1] + n)
    monkeypatch.setattr(cmd_files, "progress_bar", bar)
    return seen


def katta(capsys, *args):
    code = main(["--json", "--server", "https://hub.example.org", *args])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if code == 0 else None), err


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): (p.read_bytes() if p.is_file() else b"<dir>")
            for p in sorted(root.rglob("*"))}


def remote(files: VaultFiles, path: str = "/") -> dict[str, object]:
    return {p: (None if e.is_dir else e.size) for p, e in files.walk(path)}


@pytest.fixture
def project(tmp_path):
    root = tmp_path / "project"
    (root / "docs" / "deep").mkdir(parents=True)
    (root / "empty").mkdir()
    (root / "a.txt").write_bytes(b"alpha")
    (root / "docs" / "b.bin").write_bytes(os.urandom(70_000))  # more than one 32 KiB chunk
    (root / "docs" / "deep" / "c.txt").write_bytes(b"")
    return root


def actions(result) -> list[tuple[str, str]]:
    return [(a["action"], a["path"]) for a in result["actions"]]


def test_put_and_get_recursive_round_trip(files, bars, project, tmp_path, capsys):
    code, result, err = katta(capsys, "put", "-r", str(project), "/")
    assert code == 0, err
    assert remote(files) == {"project": None, "project/a.txt": 5, "project/docs": None, "project/docs/b.bin": 70_000,
                             "project/docs/deep": None, "project/docs/deep/c.txt": 0, "project/empty": None}
    expected = sum(ciphertext_size(n) for n in (5, 70_000, 0))
    assert bars == [[expected, expected]]  # one bar for the tree, counted in full

    (tmp_path / "out").mkdir()
    code, result, err = katta(capsys, "get", "-r", "/project", str(tmp_path / "out"))
    assert code == 0, err
    assert tree(tmp_path / "out" / "project") == tree(project)
    assert bars[-1] == [expected, expected]
    code, result, err = katta(capsys, "get", "-r", "/project", str(tmp_path / "fresh"))  # a new name: created
    assert code == 0 and tree(tmp_path / "fresh") == tree(project)


def test_recursive_refusals(files, project, tmp_path, capsys):
    code, _, err = katta(capsys, "put", str(project), "/")
    assert code == 1 and "is a directory; store it with `put -r`" in err
    code, _, err = katta(capsys, "put", "-r", str(project / "a.txt"), "/")
    assert code == 1 and "not a directory" in err
    code, _, err = katta(capsys, "get", "-r", "/nothing", str(tmp_path / "x"))
    assert code == 1 and "/nothing: no such directory" in err and not (tmp_path / "x").exists()


def test_sync_up_sends_changed_files_only(files, bars, project, capsys):
    code, result, err = katta(capsys, "sync", "up", str(project), "/mirror")
    assert code == 0, err
    assert ("mkdir", ".") in actions(result) and ("upload", "docs/b.bin") in actions(result)
    assert set(remote(files, "/mirror")) == {"a.txt", "docs", "docs/b.bin", "docs/deep", "docs/deep/c.txt", "empty"}

    assert katta(capsys, "sync", "up", str(project), "/mirror")[1]["actions"] == []  # nothing changed

    (project / "a.txt").write_bytes(b"alpha, longer")  # size differs
    later = time.time() + 120
    os.utime(project / "docs" / "deep" / "c.txt", (later, later))  # same size, newer
    (project / "new.txt").write_bytes(b"new")
    (project / "docs" / "b.bin").unlink()
    code, result, _ = katta(capsys, "sync", "up", "--dry-run", str(project), "/mirror")
    assert actions(result) == [("upload", "a.txt"), ("upload", "docs/deep/c.txt"), ("upload", "new.txt")]
    assert result["dryRun"] and remote(files, "/mirror")["a.txt"] == 5 and "new.txt" not in remote(files, "/mirror")

    code, result, _ = katta(capsys, "sync", "up", "--delete", "--dry-run", str(project), "/mirror")
    assert actions(result)[-1] == ("delete", "docs/b.bin")
    assert "docs/b.bin" in remote(files, "/mirror")

    code, result, _ = katta(capsys, "sync", "up", str(project), "/mirror")  # without --delete: kept
    assert code == 0 and "docs/b.bin" in remote(files, "/mirror") and remote(files, "/mirror")["a.txt"] == 13
    os.utime(project / "docs" / "deep" / "c.txt", (1, 1))  # a future time would stay newer than any upload
    code, result, _ = katta(capsys, "sync", "up", "--delete", str(project), "/mirror")
    assert actions(result) == [("delete", "docs/b.bin")] and "docs/b.bin" not in remote(files, "/mirror")
    assert bars[-1] == [0, 0]


def test_sync_up_delete_removes_whole_directories_deepest_first(files, project, capsys):
    assert katta(capsys, "sync", "up", str(project), "/m")[0] == 0
    for path in sorted((project / "docs").rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()
    (project / "docs").rmdir()
    code, result, err = katta(capsys, "sync", "up", "--delete", str(project), "/m")
    assert code == 0, err
    assert actions(result) == [("delete", "docs/deep/c.txt"), ("delete", "docs/b.bin"), ("delete", "docs/deep"),
                               ("delete", "docs")]
    assert set(remote(files, "/m")) == {"a.txt", "empty"}


def test_sync_down_fetches_changed_files_only(files, bars, project, tmp_path, capsys):
    assert katta(capsys, "sync", "up", str(project), "/mirror")[0] == 0
    local = tmp_path / "copy"
    code, result, err = katta(capsys, "sync", "down", "/mirror", str(local))
    assert code == 0, err
    assert tree(local) == tree(project)
    modified = {p: e.modified.timestamp() for p, e in files.walk("/mirror") if not e.is_dir}
    assert int((local / "a.txt").stat().st_mtime) == int(modified["a.txt"])  # what the next sync compares
    assert katta(capsys, "sync", "down", "/mirror", str(local))[1]["actions"] == []

    (project / "a.txt").write_bytes(b"changed in the vault")
    assert katta(capsys, "put", str(project / "a.txt"), "/mirror/a.txt")[0] == 0
    earlier = time.time() - 3600
    os.utime(local / "empty", (earlier, earlier))
    os.utime(local / "docs" / "b.bin", (earlier, earlier))  # the vault's copy is newer
    (local / "extra").mkdir()
    (local / "extra" / "local-only.txt").write_bytes(b"mine")
    code, result, _ = katta(capsys, "sync", "down", "--dry-run", "--delete", "/mirror", str(local))
    assert actions(result) == [("download", "a.txt"), ("download", "docs/b.bin"),
                               ("delete", "extra/local-only.txt"), ("delete", "extra")]
    assert (local / "a.txt").read_bytes() == b"alpha" and (local / "extra").exists()

    code, result, _ = katta(capsys, "sync", "down", "/mirror", str(local))
    assert (local / "a.txt").read_bytes() == b"changed in the vault" and (local / "extra").exists()
    code, result, _ = katta(capsys, "sync", "down", "--delete", "/mirror", str(local))
    assert not (local / "extra").exists() and tree(local) == tree(project)


def test_sync_refuses_a_file_that_is_a_directory_on_the_other_side(files, project, tmp_path, capsys):
    assert katta(capsys, "sync", "up", str(project), "/m")[0] == 0
    (project / "a.txt").unlink()
    (project / "a.txt").mkdir()
    (project / "z.txt").write_bytes(b"z")
    code, _, err = katta(capsys, "sync", "up", str(project), "/m")
    assert code == 1 and "a.txt is a directory here and a file in the vault" in err
    assert "z.txt" not in remote(files, "/m")  # planned before anything was done
    code, _, err = katta(capsys, "sync", "down", "/m", str(project))
    assert code == 1 and "a.txt is a directory here and a file in the vault" in err
    code, _, err = katta(capsys, "sync", "down", "/nothing", str(tmp_path / "n"))
    assert code == 1 and "/nothing: no such directory" in err


def test_mv_files_and_directories(files, bars, project, tmp_path, capsys):
    assert katta(capsys, "put", "-r", str(project), "/")[0] == 0
    code, result, err = katta(capsys, "mv", "/project/docs/b.bin", "/project/renamed.bin")
    assert code == 0 and result["to"] == "/project/renamed.bin", err
    assert bars[-1] == [ciphertext_size(70_000)] * 2
    assert katta(capsys, "mv", "/project/a.txt", "/project/empty")[1]["to"] == "/project/empty/a.txt"
    assert katta(capsys, "mv", "/project/docs", "/moved")[1]["to"] == "/moved"
    assert remote(files) == {"moved": None, "moved/deep": None, "moved/deep/c.txt": 0, "project": None,
                             "project/empty": None, "project/empty/a.txt": 5, "project/renamed.bin": 70_000}
    (tmp_path / "back").mkdir()
    assert katta(capsys, "get", "/project/renamed.bin", str(tmp_path / "back"))[0] == 0
    assert (tmp_path / "back" / "renamed.bin").read_bytes() == (project / "docs" / "b.bin").read_bytes()

    assert katta(capsys, "mkdir", "/project/deep")[0] == 0
    before = remote(files)
    for source, target, message in (
            ("/nothing", "/x", "/nothing: no such file or directory"),
            ("/moved", "/moved/deep", "cannot move into itself"),
            ("/moved", "/moved", "cannot move into itself"),
            ("/project/renamed.bin", "/project/renamed.bin", "the same"),
            ("/moved/deep", "/project", "/project/deep already exists"),
            ("/moved", "/project/renamed.bin", "/project/renamed.bin already exists"),
            ("/moved/deep/c.txt", "/no/such/dir/c.txt", "no such directory"),
            ("/", "/x", "root directory")):
        code, _, err = katta(capsys, "mv", source, target)
        assert code == 1 and message in err, (source, target, err)
    assert remote(files) == before
    # a file replaces a file, as mv does
    assert katta(capsys, "mv", "/project/empty/a.txt", "/project/renamed.bin")[0] == 0
    assert remote(files)["project/renamed.bin"] == 5 and "project/empty/a.txt" not in remote(files)
