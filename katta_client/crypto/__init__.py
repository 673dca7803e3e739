"""Client-side cryptography of the Katta SDK (Katta / Cryptomator Hub compatible).

Small modules with one job each; this package re-exports the public API:

* :mod:`.keys` — :class:`UserKeys`, :class:`DeviceKeys`, :func:`generate_account_key`
* :mod:`.access_token` — vault access tokens (member key, owners' recovery key)
* :mod:`.vault` — :class:`VaultKeys`, ``uvf/jwks.json``, ``vault.uvf``
* :mod:`.uvf_metadata` — :class:`VaultMetadata` (seeds, KDF)
* :mod:`.uvf_content`, :mod:`.uvf_names`, :mod:`.uvf_dirs` — UVF files, names, directories
* :mod:`.uvf_vault` — :class:`UvfVault`, cleartext path → object key mapping
* :mod:`.wot` — web-of-trust signatures
* :mod:`.shamir`, :mod:`.emergency` — emergency access: key shares of a vault's recovery key
* :mod:`.jwe` — the guarded JOSE layer (joserfc) underneath
* :mod:`.errors` — :class:`KattaCryptoError` and subclasses

See docs/client-crypto.md.
"""

from ._encoding import json_object, json_segment
from .access_token import AccessTokenPayload, decrypt_access_token, encrypt_access_token
from .ec import encode_public_key, jwk_thumbprint, load_private_key, load_public_key
from .errors import (
    DecryptionFailed,
    InvalidFormat,
    InvalidKey,
    KattaCryptoError,
    KeyMismatch,
    SignatureInvalid,
    UnsafeParameter,
)
from .jwe import PBES2_ITERATIONS, PBES2_MAX_ITERATIONS, PBES2_MIN_ITERATIONS
from .keys import (
    KID_DEVICE_KEY,
    KID_SETUP_CODE,
    KID_USER_KEY,
    DeviceKeys,
    UserKeys,
    device_id_for_public_key,
    generate_account_key,
)
from .uvf_content import (
    CIPHERTEXT_CHUNK_LEN,
    CLEARTEXT_CHUNK_LEN,
    HEADER_LEN,
    ciphertext_size,
    cleartext_size,
    decrypt_bytes,
    decrypt_chunks,
    decrypt_file,
    encrypt_bytes,
    encrypt_chunks,
    encrypt_file,
    parse_general_header,
)
from .uvf_dirs import DIR_FILE_NAME, dir_path, hash_dir_id, new_dir_id, root_dir_id
from .uvf_metadata import VaultMetadata
from .uvf_names import decrypt_name, encrypt_name
from .uvf_vault import UvfVault, VaultEntry
from .vault import (
    KID_MEMBER_KEY,
    RECOVERY_KID_PREFIX,
    VaultKeys,
    decrypt_vault_metadata_with_member_key,
    decrypt_vault_metadata_with_recovery_key,
    encrypt_vault_metadata,
    recovery_key_id,
    recovery_public_key_from_jwks,
    vault_uvf_origin,
)
from .wot import SignedKeys, compute_trust_level, fingerprint, sign_user_keys, verify_chain, verify_signature

__all__ = [
    # errors
    "KattaCryptoError", "InvalidFormat", "UnsafeParameter", "InvalidKey", "KeyMismatch",
    "DecryptionFailed", "SignatureInvalid",
    # keys
    "UserKeys", "DeviceKeys", "generate_account_key", "device_id_for_public_key",
    "KID_SETUP_CODE", "KID_DEVICE_KEY", "KID_USER_KEY",
    "load_private_key", "load_public_key", "encode_public_key", "jwk_thumbprint",
    "PBES2_ITERATIONS", "PBES2_MIN_ITERATIONS", "PBES2_MAX_ITERATIONS",
    # access tokens and vault keys
    "AccessTokenPayload", "encrypt_access_token", "decrypt_access_token",
    "VaultKeys", "KID_MEMBER_KEY", "RECOVERY_KID_PREFIX", "recovery_key_id",
    "recovery_public_key_from_jwks", "encrypt_vault_metadata",
    "decrypt_vault_metadata_with_member_key", "decrypt_vault_metadata_with_recovery_key",
    "vault_uvf_origin", "VaultMetadata",
    # UVF
    "UvfVault", "VaultEntry",
    "encrypt_chunks", "decrypt_chunks", "encrypt_file", "decrypt_file", "encrypt_bytes", "decrypt_bytes",
    "ciphertext_size", "cleartext_size", "parse_general_header",
    "HEADER_LEN", "CLEARTEXT_CHUNK_LEN", "CIPHERTEXT_CHUNK_LEN",
    "encrypt_name", "decrypt_name",
    "root_dir_id", "new_dir_id", "hash_dir_id", "dir_path", "DIR_FILE_NAME",
    # the one reader of JOSE JSON (headers, claim sets, JSON serializations)
    "json_object", "json_segment",
    # web of trust
    "SignedKeys", "sign_user_keys", "verify_signature", "verify_chain", "compute_trust_level", "fingerprint",
]
