/**
 * Katta's client-side formats in the browser, byte-compatible with `katta_client/crypto`
 * (architecture §5, §9, §15). WebCrypto for the primitives, `jose` for JOSE, `@hpke` for the device-link
 * channel; no UI imports.
 */
export * from "./errors";
export { b64Decode, b64Encode, b64urlDecode, b64urlEncode, jsonObject, jsonSegment, type JsonObject } from "./encoding";
export { encodePublicKey, importPrivateKey, importPublicKey, jwkThumbprint, type KeyLike, type KeyUse } from "./ec";
export { ECDH_ALGS, PBES2_ITERATIONS, PBES2_MAX_ITERATIONS, PBES2_MIN_ITERATIONS, parseCompactHeader, type EcdhAlg } from "./jwe";
export {
  DEVICE_TYPE_BROWSER,
  DeviceKeys,
  KID_DEVICE_KEY,
  KID_SETUP_CODE,
  KID_USER_KEY,
  UserKeys,
  deviceIdForPublicKey,
  generateAccountKey,
  looksLikeAccountKey,
  normalizeAccountKey,
  type UserPublicKeys,
} from "./keys";
export { DeviceKeyStore } from "./deviceStore";
export {
  MAX_SHARES as MAX_EMERGENCY_SHARES,
  combineRecoveredKey,
  newProcessKey,
  recoverShare,
  rekeyWithRecoveryKey,
  shamirCombine,
  shamirSplit,
  splitRecoveryKey,
} from "./emergency";
export { decryptAccessToken, encryptAccessToken, type AccessTokenPayload } from "./accessToken";
export {
  KID_MEMBER_KEY,
  RECOVERY_KID_PREFIX,
  VaultKeys,
  decryptVaultMetadataWithMemberKey,
  decryptVaultMetadataWithRecoveryKey,
  encryptVaultMetadata,
  recoveryKeyId,
  recoveryPublicKeyFromJwks,
  vaultUvfOrigin,
} from "./vault";
export { VaultMetadata, decryptBytes, decryptDirFile, encryptBytes, encryptDirFile, rootDirectoryTemplate } from "./uvf";
export {
  ChannelInitiator,
  ChannelResponder,
  MAX_PLAINTEXT as MAX_LINK_MESSAGE_BYTES,
  QrIntent,
  SecureChannel,
  channelAad,
  parseQrPayload,
  parseQrPayloadText,
  qrPayloadBytes,
  qrPayloadText,
  type QrPayload,
} from "./linking";
export {
  computeTrustLevel,
  fingerprint,
  identityFingerprint,
  matchesIdentityFingerprint,
  signUserKeys,
  verifyChain,
  verifySignature,
  type SignedKeys,
  type TrustedUser,
} from "./wot";
