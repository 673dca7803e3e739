"""The device-linking flow over the secure channel, for each of the two devices.

Who shows the QR code decides the handshake roles (MSC4388): the device that
shows it is G (HPKE recipient), the one that scans it is S (HPKE sender). Who
has the keys decides the linking roles (MSC4108, adapted): the existing device
registers the new device's key. Both combinations are supported:

QR shown by the existing device (intent 1) -- ``start_existing_device`` / ``join``::

    E: create rendezvous, show QR      N: scan, INITIATE ->
    E: <- OK                           N: show check code, device_offer ->
    E: user types check code, register the device, m.login.success ->

The new device may not be signed in yet (MSC4108's sign-in through the other device):
instead of its device key it first sends ``m.login.protocol`` with an RFC 8628 device
authorization it started at the IdP. With the QR code shown by the existing device::

    E: create rendezvous, show QR      N: scan, INITIATE ->
    E: <- OK                           N: show check code, m.login.protocol ->
    E: user types check code, show verification URI and user code, m.login.protocol_accepted ->
                                       N: poll the IdP until approved, device_offer ->
    E: register the device, m.login.success ->

The existing device shows the verification URI only after the check code matched:
otherwise a shoulder-surfer's device authorization could be approved by the user.
It never sees the new device's tokens.

QR shown by the new device (intent 0) -- ``start_new_device`` / ``scan_new_device``::

    N: create rendezvous, show QR      E: scan, INITIATE ->
    N: <- OK                           E: show check code, m.login.protocols ->
    N: user types check code, device_offer ->
    E: register the device, m.login.success ->

Whichever device showed the QR code asks the user for the check code shown on
the other one, and nothing is registered before it matched. The rendezvous
holds one payload, so the two devices strictly take turns; every wait is a
bounded poll with an injectable clock and sleep.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

from .channel import ChannelInitiator, ChannelResponder, Role, SecureChannel, channel_aad
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
    DEVICE_AUTHORIZATION_GRANT,
    FAILURE_REASONS,
    REGISTRATION_FAILED,
    UNEXPECTED_MESSAGE_RECEIVED,
    USER_CANCELLED,
    DeviceOffer,
    LoginDeclined,
    LoginFailure,
    LoginProtocol,
    LoginProtocolAccepted,
    LoginProtocols,
    LoginSuccess,
    Message,
    decode_message,
    encode_message,
)
from .qr import QrIntent, QrPayload
from .rendezvous import RendezvousState, RendezvousTransport


@dataclass(frozen=True)
class Timing:
    """How long to wait for the other device and how often to look."""

    wait_timeout: float = 120.0  # seconds, bound on each wait for the other device
    # seconds the existing device waits for the new one to be approved at the IdP and
    # answer; the rendezvous lives at most 300 s anyway
    sign_in_timeout: float = 300.0
    poll_interval: float = 1.0
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep


def _transient(err: RendezvousError) -> bool:
    return err.status is None or err.status == 429 or err.status >= 500


class _Mailbox:
    """Turn-taking over the rendezvous: each write replaces exactly the payload we last saw."""

    def __init__(self, transport: RendezvousTransport, rendezvous_id: str, base_url: str,
                 token: str, timing: Timing) -> None:
        self._transport = transport
        self.rendezvous_id = rendezvous_id
        self._base_url = base_url
        self.token = token
        self._timing = timing

    @property
    def timing(self) -> Timing:
        return self._timing

    def aad(self) -> bytes:
        """AAD for the next write, which replaces the payload at ``self.token``."""
        return channel_aad(self._base_url, self.rendezvous_id, self.token)

    def fetch(self) -> RendezvousState:
        try:
            return self._transport.get(self.rendezvous_id)
        except RendezvousNotFound:
            raise ChannelExpired("the rendezvous session has expired or was cancelled") from None

    def write(self, data: str) -> None:
        try:
            self.token = self._transport.put(self.rendezvous_id, self.token, data)
        except RendezvousNotFound:
            raise ChannelExpired("the rendezvous session has expired or was cancelled") from None
        except RendezvousConflict:
            # Not re-sent over the new token: the sealed message is bound to the old one
            # and its sequence number is spent, so a retry could only fork the channel.
            raise ChannelConflict("another device wrote to the rendezvous session out of turn") from None
        except RendezvousPayloadTooLarge:
            raise MessageTooLarge("the rendezvous server refused the message as too large") from None

    def read(self, timeout: float | None = None) -> tuple[str, bytes]:
        """Wait for the other device's write; returns its data and the AAD it was sealed with."""
        clock, sleep = self._timing.clock, self._timing.sleep
        timeout = self._timing.wait_timeout if timeout is None else timeout
        deadline = clock() + timeout
        while True:
            try:
                state = self.fetch()
            except RendezvousError as err:
                if not _transient(err):
                    raise
            else:
                if state.sequence_token != self.token:
                    aad = self.aad()
                    self.token = state.sequence_token
                    return state.data, aad
            now = clock()
            if now >= deadline:
                raise ChannelTimeout(f"the other device did not answer within {timeout:g} seconds")
            sleep(min(self._timing.poll_interval, deadline - now))

    def delete(self) -> None:
        try:
            self._transport.delete(self.rendezvous_id)
        except RendezvousError:
            pass  # already gone, or unreachable: the server's TTL reaps it


