"""Device linking: a new device gets the user's keys from a signed-in device.

QR code (``qr``) + insecure rendezvous session (``rendezvous``) + HPKE secure
channel with a check code (``channel``) + the MSC4108-style messages
(``messages``) + the per-device flows (``session``). See docs/device-linking.md.
"""

from .channel import MAX_PLAINTEXT, ChannelInitiator, ChannelResponder, Role, SecureChannel, channel_aad
from .errors import (
    ChannelConflict,
    ChannelError,
    ChannelExpired,
    ChannelTampered,
    ChannelTimeout,
    CheckCodeMismatch,
    LinkingError,
    LinkingRefused,
    MessageTooLarge,
    ProtocolViolation,
    QrPayloadError,
    RendezvousConflict,
    RendezvousError,
    RendezvousNotFound,
    RendezvousPayloadTooLarge,
)
from .messages import (
    FAILURE_REASONS,
    DeviceOffer,
    LoginDeclined,
    LoginFailure,
    LoginProtocol,
    LoginProtocolAccepted,
    LoginProtocols,
    LoginSuccess,
    decode_message,
    encode_message,
)
from .qr import QrIntent, QrPayload
from .rendezvous import (
    MAX_PAYLOAD_BYTES,
    HttpRendezvous,
    InMemoryRendezvous,
    RendezvousCreated,
    RendezvousState,
    RendezvousTransport,
)
from .session import ExistingDeviceSession, LinkingSession, NewDeviceSession, Timing

__all__ = [
    "MAX_PAYLOAD_BYTES", "MAX_PLAINTEXT", "FAILURE_REASONS",
    "ChannelConflict", "ChannelError", "ChannelExpired", "ChannelInitiator", "ChannelResponder",
    "ChannelTampered", "ChannelTimeout", "CheckCodeMismatch", "DeviceOffer", "ExistingDeviceSession",
    "HttpRendezvous", "InMemoryRendezvous", "LinkingError", "LinkingRefused", "LinkingSession",
    "LoginDeclined", "LoginFailure", "LoginProtocol", "LoginProtocolAccepted", "LoginProtocols",
    "LoginSuccess", "MessageTooLarge", "NewDeviceSession", "ProtocolViolation", "QrIntent", "QrPayload",
    "QrPayloadError", "RendezvousConflict", "RendezvousCreated", "RendezvousError", "RendezvousNotFound",
    "RendezvousPayloadTooLarge", "RendezvousState", "RendezvousTransport", "Role", "SecureChannel",
    "Timing", "channel_aad", "decode_message", "encode_message",
]
