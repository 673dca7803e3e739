"""UVF files (AES-256-GCM-32k), names (AES-SIV-512-B64URL), directories and UvfVault."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import os
import tracemalloc
import unicodedata

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, AESSIV
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from katta_client.crypto import (
    CIPHERTEXT_CHUNK_LEN,
    CLEARTEXT_CHUNK_LEN,
    HEADER_LEN,
    DecryptionFailed,
    InvalidFormat,
    UvfVault,
    VaultMetadata,
    ciphertext_size,
    cleartext_size,
    decrypt_bytes,
    decrypt_chunks,
    encrypt_bytes,
    encrypt_chunks,
)
from katta_client.crypto import uvf_content, uvf_dirs, uvf_names

SEED_ID = int.from_bytes(base64.urlsafe_b64decode("WOpxyg=="), "big")
SEED = base64.urlsafe_b64decode("Ltg87d0_EnV8i5Rmnt4r48tMTlKc5q5mTcCkBcL1eXk=")
SALT = base64.urlsafe_b64decode("Sv9EiiT3ekfuVVWYJw26t28JyOQYi3JOFeQ8vRt-fzQ=")


@pytest.fixture(scope="module")
def metadata() -> VaultMetadata:
    # the seeds of the vault.uvf vector
    return VaultMetadata({SEED_ID: SEED}, SEED_ID, SEED_ID, SALT)


@pytest.fixture(scope="module")
def vault(metadata) -> UvfVault:
    return UvfVault(metadata)


def hkdf(length: int, info: bytes) -> bytes:
    return HKDF(hashes.SHA512(), length, SALT, info).derive(SEED)


# -- layout, checked against an independent reading of architecture §5 ------------------------------

def test_file_layout_matches_design(metadata):
    plaintext = b"hello uvf"
    data = encrypt_bytes(metadata, plaintext)
    assert data[:3] == b"uvf" and data[3] == 0x01 and data[4:8] == SEED_ID.to_bytes(4, "big")
    assert len(data) == HEADER_LEN + 12 + len(plaintext) + 16 == 68 + 37
    header_nonce = data[8:20]
    file_key = AESGCM(hkdf(32, b"fileHeader")).decrypt(header_nonce, data[20:68], data[:8])
    assert len(file_key) == 32
    chunk = data[68:]
    assert AESGCM(file_key).decrypt(chunk[:12], chunk[12:], (0).to_bytes(4, "big") + header_nonce) == plaintext


def test_chunk_sizes(metadata):
    assert CLEARTEXT_CHUNK_LEN == 32_740 and CIPHERTEXT_CHUNK_LEN == 32_768 and HEADER_LEN == 68
    data = encrypt_bytes(metadata, bytes(CLEARTEXT_CHUNK_LEN + 1))
    assert len(data) == 68 + 32_768 + 12 + 1 + 16


@pytest.mark.parametrize("size", [0, 1, CLEARTEXT_CHUNK_LEN - 1, CLEARTEXT_CHUNK_LEN, CLEARTEXT_CHUNK_LEN + 1,
                                  2 * CLEARTEXT_CHUNK_LEN, 3 * CLEARTEXT_CHUNK_LEN + 7])
def test_round_trip_and_sizes(metadata, size):
    plaintext = os.urandom(size)
    data = encrypt_bytes(metadata, plaintext)
    assert len(data) == ciphertext_size(size)
    assert cleartext_size(len(data)) == size
    assert decrypt_bytes(metadata, data) == plaintext


@pytest.mark.parametrize("k", [0, 1, 2])
def test_exact_multiples_end_with_an_empty_chunk(metadata, k):
    data = encrypt_bytes(metadata, bytes(k * CLEARTEXT_CHUNK_LEN))
    assert len(data) == HEADER_LEN + k * CIPHERTEXT_CHUNK_LEN + 28
    header_nonce = data[8:20]
    file_key = AESGCM(hkdf(32, b"fileHeader")).decrypt(header_nonce, data[20:68], data[:8])
    last = data[-28:]
    assert AESGCM(file_key).decrypt(last[:12], last[12:], k.to_bytes(4, "big") + header_nonce) == b""


def test_streaming_inputs_of_any_shape(metadata, tmp_path):
    plaintext = os.urandom(100_000)
    pieces = [plaintext[i:i + 777] for i in range(0, len(plaintext), 777)]
    encrypted = b"".join(encrypt_chunks(metadata, iter(pieces)))
    odd = [encrypted[i:i + 1001] for i in range(0, len(encrypted), 1001)]
    assert b"".join(decrypt_chunks(metadata, iter(odd))) == plaintext
    source, target = tmp_path / "plain", tmp_path / "enc"
    source.write_bytes(plaintext)
    with source.open("rb") as fin, target.open("wb") as fout:
        assert uvf_content.encrypt_file(metadata, fin, fout) == ciphertext_size(len(plaintext))
    out = io.BytesIO()
    with target.open("rb") as fin:
        assert uvf_content.decrypt_file(metadata, fin, out) == len(plaintext)
    assert out.getvalue() == plaintext


def test_100_mb_stream_in_bounded_memory(metadata):
    total = 100 * 1024 * 1024
    block = os.urandom(1024 * 1024)

    def plaintext():
        for _ in range(total // len(block)):
            yield block

    digest_in = hashlib.sha256()
    tracemalloc.start()
    try:
        def tee():
            for piece in plaintext():
                digest_in.update(piece)
                yield piece
        digest_out = hashlib.sha256()
        size = 0
        for piece in decrypt_chunks(metadata, encrypt_chunks(metadata, tee())):
            digest_out.update(piece)
            size += len(piece)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert size == total and digest_in.digest() == digest_out.digest()
    assert peak < 8 * 1024 * 1024, f"peak {peak} bytes"


# -- tampering -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def three_chunks(metadata):
    plaintext = os.urandom(2 * CLEARTEXT_CHUNK_LEN + 1000)
    return plaintext, encrypt_bytes(metadata, plaintext)


@pytest.mark.parametrize("offset", [0, 3, 5, 8, 19, 20, 67, 68, 80, 68 + CIPHERTEXT_CHUNK_LEN + 100, -1])
def test_flipped_byte_refused(metadata, three_chunks, offset):
    _, data = three_chunks
    tampered = bytearray(data)
    tampered[offset] ^= 0x01
    with pytest.raises((DecryptionFailed, InvalidFormat)):
        decrypt_bytes(metadata, bytes(tampered))


def test_swapped_chunks_refused(metadata, three_chunks):
    _, data = three_chunks
    header, c0, c1 = data[:68], data[68:68 + CIPHERTEXT_CHUNK_LEN], data[68 + CIPHERTEXT_CHUNK_LEN:68 + 2 * CIPHERTEXT_CHUNK_LEN]
    rest = data[68 + 2 * CIPHERTEXT_CHUNK_LEN:]
    with pytest.raises(DecryptionFailed, match="chunk 0"):
        decrypt_bytes(metadata, header + c1 + c0 + rest)


def test_chunk_from_another_file_refused(metadata, three_chunks):
    plaintext, data = three_chunks
    other = encrypt_bytes(metadata, plaintext)
    with pytest.raises(DecryptionFailed):
        decrypt_bytes(metadata, data[:68] + other[68:])


@pytest.mark.parametrize("cut", [1, 27, 28, 1028, 1028 + CIPHERTEXT_CHUNK_LEN])
def test_truncated_file_refused(metadata, three_chunks, cut):
    _, data = three_chunks
    with pytest.raises(DecryptionFailed, match="truncated|authenticated"):
        decrypt_bytes(metadata, data[:-cut])


def test_missing_empty_final_chunk_refused(metadata):
    data = encrypt_bytes(metadata, bytes(CLEARTEXT_CHUNK_LEN))
    with pytest.raises(DecryptionFailed, match="truncated"):
        decrypt_bytes(metadata, data[:-28])  # drop the empty final chunk
    with pytest.raises(DecryptionFailed, match="truncated"):
        decrypt_bytes(metadata, data[:68])  # header only


def test_appended_chunk_refused(metadata, three_chunks):
    _, data = three_chunks
    with pytest.raises(DecryptionFailed):
        decrypt_bytes(metadata, data + data[-28:])


def test_wrong_vault_refused(three_chunks):
    _, data = three_chunks
    other = VaultMetadata({SEED_ID: os.urandom(32)}, SEED_ID, SEED_ID, SALT)
    with pytest.raises(DecryptionFailed):
        decrypt_bytes(other, data)
    unknown_seed = VaultMetadata({SEED_ID + 1: SEED}, SEED_ID + 1, SEED_ID + 1, SALT)
    with pytest.raises(DecryptionFailed, match="seed"):
        decrypt_bytes(unknown_seed, data)


@pytest.mark.parametrize("header", [b"", b"uv", b"uvg\x01\x00\x00\x00\x00", b"uvf\x00\x00\x00\x00\x00", b"uvf\x02abcd"])
def test_bad_general_header(metadata, header):
    with pytest.raises(InvalidFormat):
        uvf_content.parse_general_header(header)
    with pytest.raises(InvalidFormat):
        decrypt_bytes(metadata, header + bytes(100))


def test_latest_seed_used_for_new_files_and_header_seed_for_reading():
    old_id, new_id = 1, 2
    old = VaultMetadata({old_id: os.urandom(32)}, old_id, old_id, SALT)
    rotated = VaultMetadata({old_id: old.seeds[old_id], new_id: os.urandom(32)}, old_id, new_id, SALT)
    old_file = encrypt_bytes(old, b"before rotation")
    new_file = encrypt_bytes(rotated, b"after rotation")
    assert new_file[4:8] == new_id.to_bytes(4, "big")
    assert decrypt_bytes(rotated, old_file) == b"before rotation"
    assert decrypt_bytes(rotated, new_file) == b"after rotation"


# -- names -----------------------------------------------------------------------------------

def test_name_encryption_matches_design(metadata):
    dir_id = uvf_dirs.root_dir_id(metadata)
    encrypted = uvf_names.encrypt_name(metadata, "Report.pdf", dir_id)
    assert encrypted.endswith(".uvf") and "=" not in encrypted
    raw = base64.urlsafe_b64decode(encrypted[:-4] + "=" * (-len(encrypted[:-4]) % 4))
    assert AESSIV(hkdf(64, b"siv")).decrypt(raw, [dir_id]) == b"Report.pdf"
    assert uvf_names.decrypt_name(metadata, encrypted, dir_id) == "Report.pdf"
    assert uvf_names.encrypt_name(metadata, "Report.pdf", dir_id) == encrypted  # deterministic


def test_names_are_nfc_normalized(metadata):
    dir_id = uvf_dirs.root_dir_id(metadata)
    nfd = unicodedata.normalize("NFD", "Café ünïcødé.txt")
    assert nfd != unicodedata.normalize("NFC", nfd)
    encrypted = uvf_names.encrypt_name(metadata, nfd, dir_id)
    assert encrypted == uvf_names.encrypt_name(metadata, unicodedata.normalize("NFC", nfd), dir_id)
    assert uvf_names.decrypt_name(metadata, encrypted, dir_id) == unicodedata.normalize("NFC", nfd)


def test_name_moved_to_another_directory_refused(metadata):
    encrypted = uvf_names.encrypt_name(metadata, "secret.txt", uvf_dirs.root_dir_id(metadata))
    with pytest.raises(DecryptionFailed):
        uvf_names.decrypt_name(metadata, encrypted, uvf_dirs.new_dir_id())


def test_tampered_or_malformed_names_refused(metadata):
    dir_id = uvf_dirs.root_dir_id(metadata)
    encrypted = uvf_names.encrypt_name(metadata, "a.txt", dir_id)
    flipped = ("B" if encrypted[0] == "A" else "A") + encrypted[1:]
    with pytest.raises(DecryptionFailed):
        uvf_names.decrypt_name(metadata, flipped, dir_id)
    for bad in ["", ".uvf", "abc", "abc.uvf", "!!!!.uvf", encrypted[:-4] + "=.uvf"]:
        with pytest.raises((InvalidFormat, DecryptionFailed)):
            uvf_names.decrypt_name(metadata, bad, dir_id)
    for bad in ["", ".", "..", "a/b", "nul\x00"]:
        with pytest.raises(InvalidFormat):
            uvf_names.encrypt_name(metadata, bad, dir_id)


# -- directories -----------------------------------------------------------------------------

def test_directory_paths_match_design(metadata):
    root = uvf_dirs.root_dir_id(metadata)
    assert root == hkdf(32, b"rootDirId")
    h = base64.b32encode(hmac.new(hkdf(64, b"hmac"), root, hashlib.sha256).digest()[:20]).decode()
    assert len(h) == 32
    assert uvf_dirs.dir_path(metadata, root) == f"d/{h[:2]}/{h[2:]}/"


def test_dir_file_round_trip(metadata):
    dir_id = uvf_dirs.new_dir_id()
    first, second = uvf_dirs.encrypt_dir_file(metadata, dir_id), uvf_dirs.encrypt_dir_file(metadata, dir_id)
    assert first != second  # independent encryptions
    assert uvf_dirs.decrypt_dir_file(metadata, first) == dir_id
    with pytest.raises(InvalidFormat):
        uvf_dirs.decrypt_dir_file(metadata, encrypt_bytes(metadata, b"short"))


# -- UvfVault --------------------------------------------------------------------------------

class MemoryStore(dict):
    def read(self, key: str) -> bytes:
        return self[key]


def test_uvf_vault_paths_and_listing(vault):
    store = MemoryStore(vault.root_dir_objects())
    root = vault.root_dir_id
    assert list(store) == [vault.dir_prefix(root) + "dir.uvf"]
    docs_id, objects = vault.new_dir_objects(root, "Docs")
    store.update(objects)
    sub_id, objects = vault.new_dir_objects(docs_id, "Sub dir")
    store.update(objects)
    assert vault.resolve_dir("/Docs/Sub dir/", store.read) == sub_id
    assert vault.resolve_dir("", store.read) == root

    key = vault.object_key("/Docs/Sub dir/file.txt", store.read)
    assert key.startswith(vault.dir_prefix(sub_id)) and key.endswith(".uvf")
    store[key] = vault.encrypt_bytes(b"content")
    store[vault.file_key(root, "top.txt")] = vault.encrypt_bytes(b"top")
    assert vault.decrypt_bytes(store[key]) == b"content"

    entries = sorted(vault.list_dir(root, store.keys()), key=lambda e: e.name)
    assert [(e.name, e.is_dir) for e in entries] == [("Docs", True), ("top.txt", False)]
    assert [(e.name, e.is_dir) for e in vault.list_dir(docs_id, store.keys())] == [("Sub dir", True)]
    assert vault.decrypt_dir_file(store[vault.dir_file_key(sub_id)]) == sub_id


def test_uvf_vault_from_payload_and_moved_file_refused(metadata):
    vault = UvfVault(metadata.to_payload())
    store = MemoryStore(vault.root_dir_objects())
    a_id, objects = vault.new_dir_objects(vault.root_dir_id, "a")
    store.update(objects)
    b_id, objects = vault.new_dir_objects(vault.root_dir_id, "b")
    store.update(objects)
    key = vault.file_key(a_id, "x.txt")
    moved = vault.dir_prefix(b_id) + key.rsplit("/", 1)[1]  # same object, moved under b/
    store[moved] = vault.encrypt_bytes(b"x")
    with pytest.raises(DecryptionFailed):
        list(vault.list_dir(b_id, [moved]))


def test_uvf_vault_path_validation(vault):
    assert UvfVault.split_path("/a//b/") == ["a", "b"]
    for bad in ["/a/../b", "./a", "/a/."]:
        with pytest.raises(InvalidFormat):
            UvfVault.split_path(bad)
    with pytest.raises(KeyError):
        vault.resolve_dir("/missing", MemoryStore().read)