class _Session:
    def __init__(self, mailbox: _Mailbox, qr: QrPayload, role: Role,
                 responder: ChannelResponder | None = None) -> None:
        self._mailbox = mailbox
        self.qr = qr
        self.role = role
        self._responder = responder
        self._channel: SecureChannel | None = None
        self._check_code_confirmed = False

    # --- what the UI needs ------------------------------------------------------

    @property
    def rendezvous_id(self) -> str:
        return self._mailbox.rendezvous_id

    @property
    def enters_check_code(self) -> bool:
        """True on the device that showed the QR code: it asks the user for the code."""
        return self.role is Role.GENERATOR

    @property
    def check_code(self) -> str:
        """The code to show, on the device that scanned the QR code only."""
        if self.role is not Role.SCANNER:
            raise ChannelError("this device showed the QR code: ask the user for the code, never show it")
        return self._established().check_code

    def confirm_check_code(self, typed: str | int) -> None:
        """Check the code the user typed; a mismatch ends the session (nothing gets registered)."""
        if self.role is not Role.GENERATOR:
            raise ChannelError("the check code is typed on the device that showed the QR code")
        channel = self._established()
        try:
            channel.verify_check_code(typed)
        except CheckCodeMismatch:
            self._fail(USER_CANCELLED)
            raise
        self._check_code_confirmed = True

    @property
    def closed(self) -> bool:
        """True once this device's end of the channel is closed: the session is over."""
        return self._channel is not None and self._channel.closed

    def cancel(self) -> None:
        """The user gave up: tell the other device if it is our turn, and drop the rendezvous."""
        if self._channel is not None and not self._channel.closed:
            self._fail(USER_CANCELLED)
        else:
            self._mailbox.delete()

    # --- handshake --------------------------------------------------------------

    def _established(self) -> SecureChannel:
        if self._channel is None:
            raise ChannelError("the secure channel is not established yet: call connect() first")
        return self._channel

    def _handshake(self) -> None:
        if self._channel is not None:
            raise ChannelError("the secure channel is already established")
        if self.role is Role.GENERATOR:
            data, initiate_aad = self._mailbox.read()
            try:
                channel, ok = self._responder.accept(data, initiate_aad, self._mailbox.aad())
            except ChannelTampered:
                self._mailbox.delete()
                raise
            self._mailbox.write(ok)
        else:
            state = self._mailbox.fetch()
            if state.data != "":
                raise ChannelConflict("this QR code has already been used by another device")
            self._mailbox.token = state.sequence_token
            initiator, initiate = ChannelInitiator.start(self.qr.public_key, self._mailbox.aad())
            self._mailbox.write(initiate)
            data, ok_aad = self._mailbox.read()
            try:
                channel = initiator.finish(data, ok_aad)
            except ChannelTampered:
                self._mailbox.delete()
                raise
        self._channel = channel

    # --- messages -----------------------------------------------------------------

    def _send(self, message: Message) -> None:
        channel = self._established()
        self._mailbox.write(channel.seal(encode_message(message), self._mailbox.aad()))

    def _receive(self, expected: type | tuple[type, ...], timeout: float | None = None) -> Message:
        channel = self._established()
        data, aad = self._mailbox.read(timeout)
        try:
            plaintext = channel.open(data, aad)
        except ChannelTampered:
            self._mailbox.delete()
            raise
        try:
            message = decode_message(plaintext)
        except ProtocolViolation:
            self._fail(UNEXPECTED_MESSAGE_RECEIVED)
            raise
        if isinstance(message, LoginFailure):
            channel.close()
            self._mailbox.delete()
            raise LinkingRefused(f"the other device ended the session: {message.reason}", message.reason)
        if isinstance(message, LoginDeclined):
            channel.close()
            self._mailbox.delete()
            raise LinkingRefused("the other device declined the request", "declined")
        if not isinstance(message, expected):
            self._fail(UNEXPECTED_MESSAGE_RECEIVED)
            wanted = " or ".join(f"'{kind.TYPE}'" for kind in (expected if isinstance(expected, tuple) else (expected,)))
            raise ProtocolViolation(f"expected {wanted}, received '{message.TYPE}'")
        return message

    def _fail(self, reason: str) -> None:
        """Best effort: tell the other device why we stop, then close our end."""
        try:
            self._send(LoginFailure(reason))
        except LinkingError:
            self._mailbox.delete()
        if self._channel is not None:
            self._channel.close()


