"""``katta device link`` and ``katta device join``: hand the user keys to a new device by QR code.

The device with the keys runs ``link``: it creates the rendezvous session (it is signed in),
shows the QR code, asks for the check code shown on the new device and registers the new
device's key. The new device runs ``join PAYLOAD``, signed in already or — MSC4108's sign-in
through the other device — not yet: it then starts an RFC 8628 device authorization and the
user approves it from the existing device. Given the code a new device shows (a browser's),
``link CODE`` scans it instead: this device shows the check code, the user types it there.
See docs/device-linking.md.
"""
from __future__ import annotations

import argparse
import sys

import click
from typing import Callable
from urllib.parse import urlsplit

from ..auth import DeviceCodeExpired, LoginDeclined, LoginError, store_login
from ..config import normalize_server
from ..crypto import DeviceKeys, KattaCryptoError
from ..flows import (FlowError, adopt_linked_device, default_device_name, register_linked_device,
                     unlock_with_device_key)
from ..http import DeviceNotFound, KattaApiError
from ..linking import (ChannelConflict, ChannelExpired, ChannelTampered, ChannelTimeout, CheckCodeMismatch,
                       DeviceOffer, ExistingDeviceSession, HttpRendezvous, LinkingError, LinkingRefused, LinkingSession, LoginProtocol,
                       ProtocolViolation, QrIntent, QrPayload, QrPayloadError, Timing)
from ..linking.messages import AUTHORIZATION_EXPIRED, DEVICE_AUTHORIZATION_GRANT, USER_CANCELLED
from .context import Context
from .errors import CliError
from .parsing import Command, handled_by

#: How long each side waits and how often it looks; tests shorten the polling here.
TIMING = Timing()
NOTHING_REGISTERED = "nothing was registered"


# -- the existing device -----------------------------------------------------------------------

def run_link(ctx: Context, args: argparse.Namespace) -> int:
    user = ctx.require_user()
    try:
        connection = unlock_with_device_key(ctx.api, ctx.keychain, ctx.server, user)
    except FlowError as exc:
        raise CliError(str(exc)) from None
    if args.code is not None:
        # The new device showed the code (a browser does): this device scans it and shows the check code.
        qr = _scanned_payload(ctx, args.code, QrIntent.NEW_DEVICE)
        session = LinkingSession.scan_new_device(HttpRendezvous(ctx.server), qr, timing=TIMING)
        steps = _scanned_steps
    else:
        transport = HttpRendezvous(ctx.server, ctx.session.access_token())
        try:
            session = LinkingSession.start_existing_device(transport, ctx.server, timing=TIMING)
        except LinkingError as exc:
            raise CliError(f"cannot open a linking session at {ctx.server}: {exc}") from None
        _show_qr(ctx, session.qr, no_qr=args.no_qr)
        steps = _shown_steps
    registered: list[DeviceOffer] = []

    def register_offer(o: DeviceOffer) -> None:
        register_linked_device(ctx.api, connection.user_keys, o.device_id, o.device_public_key, o.device_name,
                               o.device_type)
        registered.append(o)

    try:
        offer, signed_in_here = steps(ctx, args, session, register_offer)
    except LinkingError as exc:
        if registered:  # only telling the new device failed: it checks with the server itself
            raise CliError(f"the new device was registered, but telling it so failed ({exc}); "
                           "run `katta device list` to check, `katta device remove` to undo") from None
        raise _link_failure(exc, "the new device", NOTHING_REGISTERED, "was its sign-in declined?") from None
    except (FlowError, KattaApiError) as exc:
        raise CliError(f"the new device was not registered: {exc}") from None
    except BaseException:
        if not session.closed:
            session.cancel()  # a missing check code, Ctrl-C: tell the new device, drop the session
        raise
    if ctx.json_output:
        ctx.emit_json({"deviceId": offer.device_id, "deviceName": offer.device_name,
                       "signedInThroughThisDevice": signed_in_here})
    else:
        ctx.out.print(f"Linked \"{offer.device_name}\" ({offer.device_id[:12]}…): it can now unlock your vaults.",
                      markup=False)
    return 0


