"""Exception types of device linking.

Every failure of the linking protocol is a ``LinkingError``; callers that only
want to tell the user "linking failed, start again" catch that. The subclasses
say exactly which rule was broken so the CLI can word its message and tests can
assert the refusal they expect. No exception carries key material or plaintext.
"""

from __future__ import annotations


class LinkingError(Exception):
    """Base class of every device-linking failure."""


# --- the insecure rendezvous transport ------------------------------------


class RendezvousError(LinkingError):
    """The rendezvous server refused a request or answered something unusable."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class RendezvousNotFound(RendezvousError):
    """404: the rendezvous session does not exist, was deleted or has expired."""


class RendezvousConflict(RendezvousError):
    """409: the ``sequence_token`` of a PUT is not the current one."""


class RendezvousPayloadTooLarge(RendezvousError):
    """413: the ``data`` string is longer than the server accepts (4096 bytes)."""


# --- the QR payload -----------------------------------------------------------


class QrPayloadError(LinkingError, ValueError):
    """A QR payload (binary or text form) is malformed or of an unknown kind."""


# --- the secure channel and the linking flow --------------------------------


class ChannelError(LinkingError):
    """The secure channel cannot continue; the linking session is over."""


class ChannelTampered(ChannelError):
    """A message failed authentication or decoding: modified, replayed, reordered or foreign."""


class ChannelExpired(ChannelError):
    """The rendezvous session is gone (expired or deleted) or the session's time ran out."""


class ChannelTimeout(ChannelExpired):
    """The other device did not answer within the bounded waiting time."""


class ChannelConflict(ChannelError):
    """Someone else wrote to the rendezvous session out of turn (a racing scanner?)."""


class CheckCodeMismatch(ChannelError):
    """The check code the user typed differs from the one this channel derives."""


class MessageTooLarge(ChannelError):
    """A message does not fit the 4096-byte rendezvous payload once encrypted and encoded."""


class ProtocolViolation(ChannelError):
    """A well-authenticated message is malformed or not the one expected at this step."""


class LinkingRefused(ChannelError):
    """The other device ended the session with ``m.login.failure`` or ``m.login.declined``."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason
