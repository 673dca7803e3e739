"""Device linking end to end on the live stack: the rendezvous API over HTTP, the HPKE channel,
``PUT /api/devices/{id}`` by the existing device, and the new device opening its copy of the user
keys — with the new device signed in already or signed in through the existing one (RFC 8628,
approved, declined, expired) — and the refusals: wrong check code, tampered and replayed
messages, expired sessions, a shoulder-surfer who scans first."""
from __future__ import annotations

import base64
import queue

import pytest

from katta_client.auth import DeviceCodeExpired, LoginDeclined, OAuthClient, discover_endpoints
from katta_client.crypto import DeviceKeys
from katta_client.flows import FlowError, adopt_linked_device, register_linked_device
from katta_client.http import KattaApi
from katta_client.keychain import FileStore, Keychain
from katta_client.linking import (
    ChannelConflict,
    ChannelError,
    ChannelExpired,
    ChannelTampered,
    ChannelTimeout,
    CheckCodeMismatch,
    DeviceOffer,
    HttpRendezvous,
    LinkingRefused,
    LinkingSession,
    LoginProtocol,
    Timing,
)
from katta_client.linking.messages import AUTHORIZATION_EXPIRED, DEVICE_AUTHORIZATION_GRANT, USER_CANCELLED
from tests.support.device_link import (
    FAST,
    Interfering,
    MintedTokens,
    StaticToken,
    creator_transport,
    existing_device,
    run_pair,
)
from tests.support.live_stack import live_stack  # noqa: F401 - fixture

pytestmark = pytest.mark.slow  # a live stack, a subprocess or a long run: not in the fast lane


@pytest.fixture
def existing(live_stack, tmp_path):
    return existing_device(live_stack, tmp_path)


@pytest.fixture
def quick_device_grant(live_stack, monkeypatch):
    """The shared IdP answers device polls every second (the client's floor) instead of 5 s."""
    monkeypatch.setattr(live_stack.idp, "device_poll_interval", 1)
    return live_stack.idp


def offer_for(device: DeviceKeys, name: str = "new laptop") -> DeviceOffer:
    return DeviceOffer(device.device_id, device.encoded_public_key, name)


def wrong(code: str) -> str:
    return f"{(int(code) - 9) % 90 + 10:02d}"


def registrar(existing):
    def register(offer: DeviceOffer) -> None:
        register_linked_device(existing.api, existing.connection.user_keys, offer.device_id,
                               offer.device_public_key, offer.device_name, offer.device_type)
    return register


def oauth_client(live_stack) -> OAuthClient:
    return OAuthClient(discover_endpoints(KattaApi(live_stack.api_url).config()))


# -- success ------------------------------------------------------------------------------------

def test_signed_in_new_device_is_registered_and_opens_the_user_keys(live_stack, existing, tmp_path):
    e_session = LinkingSession.start_existing_device(creator_transport(live_stack, existing.user),
                                                     live_stack.api_url, timing=FAST)
    assert e_session.qr.base_url == live_stack.api_url
    new_device = DeviceKeys.create()
    shown = queue.Queue()

    def existing_side():
        e_session.connect()
        offer = e_session.receive_request()
        assert offer == offer_for(new_device)
        e_session.confirm_check_code(shown.get(timeout=10))
        e_session.register(registrar(existing))

    def new_side():
        session = LinkingSession.join(HttpRendezvous(live_stack.api_url), e_session.qr.to_text(), timing=FAST)
        session.connect()
        shown.put(session.check_code)
        session.send_device_offer(offer_for(new_device))
        session.wait_for_outcome()

    assert run_pair(existing_side, new_side) == (None, None)
    assert new_device.device_id in existing.device_ids()

    # the new device finds itself and opens its copy of the user keys: it could unlock a vault
    keychain = Keychain(FileStore(tmp_path / "new"))
    new_api = KattaApi(live_stack.api_url, MintedTokens(live_stack.idp, existing.user))
    connection = adopt_linked_device(new_api, keychain, live_stack.api_url, existing.user, new_device)
    assert connection.user_keys.encoded_ecdh_public_key == existing.connection.user_keys.encoded_ecdh_public_key
    assert connection.user_keys.encoded_ecdsa_public_key == existing.connection.user_keys.encoded_ecdsa_public_key
    assert keychain.device_key(live_stack.api_url, existing.user) == new_device.to_pkcs8()
    registered = new_api.get_device(new_device.device_id)
    assert registered["name"] == "new laptop" and registered["publicKey"] == new_device.encoded_public_key


def sign_in_pair(live_stack, existing, *, on_grant, code=None):
    """E shows the QR; N is not signed in and asks E's user to approve its device authorization.

    ``on_grant(user_code)`` plays the user at the IdP's page. Returns (errors, what N got)."""
    e_session = LinkingSession.start_existing_device(creator_transport(live_stack, existing.user),
                                                     live_stack.api_url, timing=FAST)
    new_device = DeviceKeys.create()
    shown = queue.Queue()
    result = {"received": []}
    oauth = oauth_client(live_stack)

    def existing_side():
        e_session.connect()
        request = e_session.receive_request()
        result["received"].append(type(request))
        typed = shown.get(timeout=10)
        e_session.confirm_check_code(code(typed) if code else typed)
        grant = e_session.accept_sign_in()
        assert grant.verification_uri == live_stack.idp.verification_uri
        on_grant(grant.user_code)
        offer = e_session.receive_device_offer()
        result["received"].append(type(offer))
        e_session.register(registrar(existing))

    def new_side():
        session = LinkingSession.join(HttpRendezvous(live_stack.api_url), e_session.qr, timing=FAST)
        session.connect()
        shown.put(session.check_code)
        authorization = oauth.start_device_authorization()
        result["user_code"] = authorization.user_code
        session.request_sign_in(LoginProtocol(DEVICE_AUTHORIZATION_GRANT, new_device.device_id,
                                              authorization.verification_uri,
                                              authorization.verification_uri_complete, authorization.user_code))
        try:
            tokens = oauth.poll_device(authorization)
        except DeviceCodeExpired:
            session.sign_in_failed(AUTHORIZATION_EXPIRED)
            raise
        except LoginDeclined:
            session.sign_in_failed(USER_CANCELLED)
            raise
        result["tokens"] = tokens
        session.send_device_offer(offer_for(new_device))
        session.wait_for_outcome()

    errors = run_pair(existing_side, new_side)
    return errors, result, new_device


def test_new_device_signs_in_through_the_existing_one_and_is_registered(live_stack, existing, quick_device_grant,
                                                                         tmp_path):
    errors, result, new_device = sign_in_pair(
        live_stack, existing, on_grant=lambda user_code: live_stack.idp.approve_device(user_code, existing.user))
    assert errors == (None, None)
    # the existing device saw the sign-in request and the device key, never the new device's tokens
    assert result["received"] == [LoginProtocol, DeviceOffer]
    tokens = result["tokens"]
    assert live_stack.idp.verify(tokens.access_token)["preferred_username"] == existing.user
    assert new_device.device_id in existing.device_ids()
    new_api = KattaApi(live_stack.api_url, StaticToken(tokens.access_token))
    keychain = Keychain(FileStore(tmp_path / "new"))
    connection = adopt_linked_device(new_api, keychain, live_stack.api_url, existing.user, new_device)
    assert connection.user_keys.encoded_ecdh_public_key == existing.connection.user_keys.encoded_ecdh_public_key


def test_sign_in_declined_at_the_idp_registers_nothing(live_stack, existing, quick_device_grant):
    before = existing.device_ids()
    errors, result, _ = sign_in_pair(live_stack, existing, on_grant=live_stack.idp.decline_device)
    assert isinstance(errors[0], LinkingRefused) and errors[0].reason == USER_CANCELLED
    assert isinstance(errors[1], LoginDeclined)
    assert "tokens" not in result and existing.device_ids() == before


def test_sign_in_not_approved_in_time_registers_nothing(live_stack, existing, quick_device_grant, monkeypatch):
    monkeypatch.setattr(live_stack.idp, "device_code_lifetime", 1)
    before = existing.device_ids()
    errors, result, _ = sign_in_pair(live_stack, existing, on_grant=lambda user_code: None)
    assert isinstance(errors[0], LinkingRefused) and errors[0].reason == AUTHORIZATION_EXPIRED
    assert isinstance(errors[1], DeviceCodeExpired)
    assert "tokens" not in result and existing.device_ids() == before


# -- refusals -----------------------------------------------------------------------------------

def test_wrong_check_code_registers_no_device(live_stack, existing):
    before = existing.device_ids()
    e_session = LinkingSession.start_existing_device(creator_transport(live_stack, existing.user),
                                                     live_stack.api_url, timing=FAST)
    shown = queue.Queue()
    registered = []

    def existing_side():
        e_session.connect()
        e_session.receive_request()
        with pytest.raises(CheckCodeMismatch):
            e_session.confirm_check_code(wrong(shown.get(timeout=10)))
        with pytest.raises(ChannelError):
            e_session.register(registered.append)

    def new_side():
        session = LinkingSession.join(HttpRendezvous(live_stack.api_url), e_session.qr, timing=FAST)
        session.connect()
        shown.put(session.check_code)
        session.send_device_offer(offer_for(DeviceKeys.create()))
        session.wait_for_outcome()

    errors = run_pair(existing_side, new_side)
    assert errors[0] is None
    assert isinstance(errors[1], LinkingRefused) and errors[1].reason == USER_CANCELLED
    assert registered == [] and existing.device_ids() == before


def test_wrong_check_code_never_reveals_the_sign_in_to_approve(live_stack, existing, quick_device_grant):
    approvals = []
    errors, result, _ = sign_in_pair(live_stack, existing, on_grant=approvals.append, code=wrong)
    assert isinstance(errors[0], CheckCodeMismatch)
    assert isinstance(errors[1], LinkingRefused) and errors[1].reason == USER_CANCELLED
    assert approvals == []
    # the device authorization was never approved: it is still pending at the IdP
    assert live_stack.idp.device_grant_info(result["user_code"])["user_code"] == result["user_code"]


def test_sign_in_accepted_only_after_the_check_code(live_stack, existing):
    e_session = LinkingSession.start_existing_device(creator_transport(live_stack, existing.user),
                                                     live_stack.api_url, timing=FAST)
    device = DeviceKeys.create()

    def existing_side():
        e_session.connect()
        assert isinstance(e_session.receive_request(), LoginProtocol)
        with pytest.raises(ChannelError, match="check code must be confirmed"):
            e_session.accept_sign_in()
        e_session.decline()

    def new_side():
        session = LinkingSession.join(HttpRendezvous(live_stack.api_url), e_session.qr, timing=FAST)
        session.connect()
        session.request_sign_in(LoginProtocol(DEVICE_AUTHORIZATION_GRANT, device.device_id,
                                              live_stack.idp.verification_uri))

    errors = run_pair(existing_side, new_side)
    assert errors[0] is None
    assert isinstance(errors[1], LinkingRefused) and errors[1].reason == "declined"


def _flip(data: str) -> str:
    raw = bytearray(base64.b64decode(data + "=" * (-len(data) % 4)))
    raw[-1] ^= 0x01
    return base64.b64encode(bytes(raw)).decode().rstrip("=")


@pytest.mark.parametrize("change", ["tampered", "replayed"])
def test_tampered_or_replayed_device_offer_registers_nothing(live_stack, existing, change):
    before = existing.device_ids()
    e_session = LinkingSession.start_existing_device(creator_transport(live_stack, existing.user),
                                                     live_stack.api_url, timing=FAST)
    # N's writes: 0 INITIATE, 1 device_offer. Change the offer in flight (a rendezvous-side attacker).
    transport = Interfering(HttpRendezvous(live_stack.api_url))
    transport.on_put = lambda i, data: data if i != 1 else (_flip(data) if change == "tampered" else transport.writes[0])
    registered = []

    def existing_side():
        e_session.connect()
        e_session.receive_request()

    def new_side():
        session = LinkingSession.join(transport, e_session.qr, timing=FAST)
        session.connect()
        session.send_device_offer(offer_for(DeviceKeys.create()))
        session.wait_for_outcome()

    errors = run_pair(existing_side, new_side)
    assert isinstance(errors[0], ChannelTampered)
    assert isinstance(errors[1], ChannelExpired)  # E deleted the session after the forgery
    assert registered == [] and existing.device_ids() == before


def test_expired_or_cancelled_session_stops_both_devices(live_stack, existing):
    transport = creator_transport(live_stack, existing.user)
    e_session = LinkingSession.start_existing_device(transport, live_stack.api_url, timing=FAST)
    transport.delete(e_session.rendezvous_id)  # the server answers 404 as for an expired session
    session = LinkingSession.join(HttpRendezvous(live_stack.api_url), e_session.qr, timing=FAST)
    with pytest.raises(ChannelExpired):
        session.connect()
    with pytest.raises(ChannelExpired):
        e_session.connect()


def test_waiting_for_a_new_device_is_bounded(live_stack, existing):
    e_session = LinkingSession.start_existing_device(creator_transport(live_stack, existing.user),
                                                     live_stack.api_url,
                                                     timing=Timing(wait_timeout=0.3, poll_interval=0.05))
    with pytest.raises(ChannelTimeout):
        e_session.connect()


def test_creating_a_session_needs_a_signed_in_device(live_stack):
    with pytest.raises(Exception) as refused:
        LinkingSession.start_existing_device(HttpRendezvous(live_stack.api_url), live_stack.api_url, timing=FAST)
    assert getattr(refused.value, "status", None) == 401