class ExistingDeviceSession(_Session):
    """The signed-in device that has the user's keys and registers the new device."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._offer: DeviceOffer | None = None
        self._sign_in: LoginProtocol | None = None
        self._sign_in_accepted = False
        self._done = False

    def connect(self) -> None:
        """Establish the channel (waits for the new device when this device showed the QR code)."""
        self._handshake()
        if self.role is Role.SCANNER:
            self._send(LoginProtocols((DEVICE_AUTHORIZATION_GRANT,), self.qr.base_url))

    def receive_request(self) -> DeviceOffer | LoginProtocol:
        """Wait for the new device's first message: its key and name, or a sign-in request.

        A ``LoginProtocol`` means the new device is not signed in: confirm the check code,
        then ``accept_sign_in()`` and show what it returns, then ``receive_device_offer()``.
        """
        if self._offer is not None or self._sign_in is not None:
            raise ChannelError("the new device's request has already been received")
        message = self._receive((DeviceOffer, LoginProtocol))
        if isinstance(message, LoginProtocol):
            self._sign_in = message
        else:
            self._offer = message
        return message

    def accept_sign_in(self) -> LoginProtocol:
        """Tell the new device its sign-in will be approved; returns the authorization to show.

        Refused until the check code matched on this device (when it showed the QR code):
        the user must never approve a device authorization that may be a shoulder-surfer's.
        """
        if self._sign_in is None:
            raise ChannelError("the new device asked for no sign-in")
        if self._sign_in_accepted:
            raise ChannelError("the sign-in has already been accepted")
        if self.role is Role.GENERATOR and not self._check_code_confirmed:
            raise ChannelError("the check code must be confirmed before the sign-in is shown or accepted")
        self._send(LoginProtocolAccepted())
        self._sign_in_accepted = True
        return self._sign_in

    def receive_device_offer(self) -> DeviceOffer:
        """Wait for the new device's key and name (after its sign-in, if it asked for one)."""
        if self._offer is not None:
            raise ChannelError("the device offer has already been received")
        if self._sign_in is None:
            self._offer = self._receive(DeviceOffer)
            return self._offer
        if not self._sign_in_accepted:
            raise ChannelError("accept or decline the new device's sign-in first")
        offer = self._receive(DeviceOffer, self._mailbox.timing.sign_in_timeout)
        if offer.device_id != self._sign_in.device_id:
            self._fail(UNEXPECTED_MESSAGE_RECEIVED)
            raise ProtocolViolation("the device offer names another device than the sign-in request")
        self._offer = offer
        return offer

    def register(self, register_device: Callable[[DeviceOffer], None]) -> None:
        """Call ``register_device`` (``PUT /api/devices/{id}``), then tell the new device.

        Refused until the check code matched on this device (when it showed the QR
        code). An exception from ``register_device`` is reported to the new device as
        ``m.login.failure`` (its ``reason`` attribute if it is a known reason) and re-raised.
        """
        if self._offer is None:
            raise ChannelError("no device offer received yet")
        if self._done:
            raise ChannelError("the device has already been registered")
        if self.role is Role.GENERATOR and not self._check_code_confirmed:
            raise ChannelError("the check code must be confirmed before the device is registered")
        self._done = True
        try:
            register_device(self._offer)
        except Exception as err:
            reason = getattr(err, "reason", None)
            known = isinstance(reason, str) and reason in FAILURE_REASONS
            self._fail(reason if known else REGISTRATION_FAILED)
            raise
        self._send(LoginSuccess())

    def decline(self) -> None:
        """The user refused to add the offered device."""
        self._done = True
        self._send(LoginDeclined())
        self._established().close()


