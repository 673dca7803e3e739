"""The web app's crypto module (web/src/crypto) and katta_client, both ways.

katta_client makes user keys, a device JWE, a vault (vault.uvf, jwks.json, an owner's access
token, the root directory, a file) and a web-of-trust signature; a vitest test
(web/src/crypto/interop.test.ts) opens them under Node's WebCrypto and makes the same kinds of
artifacts, which katta_client then opens here.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from katta_client.crypto import (
    DeviceKeys,
    UserKeys,
    UvfVault,
    VaultKeys,
    VaultMetadata,
    decrypt_vault_metadata_with_recovery_key,
    device_id_for_public_key,
    fingerprint,
    generate_account_key,
    sign_user_keys,
    verify_signature,
)
from katta_client.crypto.wot import SignedKeys

WEB = Path(__file__).resolve().parent.parent / "web"
VITEST = WEB / "node_modules" / ".bin" / "vitest"

if not VITEST.exists() or shutil.which("node") is None:
    if os.environ.get("CI"):
        raise RuntimeError("node or web/node_modules is missing: the test command must run `npm ci` in web/ first")
    pytest.skip("node or web/node_modules is absent (run `cd web && npm ci`); CI runs this test", allow_module_level=True)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def katta_artifacts() -> tuple[dict, UserKeys, DeviceKeys, VaultKeys]:
    user = UserKeys.create()
    account_key = generate_account_key()
    device = DeviceKeys.create()
    vault = VaultKeys.create()
    metadata = VaultMetadata.create(storage={"provider": "p1", "defaultPath": "b0", "nickname": "from katta", "region": "r"})
    uvf = UvfVault(metadata)
    root_hash = uvf.dir_prefix(uvf.root_dir_id).split("/")
    browser_user_keys = UserKeys.create()  # stands for the keys the browser user will be signed for
    public = {"ecdhPublicKey": user.encoded_ecdh_public_key, "ecdsaPublicKey": user.encoded_ecdsa_public_key}
    signed = SignedKeys(browser_user_keys.encoded_ecdh_public_key, browser_user_keys.encoded_ecdsa_public_key)
    artifacts = {
        "user": {
            "publicKeys": public,
            "accountKey": account_key,
            "privateKeys": user.encrypt_with_account_key(account_key, iterations=1000),
            "setupCode": user.encrypt_setup_code(account_key),
            "fingerprint": fingerprint(user.encoded_ecdh_public_key, user.encoded_ecdsa_public_key),
        },
        "device": {
            "privateKeyPkcs8": device.to_pkcs8_b64(),
            "publicKey": device.encoded_public_key,
            "id": device.device_id,
            "userPrivateKey": user.encrypt_for_device(device),
        },
        "vault": {
            "uvf": vault.encrypt_metadata(metadata, origin="http://127.0.0.1:8000/api/vaults/v-katta/uvf/vault.uvf"),
            "jwks": vault.jwks_json(),
            "payload": metadata.to_payload(),
            "ownerToken": vault.encrypt_for_user(user.ecdh_public_key, owner=True),
            "rootDirHash": root_hash[1] + root_hash[2],
            "file": b64url(uvf.encrypt_bytes(b"hello from katta")),
        },
        "wot": {"signature": sign_user_keys(user, "katta-user", "browser-user", signed), "signedKeys": signed.to_json()},
        "browserAccountKey": generate_account_key(),
    }
    return artifacts, user, device, vault


@pytest.fixture(scope="module")
def exchange(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("web-interop")
    artifacts, user, device, vault = katta_artifacts()
    (workdir / "from-katta.json").write_text(json.dumps(artifacts))
    result = subprocess.run(
        [str(VITEST), "run", "src/crypto/interop.test.ts"], cwd=WEB, capture_output=True, text=True, timeout=180,
        env={**os.environ, "KATTA_INTEROP_DIR": str(workdir), "NO_COLOR": "1"},
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "1 passed" in result.stdout, result.stdout[-2000:]
    return artifacts, json.loads((workdir / "from-browser.json").read_text()), user, device, vault


def test_the_browser_opened_what_katta_made(exchange):
    artifacts, from_browser, *_ = exchange
    # The vitest side asserts each step; here: it read the very payload katta sealed.
    assert from_browser["opened"]["vaultPayload"] == artifacts["vault"]["payload"]
    assert from_browser["user"]["fingerprintOfKatta"] == artifacts["user"]["fingerprint"]


def test_katta_opens_the_browsers_user_keys(exchange):
    _, from_browser, user, device, _ = exchange
    b = from_browser["user"]
    public = b["publicKeys"]
    recovered = UserKeys.recover_with_account_key(b["privateKeys"], b["accountKey"], public["ecdhPublicKey"],
                                                  public["ecdsaPublicKey"])
    assert recovered.encoded_ecdsa_public_key == public["ecdsaPublicKey"]
    assert recovered.decrypt_setup_code(b["setupCode"]) == b["accountKey"]
    d = from_browser["device"]
    assert device_id_for_public_key(d["publicKey"]) == d["id"]
    on_device = UserKeys.decrypt_on_device(d["userPrivateKey"], DeviceKeys.from_pkcs8(d["privateKeyPkcs8"]),
                                           public["ecdhPublicKey"], public["ecdsaPublicKey"])
    assert on_device.encoded_ecdh_public_key == public["ecdhPublicKey"]
    # the browser re-encrypted katta's own user keys for katta's device (as when it registers one)
    again = UserKeys.decrypt_on_device(d["kattaUserPrivateKey"], device, user.encoded_ecdh_public_key,
                                       user.encoded_ecdsa_public_key)
    assert again.encoded_ecdsa_public_key == user.encoded_ecdsa_public_key


def test_katta_opens_the_browsers_vault(exchange):
    _, from_browser, user, *_ = exchange
    v = from_browser["vault"]
    member = user.decrypt_access_token(v["memberTokenForKatta"])
    assert member.recovery_key is None
    keys = VaultKeys.from_access_token(member, v["jwks"])
    metadata = keys.decrypt_metadata(v["uvf"])
    assert metadata.to_payload() == v["payload"]
    assert metadata.storage["nickname"] == "from the browser"
    uvf = UvfVault(metadata)
    root_hash = uvf.dir_prefix(uvf.root_dir_id).split("/")
    assert v["rootDirHash"] == root_hash[1] + root_hash[2]
    assert uvf.decrypt_dir_file(b64url_decode(v["dirUvf"])) == uvf.root_dir_id
    assert uvf.decrypt_bytes(base64.b64decode(v["file"])) == b"hello from the browser"
    # the owner's token carries the recovery key, and it opens vault.uvf too
    recovery = UserKeys.recover_with_account_key(
        from_browser["user"]["privateKeys"], from_browser["user"]["accountKey"],
        from_browser["user"]["publicKeys"]["ecdhPublicKey"], from_browser["user"]["publicKeys"]["ecdsaPublicKey"],
    ).decrypt_access_token(v["ownerToken"]).recovery_key
    assert decrypt_vault_metadata_with_recovery_key(v["uvf"], recovery).to_payload() == v["payload"]


def test_katta_verifies_the_browsers_signature(exchange):
    _, from_browser, user, *_ = exchange
    header, signed = verify_signature(from_browser["wot"]["signature"],
                                      from_browser["user"]["publicKeys"]["ecdsaPublicKey"])
    assert (header["iss"], header["sub"]) == ("browser-user", "katta-user")
    assert signed == SignedKeys(user.encoded_ecdh_public_key, user.encoded_ecdsa_public_key)
    assert fingerprint(user.encoded_ecdh_public_key, user.encoded_ecdsa_public_key) \
        == from_browser["user"]["fingerprintOfKatta"]