@pytest.mark.parametrize("sign_in", [False, True], ids=["offer", "sign-in"])
def test_shoulder_surfer_who_scans_first_fails_at_the_check_code(live_stack, existing, sign_in):
    """The surfer's INITIATE wins the race for the QR code; the user's own device is refused and
    shows no code; whatever the user types is not the surfer's code (but by a 1-in-90 guess)."""
    before = existing.device_ids()
    e_session = LinkingSession.start_existing_device(creator_transport(live_stack, existing.user),
                                                     live_stack.api_url, timing=FAST)
    surfer_code = queue.Queue()
    surfer_device = DeviceKeys.create()
    accepted = []

    def existing_side():
        e_session.connect()
        e_session.receive_request()
        victim = LinkingSession.join(HttpRendezvous(live_stack.api_url), e_session.qr, timing=FAST)
        with pytest.raises(ChannelConflict):
            victim.connect()
        with pytest.raises(CheckCodeMismatch):
            e_session.confirm_check_code(wrong(surfer_code.get(timeout=10)))
        with pytest.raises(ChannelError):
            accepted.append(e_session.accept_sign_in() if sign_in else e_session.register(accepted.append))

    def surfer_side():
        surfer = LinkingSession.join(HttpRendezvous(live_stack.api_url), e_session.qr, timing=FAST)
        surfer.connect()
        surfer_code.put(surfer.check_code)
        if sign_in:
            surfer.request_sign_in(LoginProtocol(DEVICE_AUTHORIZATION_GRANT, surfer_device.device_id,
                                                 live_stack.idp.verification_uri))
        else:
            surfer.send_device_offer(offer_for(surfer_device, "Evil"))
            surfer.wait_for_outcome()

    errors = run_pair(existing_side, surfer_side)
    assert errors[0] is None
    assert isinstance(errors[1], LinkingRefused) and errors[1].reason == USER_CANCELLED
    assert accepted == [] and existing.device_ids() == before


def test_registration_refuses_an_id_that_is_not_the_keys(live_stack, existing):
    device, other = DeviceKeys.create(), DeviceKeys.create()
    with pytest.raises(FlowError, match="does not belong"):
        register_linked_device(existing.api, existing.connection.user_keys, other.device_id,
                               device.encoded_public_key, "x")
    with pytest.raises(FlowError, match="registered already"):
        register_linked_device(existing.api, existing.connection.user_keys, existing.connection.device_id,
                               existing.connection.device.encoded_public_key, "again")


def test_the_new_device_keeps_no_key_when_the_server_does_not_know_it(live_stack, existing, tmp_path):
    keychain = Keychain(FileStore(tmp_path / "new"))
    device = DeviceKeys.create()
    with pytest.raises(FlowError, match="does not know this device"):
        adopt_linked_device(existing.api, keychain, live_stack.api_url, existing.user, device)
    assert keychain.device_key(live_stack.api_url, existing.user) is None


# -- the sub-flow's rules, on an in-memory rendezvous ---------------------------------------------

def test_sign_in_with_the_qr_shown_by_the_new_device_and_a_mismatched_offer():
    """Intent 0 (needs open creation on a server): N types the code before it asks to sign in.
    An offer for another device than the one that signed in is refused."""
    from katta_client.linking import InMemoryRendezvous, ProtocolViolation

    base = "https://katta.example.com"
    for offered in ("same", "other"):
        server = InMemoryRendezvous()
        n_session = LinkingSession.start_new_device(server, base, timing=FAST)
        e_session = LinkingSession.scan_new_device(server, n_session.qr.to_text(), timing=FAST)
        device, other = DeviceKeys.create(), DeviceKeys.create()
        shown, registered = queue.Queue(), []

        def existing_side():
            e_session.connect()
            shown.put(e_session.check_code)
            assert isinstance(e_session.receive_request(), LoginProtocol)
            assert e_session.accept_sign_in().user_code == "BCDF-GHJK"
            e_session.receive_device_offer()
            e_session.register(registered.append)

        def new_side():
            n_session.connect()
            with pytest.raises(ChannelError, match="check code"):
                n_session.request_sign_in(LoginProtocol(DEVICE_AUTHORIZATION_GRANT, device.device_id, base))
            n_session.confirm_check_code(shown.get(timeout=10))
            n_session.request_sign_in(LoginProtocol(DEVICE_AUTHORIZATION_GRANT, device.device_id,
                                                    base + "/device", None, "BCDF-GHJK"))
            if offered == "same":
                n_session.send_device_offer(offer_for(device))
            else:
                with pytest.raises(ChannelError, match="device that requested the sign-in"):
                    n_session.send_device_offer(offer_for(other))
                n_session._send(offer_for(other))  # a device that ignores the rule
                n_session._offer_sent = True
            n_session.wait_for_outcome()

        errors = run_pair(existing_side, new_side)
        if offered == "same":
            assert errors == (None, None) and registered == [offer_for(device)]
        else:
            assert isinstance(errors[0], ProtocolViolation) and registered == []
            assert isinstance(errors[1], LinkingRefused) and errors[1].reason == "unexpected_message_received"
