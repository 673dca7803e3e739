"""Uploads and downloads stream: memory does not grow with the file (100 MB through the crypto and
the multipart upload path, measured with tracemalloc, S3 replaced by a counting fake), multipart
parts have S3's sizes, a failed upload is aborted, and a download that does not authenticate
leaves no file behind."""
from __future__ import annotations

import io
import os
import tracemalloc

import pytest

from katta_client.crypto import UvfVault, VaultMetadata, ciphertext_size
from katta_client.files import IntegrityError, VaultFiles
from katta_client.storage import PART_SIZE, Bucket

MB = 1024 * 1024


class ZeroFile(io.RawIOBase):
    """``size`` bytes of a repeating pattern, produced on demand (never held whole)."""

    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        n = min(len(buffer), self.left)
        buffer[:n] = b"\x5a" * n
        self.left -= n
        return n


class CountingS3:
    """Just enough of boto3's S3 client: keeps sizes (and small bodies), not big ones."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.parts: list[int] = []
        self.uploaded = 0
        self.aborted: list[str] = []
        self.fail_on_part: int | None = None

    def head_object(self, Bucket, Key):  # noqa: N803 - boto3's names
        from botocore.exceptions import ClientError

        if Key not in self.objects:
            raise ClientError({"Error": {"Code": "404"}}, "HeadObject")
        return {"ContentLength": len(self.objects[Key])}

    def put_object(self, Bucket, Key, Body):  # noqa: N803
        self.objects[Key] = bytes(Body)

    def create_multipart_upload(self, Bucket, Key):  # noqa: N803
        return {"UploadId": "u1"}

    def upload_part(self, Bucket, Key, UploadId, PartNumber, Body):  # noqa: N803
        if self.fail_on_part == PartNumber:
            from botocore.exceptions import ClientError
            raise ClientError({"Error": {"Code": "InternalError"}}, "UploadPart")
        self.parts.append(len(Body))
        self.uploaded += len(Body)
        return {"ETag": f'"{PartNumber}"'}

    def complete_multipart_upload(self, Bucket, Key, UploadId, MultipartUpload):  # noqa: N803
        self.objects[Key] = b"<multipart>"

    def abort_multipart_upload(self, Bucket, Key, UploadId):  # noqa: N803
        self.aborted.append(Key)


@pytest.fixture
def uvf():
    return UvfVault(VaultMetadata.create())


def test_a_100_mb_upload_needs_a_few_parts_of_memory(uvf):
    s3 = CountingS3()
    files = VaultFiles(uvf, Bucket(s3, "b"))
    size = 100 * MB
    tracemalloc.start()
    try:
        files.put(ZeroFile(size), "/big.bin")
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert s3.uploaded == ciphertext_size(size)
    assert peak < 4 * PART_SIZE, f"peak {peak / MB:.1f} MiB for a {size // MB} MiB file"
    assert len(s3.parts) == s3.uploaded // PART_SIZE + 1
    assert all(PART_SIZE <= part < PART_SIZE + 64 * 1024 for part in s3.parts[:-1])


class StreamingBody:
    def __init__(self, source) -> None:  # type: ignore[no-untyped-def]
        self.source = source
        self.buffer = b""

    def read(self, n: int) -> bytes:
        while len(self.buffer) < n:
            piece = next(self.source, b"")
            if not piece:
                break
            self.buffer += piece
        piece, self.buffer = self.buffer[:n], self.buffer[n:]
        return piece

    def close(self) -> None:
        pass


def test_a_100_mb_download_streams(uvf, tmp_path):
    size = 100 * MB

    class GeneratedS3(CountingS3):
        def head_object(self, Bucket, Key):  # noqa: N803
            return {"ContentLength": ciphertext_size(size)}

        def get_object(self, Bucket, Key):  # noqa: N803
            return {"Body": StreamingBody(uvf.encrypt_stream(ZeroFile(size)))}

    files = VaultFiles(uvf, Bucket(GeneratedS3(), "b"))
    target = tmp_path / "big.bin"
    tracemalloc.start()
    try:
        written = files.download("/big.bin", target)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert written == size and target.stat().st_size == size
    assert peak < 8 * MB, f"peak {peak / MB:.1f} MiB"


def test_multipart_parts_and_a_small_file_in_one_put(uvf):
    s3 = CountingS3()
    bucket = Bucket(s3, "b")
    assert bucket.upload("small", [b"x" * 1000, b"y" * 1000]) == 2000
    assert s3.objects["small"] == b"x" * 1000 + b"y" * 1000 and s3.parts == []
    total = bucket.upload("big", (os.urandom(MB) for _ in range(20)), part_size=5 * MB)
    assert total == 20 * MB and s3.parts == [5 * MB] * 4 and s3.objects["big"] == b"<multipart>"


def test_a_failed_part_aborts_the_upload_and_stores_nothing(uvf):
    from katta_client.storage import StorageError

    s3 = CountingS3()
    s3.fail_on_part = 2
    with pytest.raises(StorageError, match="multipart upload failed"):
        Bucket(s3, "b").upload("big", (b"z" * MB for _ in range(12)), part_size=5 * MB)
    assert s3.aborted == ["big"] and "big" not in s3.objects


def test_a_tampered_download_leaves_no_file(uvf, tmp_path):
    s3 = CountingS3()
    files = VaultFiles(uvf, Bucket(s3, "b"))
    data = os.urandom(100_000)
    key = files.put(io.BytesIO(data), "/f.bin")
    tampered = bytearray(s3.objects[key])
    tampered[-5] ^= 1

    def get_object(Bucket, Key):  # noqa: N803
        return {"Body": StreamingBody(iter([bytes(tampered)]))}
    s3.get_object = get_object  # type: ignore[attr-defined]
    target = tmp_path / "f.bin"
    with pytest.raises(IntegrityError, match="does not authenticate"):
        files.download("/f.bin", target)
    assert list(tmp_path.iterdir()) == []
    s3.objects[key] = s3.objects[key][:-40]  # truncated: the final chunk is gone
    tampered[:] = s3.objects[key]
    with pytest.raises(IntegrityError):
        files.download("/f.bin", target)
    assert list(tmp_path.iterdir()) == []


def test_a_100_mb_move_streams_the_ciphertext_unchanged(uvf):
    size = ciphertext_size(100 * MB)
    source_key = uvf.file_key(uvf.root_dir_id, "big.bin")

    class MovingS3(CountingS3):
        deleted: list[str] = []

        def head_object(self, Bucket, Key):  # noqa: N803
            return {"ContentLength": size} if Key == source_key else super().head_object(Bucket, Key)

        def get_object(self, Bucket, Key):  # noqa: N803
            return {"Body": ZeroFile(size)}

        def delete_object(self, Bucket, Key):  # noqa: N803
            self.deleted.append(Key)

    s3 = MovingS3()
    files = VaultFiles(uvf, Bucket(s3, "b"))
    tracemalloc.start()
    try:
        assert files.move("/big.bin", "/renamed.bin") == "/renamed.bin"
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert s3.uploaded == size and s3.deleted == [source_key]  # the old name goes only after the new one is whole
    assert peak < 4 * PART_SIZE, f"peak {peak / MB:.1f} MiB"


def test_a_recursive_put_streams_each_file(uvf, tmp_path):
    from katta_client.sync import carry_out_up, plan_up

    local = tmp_path / "tree"
    (local / "sub").mkdir(parents=True)
    for name in ("one.bin", "sub/two.bin"):
        with open(local / name, "wb") as sparse:
            sparse.truncate(40 * MB)
    class ReadingS3(CountingS3):
        def get_object(self, Bucket, Key):  # noqa: N803 - the directory links mkdir wrote
            return {"Body": io.BytesIO(self.objects[Key])}

    s3 = ReadingS3()
    files = VaultFiles(uvf, Bucket(s3, "b"))
    counted: list[int] = []
    tracemalloc.start()
    try:
        actions = plan_up(local, files, "/up")
        carry_out_up(actions, local, files, "/up", counted.append)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert s3.uploaded == sum(counted) == 2 * ciphertext_size(40 * MB)
    assert peak < 4 * PART_SIZE, f"peak {peak / MB:.1f} MiB for two 40 MiB files"