def _shown_steps(ctx: Context, args: argparse.Namespace, session: ExistingDeviceSession,
                 register_offer: Callable[[DeviceOffer], None]) -> tuple[DeviceOffer, bool]:
    """This device showed the code: the user types here the check code the new device shows."""
    session.connect()
    request = session.receive_request()
    if isinstance(request, DeviceOffer):
        ctx.note(f"The new device \"{request.device_name}\" asks for your keys.")
    else:
        ctx.note("A new device that is not signed in asks for your keys.")
    session.confirm_check_code(_read_check_code(args))
    signed_in_here = False
    if isinstance(request, LoginProtocol):
        try:
            _check_sign_in_page(ctx, request)
        except ProtocolViolation:
            session.decline()
            raise
        grant = session.accept_sign_in()
        ctx.note("To sign the new device in as you, open\n"
                 f"    {grant.verification_uri_complete or grant.verification_uri}\n"
                 + (f"and approve the code {grant.user_code} " if grant.user_code else "and approve it ")
                 + "(this device never sees the new device's login).")
        signed_in_here = True
        request = session.receive_device_offer()
    session.register(register_offer)
    return request, signed_in_here


def _scanned_steps(ctx: Context, args: argparse.Namespace, session: ExistingDeviceSession,
                   register_offer: Callable[[DeviceOffer], None]) -> tuple[DeviceOffer, bool]:
    """This device scanned the new device's code: it shows the check code, the user types it there,
    and only then does the new device offer its key."""
    ctx.note("Connecting to the new device…")
    session.connect()
    ctx.note(f"Check code: {session.check_code}  — type it on the new device.")
    request = session.receive_request()
    if isinstance(request, LoginProtocol):
        # A device that shows a code opened the rendezvous signed in: a sign-in request is not its to make.
        session.decline()
        raise ProtocolViolation("the new device asked to be signed in, which a device showing a code never needs")
    ctx.note(f"The new device \"{request.device_name}\" asks for your keys.")
    session.register(register_offer)
    return request, False


def _show_qr(ctx: Context, qr: QrPayload, *, no_qr: bool) -> None:
    # Prompts go to stderr (docs/client-cli.md): stdout keeps only the result.
    if not no_qr:
        qr.render_terminal(sys.stderr)
    ctx.note("Scan this code with the new device, or run there:\n"
             f"    katta --server {ctx.server} device join {qr.to_text()}\n"
             "Waiting for the new device…")


def _read_check_code(args: argparse.Namespace) -> str:
    if args.check_code is not None:
        return str(args.check_code).strip()
    prompt = "Check code shown on the new device: "
    if sys.stdin.isatty():
        return input(prompt).strip()
    sys.stderr.write(prompt)
    sys.stderr.flush()
    line = sys.stdin.readline()
    if not line.strip():
        sys.stderr.write("\n")  # the error goes on its own line, not after the prompt
        raise CliError(f"no check code given (stdin is closed or empty); {NOTHING_REGISTERED}")
    return line.strip()


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme.lower(), (parts.hostname or "").lower(), parts.port


def _check_sign_in_page(ctx: Context, request: LoginProtocol) -> None:
    """The user is about to approve a sign-in: the page must be our identity provider's, not a
    look-alike chosen by whoever sent the request."""
    issuer = ctx.oauth_client().endpoints.issuer
    pages = [request.verification_uri] + ([request.verification_uri_complete]
                                          if request.verification_uri_complete else [])
    if not issuer or any(_origin(page) != _origin(issuer) for page in pages):
        raise ProtocolViolation(f"the new device's sign-in page ({request.verification_uri}) is not at "
                                f"your identity provider ({issuer or 'unknown'})")


# -- the new device ----------------------------------------------------------------------------

def run_join(ctx: Context, args: argparse.Namespace) -> int:
    qr = _scanned_payload(ctx, args.payload)
    user = ctx.current_user()
    device = _device_to_link(ctx, user)
    name = args.device_name or default_device_name()
    try:
        offer = DeviceOffer(device.device_id, device.encoded_public_key, name)
    except ProtocolViolation as exc:
        raise CliError(f"unusable device name: {exc}") from None

    session = LinkingSession.join(HttpRendezvous(ctx.server), qr, timing=TIMING)
    signed_in_here = offered = False
    try:
        ctx.note("Connecting to the other device…")
        session.connect()
        ctx.note(f"Check code: {session.check_code}  — type it on the other device.")
        if user is None:
            user = _sign_in_through_other_device(ctx, session, device)
            signed_in_here = True
        session.send_device_offer(offer)
        offered = True
        ctx.note("Waiting for the other device to register this one…")
        session.wait_for_outcome()
    except LinkingError as exc:
        lost = offered and user is not None and not isinstance(exc, LinkingRefused)
        if not (lost and _registered_meanwhile(ctx, user, device)):
            raise _link_failure(exc, "the other device", "this device was not linked",
                                "was the check code typed correctly?") from None
    except BaseException:
        if not session.closed:  # a refused sign-in told the other device already
            session.cancel()  # Ctrl-C, an unreachable IdP: tell it and drop the session
        raise
    try:
        connection = adopt_linked_device(ctx.api, ctx.keychain, ctx.server, user, device)
    except FlowError as exc:
        raise CliError(str(exc)) from None
    if ctx.json_output:
        ctx.emit_json({"user": user, "deviceId": connection.device_id, "signedIn": signed_in_here})
    else:
        ctx.out.print(f"This device ({connection.device_id[:12]}…) is linked to {user}; your keys are unlocked.",
                      markup=False)
    return 0


def _registered_meanwhile(ctx: Context, user: str, device: DeviceKeys) -> bool:
    """After the other device's answer was lost: the server, not the channel, says whether it
    registered this device (adopting it then checks that the user keys open with it)."""
    try:
        ctx.api.get_device(device.device_id)
    except KattaApiError:
        return False
    return True


def _scanned_payload(ctx: Context, text: str, intent: QrIntent = QrIntent.EXISTING_DEVICE) -> QrPayload:
    if text == "-":
        text = sys.stdin.readline()
    try:
        qr = QrPayload.from_text(text)
    except QrPayloadError as exc:
        raise CliError(f"this is not a katta device-link code: {exc}") from None
    if qr.intent is not intent and intent is QrIntent.EXISTING_DEVICE:
        raise CliError("this code was shown by a new device; run `katta device link` on the device that has "
                       "your keys and give its code here")
    if qr.intent is not intent:
        raise CliError("this code was shown by a device that has your keys; run `katta device join` with it on "
                       "the new device instead")
    if normalize_server(qr.base_url) != ctx.server:
        raise CliError(f"this code is for the server {qr.base_url}, but katta is set to {ctx.server}; "
                       f"nothing was sent. If you trust that server, run again with --server {qr.base_url}")
    return qr


def _device_to_link(ctx: Context, user: str | None) -> DeviceKeys:
    """A device key the server does not know yet: the stored one if unregistered, else a new one
    (kept in the key chain only once the link succeeded)."""
    if user is None:
        return DeviceKeys.create()
    stored = ctx.keychain.device_key(ctx.server, user)
    if stored is None:
        return DeviceKeys.create()
    try:
        device = DeviceKeys.from_pkcs8(stored)
    except KattaCryptoError:
        return DeviceKeys.create()
    try:
        ctx.api.get_device(device.device_id)
    except DeviceNotFound:
        return device
    raise CliError(f"this device is already registered for {user}; nothing to link (see `katta init`)")


def _sign_in_through_other_device(ctx: Context, session, device: DeviceKeys) -> str:  # type: ignore[no-untyped-def]
    """MSC4108: our device authorization, approved by the user from the other device."""
    oauth = ctx.oauth_client()
    authorization = oauth.start_device_authorization()
    ctx.note("This device is not signed in: the other device will let you approve its sign-in "
             f"(code {authorization.user_code}).")
    session.request_sign_in(LoginProtocol(DEVICE_AUTHORIZATION_GRANT, device.device_id,
                                          authorization.verification_uri,
                                          authorization.verification_uri_complete, authorization.user_code))
    ctx.note("Waiting for the sign-in to be approved…")
    try:
        tokens = oauth.poll_device(authorization)
    except DeviceCodeExpired:
        session.sign_in_failed(AUTHORIZATION_EXPIRED)
        raise CliError(f"the sign-in was not approved in time; {NOTHING_REGISTERED}") from None
    except LoginDeclined:
        session.sign_in_failed(USER_CANCELLED)
        raise CliError(f"the sign-in was declined; {NOTHING_REGISTERED}") from None
    except LoginError:
        session.sign_in_failed(USER_CANCELLED)
        raise
    user = store_login(ctx.keychain, ctx.accounts, ctx.server, tokens)
    ctx.note(f"Signed in as {user}.")
    return user


# -- failures ----------------------------------------------------------------------------------

def _link_failure(exc: LinkingError, other: str, outcome: str, cancelled_hint: str) -> CliError:
    if isinstance(exc, CheckCodeMismatch):
        why = "the check code does not match the one on the new device"
    elif isinstance(exc, LinkingRefused):
        why = {
            "declined": f"{other} declined",
            USER_CANCELLED: f"{other} cancelled ({cancelled_hint})",
            AUTHORIZATION_EXPIRED: "the new device's sign-in was not approved in time",
        }.get(exc.reason, f"{other} ended the linking ({exc.reason})")
    elif isinstance(exc, ChannelConflict):
        why = ("this code was used by another device first — if that was not yours, someone else scanned "
               "it; start again")
    elif isinstance(exc, ChannelTampered):
        why = "a message was modified or replayed in transit; the link was stopped"
    elif isinstance(exc, ChannelTimeout):
        why = f"{other} did not answer in time"
    elif isinstance(exc, ChannelExpired):
        why = "the linking session expired or was cancelled"
    elif isinstance(exc, ProtocolViolation):
        why = f"{other} broke the protocol: {exc}"
    else:
        why = str(exc)
    return CliError(f"device linking failed: {why}; {outcome}")


# -- the commands ---------------------------------------------------------------------------------

link = Command("link", callback=handled_by(run_link), params=[
    click.Argument(["code"], metavar="CODE", required=False,
                   help="the text form of the QR code a new device shows (a browser's 'Show a code to scan'; "
                        "'-' reads it from stdin): scan it instead of showing one, and show the check code "
                        "to type there"),
    click.Option(["--check-code"], metavar="NN",
                 help="the two-digit code shown on the new device (scripts; default: asked on the "
                      "terminal, or read as one line from stdin)"),
    click.Option(["--no-qr"], is_flag=True, help="print only the text form of the QR code"),
], short_help="add a new device: show a QR code for it to scan",
    help="Run on a device that has your keys. Shows a QR code (and its text form) for the new "
         "device, asks for the check code the new device shows, and registers the new device "
         "with your keys encrypted to its device key. If the new device is not signed in, it "
         "asks you to approve its sign-in first. Given the CODE a new device shows (a browser), "
         "it scans that instead and shows the check code to type on the new device.",
    examples=("katta device link", "katta device link --no-qr --check-code 42", "katta device link - < code.txt"))

join = Command("join", callback=handled_by(run_join), params=[
    click.Argument(["payload"], metavar="PAYLOAD", help="the QR code's text form, or '-' for stdin"),
    click.Option(["--device-name"], help="name of this device (default: the host name)"),
], short_help="set up this device from one that has your keys",
    help="Run on the new device with the text form of the QR code that `katta device link` "
         "shows ('-' reads it from stdin). Shows a check code to type on the other device. "
         "If this device is not signed in, the other device lets you approve its sign-in.",
    examples=("katta --server https://katta.example.org device join \"$CODE\"",
              "katta device join - --device-name desktop < code.txt"))

COMMANDS = (link, join)
