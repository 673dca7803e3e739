/**
 * Every failure of the crypto module is a KattaCryptoError; the subclass says what kind. Messages
 * name what was wrong (a field, a format, a limit) and never carry key material or plaintext, so
 * a page may show them.
 */
export class KattaCryptoError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** The input is not a well-formed object of the expected format (JWE, JWS, key, UVF file). */
export class InvalidFormat extends KattaCryptoError {}

/** Well-formed, but asks for something refused on purpose (a huge p2c, zip, an unknown crit). */
export class UnsafeParameter extends InvalidFormat {}

/** Key material is malformed, on the wrong curve, or not a point on P-384. */
export class InvalidKey extends KattaCryptoError {}

/** A recovered private key does not belong to the public key it must match. */
export class KeyMismatch extends KattaCryptoError {}

/** Authentication failed: wrong key, wrong account key, or tampered ciphertext. */
export class DecryptionFailed extends KattaCryptoError {}

/** A web-of-trust signature did not verify, or its claims do not fit. */
export class SignatureInvalid extends KattaCryptoError {}

/** Device linking: the secure channel failed or was closed after a failure. */
export class ChannelError extends KattaCryptoError {}

/** A channel message failed to decode or authenticate (tampered, replayed, reordered, foreign). */
export class ChannelTampered extends ChannelError {}

/** An authentic message that says the wrong thing (a wrong confirmation string). */
export class ProtocolViolation extends ChannelError {}

/** The check code typed on this device is not the one the other device shows. */
export class CheckCodeMismatch extends ChannelError {}

/** A message too large for one rendezvous payload. */
export class MessageTooLarge extends ChannelError {}

/** A device-link QR payload (or its text form) that is not one. */
export class QrPayloadError extends InvalidFormat {}