class NewDeviceSession(_Session):
    """The device that wants the user's keys: it offers its device key."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._offer_sent = False
        self._sign_in: LoginProtocol | None = None

    def connect(self) -> None:
        """Establish the channel; when this device showed the QR code, also await ``m.login.protocols``."""
        self._handshake()
        if self.role is Role.GENERATOR:
            protocols = self._receive(LoginProtocols)
            if protocols.base_url != self.qr.base_url:
                self._fail(UNEXPECTED_MESSAGE_RECEIVED)
                raise ProtocolViolation("the existing device names a different server than our QR code")

    def request_sign_in(self, request: LoginProtocol) -> None:
        """Ask the existing device's user to approve our device authorization; waits for
        ``m.login.protocol_accepted`` (the user has to type the check code there first)."""
        if self._sign_in is not None or self._offer_sent:
            raise ChannelError("the sign-in request or device offer has already been sent")
        if self.role is Role.GENERATOR and not self._check_code_confirmed:
            raise ChannelError("the check code must be confirmed before the sign-in is requested")
        self._send(request)
        self._sign_in = request
        self._receive(LoginProtocolAccepted)

    def sign_in_failed(self, reason: str) -> None:
        """The IdP did not sign us in (expired, declined): tell the existing device and end."""
        if self._sign_in is None:
            raise ChannelError("no sign-in was requested")
        if reason not in FAILURE_REASONS:
            raise ValueError(f"unknown failure reason {reason!r}")
        self._fail(reason)

    def send_device_offer(self, offer: DeviceOffer) -> None:
        if self._offer_sent:
            raise ChannelError("the device offer has already been sent")
        if self.role is Role.GENERATOR and not self._check_code_confirmed:
            raise ChannelError("the check code must be confirmed before the device key is offered")
        if self._sign_in is not None and offer.device_id != self._sign_in.device_id:
            raise ChannelError("the device offer must name the device that requested the sign-in")
        self._send(offer)
        self._offer_sent = True

    def wait_for_outcome(self) -> None:
        """Wait until the existing device registered us; ``LinkingRefused`` if it did not."""
        if not self._offer_sent:
            raise ChannelError("send the device offer first")
        self._receive(LoginSuccess)
        self._established().close()
        self._mailbox.delete()


def _coerce_qr(qr: QrPayload | str | bytes) -> QrPayload:
    if isinstance(qr, QrPayload):
        return qr
    if isinstance(qr, str):
        return QrPayload.from_text(qr)
    if isinstance(qr, (bytes, bytearray)):
        return QrPayload.from_bytes(bytes(qr))
    raise QrPayloadError("a QR payload must be a QrPayload, its text form or its bytes")


def _start(transport: RendezvousTransport, base_url: str, intent: QrIntent,
           timing: Timing | None) -> tuple[_Mailbox, QrPayload, ChannelResponder]:
    responder = ChannelResponder()
    created = transport.create("")
    try:
        qr = QrPayload(intent, responder.public_key, created.id, base_url)
    except QrPayloadError:
        transport.delete(created.id)
        raise
    mailbox = _Mailbox(transport, created.id, base_url, created.sequence_token, timing or Timing())
    return mailbox, qr, responder


def _scan(transport: RendezvousTransport, qr: QrPayload | str | bytes, intent: QrIntent,
          timing: Timing | None) -> tuple[_Mailbox, QrPayload]:
    payload = _coerce_qr(qr)
    if payload.intent is not intent:
        shown_by = "a new device" if payload.intent is QrIntent.NEW_DEVICE else "an existing device"
        raise QrPayloadError(f"this QR code was shown by {shown_by}; it cannot be used for this step")
    mailbox = _Mailbox(transport, payload.rendezvous_id, payload.base_url, "", timing or Timing())
    return mailbox, payload


class LinkingSession:
    """Entry points for the CLI: one per device and per side of the QR code."""

    @staticmethod
    def start_existing_device(transport: RendezvousTransport, base_url: str, *,
                              timing: Timing | None = None) -> ExistingDeviceSession:
        """Existing device shows the QR code (intent 1); show ``session.qr`` then ``connect()``."""
        mailbox, qr, responder = _start(transport, base_url, QrIntent.EXISTING_DEVICE, timing)
        return ExistingDeviceSession(mailbox, qr, Role.GENERATOR, responder)

    @staticmethod
    def join(transport: RendezvousTransport, qr: QrPayload | str | bytes, *,
             timing: Timing | None = None) -> NewDeviceSession:
        """New device scanned the existing device's QR code (intent 1)."""
        mailbox, payload = _scan(transport, qr, QrIntent.EXISTING_DEVICE, timing)
        return NewDeviceSession(mailbox, payload, Role.SCANNER)

    @staticmethod
    def start_new_device(transport: RendezvousTransport, base_url: str, *,
                         timing: Timing | None = None) -> NewDeviceSession:
        """New device shows the QR code (intent 0); show ``session.qr`` then ``connect()``."""
        mailbox, qr, responder = _start(transport, base_url, QrIntent.NEW_DEVICE, timing)
        return NewDeviceSession(mailbox, qr, Role.GENERATOR, responder)

    @staticmethod
    def scan_new_device(transport: RendezvousTransport, qr: QrPayload | str | bytes, *,
                        timing: Timing | None = None) -> ExistingDeviceSession:
        """Existing device scanned the new device's QR code (intent 0)."""
        mailbox, payload = _scan(transport, qr, QrIntent.NEW_DEVICE, timing)
        return ExistingDeviceSession(mailbox, payload, Role.SCANNER)
