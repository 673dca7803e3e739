"""The two devices' linking flows end to end over an in-memory rendezvous server."""
from __future__ import annotations

import base64
import queue
import threading

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from katta_client.linking import (
    ChannelConflict,
    ChannelError,
    ChannelExpired,
    ChannelTampered,
    ChannelTimeout,
    CheckCodeMismatch,
    DeviceOffer,
    InMemoryRendezvous,
    LinkingRefused,
    LinkingSession,
    LoginProtocols,
    MessageTooLarge,
    ProtocolViolation,
    QrPayloadError,
    RendezvousNotFound,
    RendezvousPayloadTooLarge,
    Role,
    Timing,
)

BASE = "https://katta.example.com"
FAST = Timing(wait_timeout=5.0, poll_interval=0.001)


def make_offer(name: str = "New laptop", device_id: str = "device-new") -> DeviceOffer:
    key = ec.generate_private_key(ec.SECP384R1()).public_key()
    spki = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return DeviceOffer(device_id, base64.b64encode(spki).decode(), name)


def run_pair(existing, new):
    """Run the two devices concurrently; return what each raised (or None)."""
    errors = {}

    def wrap(name, fn):
        try:
            fn()
            errors[name] = None
        except BaseException as err:  # noqa: BLE001 - the test inspects it (pytest.fail too)
            errors[name] = err

    threads = [threading.Thread(target=wrap, args=("existing", existing)),
               threading.Thread(target=wrap, args=("new", new))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
        assert not t.is_alive(), "a device hung"
    return errors["existing"], errors["new"]


class Recorder:
    """Wraps a transport: records every write, and lets a test interfere with them."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.writes: list[str] = []
        self.on_put = None

    def create(self, data=""):
        return self.inner.create(data)

    def get(self, rendezvous_id):
        return self.inner.get(rendezvous_id)

    def put(self, rendezvous_id, token, data):
        if self.on_put is not None:
            data = self.on_put(len(self.writes), rendezvous_id, token, data)
        self.writes.append(data)
        return self.inner.put(rendezvous_id, token, data)

    def delete(self, rendezvous_id):
        return self.inner.delete(rendezvous_id)


def test_existing_device_shows_qr_new_device_joins_and_is_registered():
    server = InMemoryRendezvous()
    existing = LinkingSession.start_existing_device(server, BASE, timing=FAST)
    assert existing.qr.intent == 1 and existing.qr.base_url == BASE
    new = LinkingSession.join(server, existing.qr.to_text(), timing=FAST)
    offer = make_offer()
    shown = queue.Queue()
    registered = []

    def existing_side():
        existing.connect()
        received = existing.receive_device_offer()
        assert received == offer
        assert existing.enters_check_code
        existing.confirm_check_code(shown.get(timeout=5))
        existing.register(registered.append)

    def new_side():
        new.connect()
        assert new.role is Role.SCANNER and not new.enters_check_code
        shown.put(new.check_code)
        new.send_device_offer(offer)
        new.wait_for_outcome()

    assert run_pair(existing_side, new_side) == (None, None)
    assert registered == [offer]
    with pytest.raises(RendezvousNotFound):  # the new device cleaned up
        server.get(existing.rendezvous_id)


def test_new_device_shows_qr_existing_device_scans_and_registers():
    server = InMemoryRendezvous()
    new = LinkingSession.start_new_device(server, BASE, timing=FAST)
    assert new.qr.intent == 0
    existing = LinkingSession.scan_new_device(server, new.qr.to_bytes(), timing=FAST)
    offer = make_offer()
    shown = queue.Queue()
    registered = []

    def existing_side():
        existing.connect()
        shown.put(existing.check_code)
        existing.receive_device_offer()
        existing.register(registered.append)

    def new_side():
        new.connect()
        new.confirm_check_code(shown.get(timeout=5))
        new.send_device_offer(offer)
        new.wait_for_outcome()

    assert run_pair(existing_side, new_side) == (None, None)
    assert registered == [offer]


def test_wrong_check_code_on_the_existing_device_registers_nothing():
    server = InMemoryRendezvous()
    existing = LinkingSession.start_existing_device(server, BASE, timing=FAST)
    new = LinkingSession.join(server, existing.qr, timing=FAST)
    shown = queue.Queue()
    registered = []

    def existing_side():
        existing.connect()
        existing.receive_device_offer()
        code = shown.get(timeout=5)
        with pytest.raises(CheckCodeMismatch):
            existing.confirm_check_code(f"{(int(code) - 9) % 90 + 10:02d}")
        with pytest.raises(ChannelError):
            existing.register(registered.append)

    def new_side():
        new.connect()
        shown.put(new.check_code)
        new.send_device_offer(make_offer())
        new.wait_for_outcome()

    errors = run_pair(existing_side, new_side)
    assert errors[0] is None
    assert isinstance(errors[1], LinkingRefused) and errors[1].reason == "user_cancelled"
    assert registered == []


def test_wrong_check_code_on_the_new_device_offers_no_key():
    server = InMemoryRendezvous()
    new = LinkingSession.start_new_device(server, BASE, timing=FAST)
    existing = LinkingSession.scan_new_device(server, new.qr, timing=FAST)
    shown = queue.Queue()
    registered = []

    def existing_side():
        existing.connect()
        shown.put(existing.check_code)
        existing.receive_device_offer()
        existing.register(registered.append)

    def new_side():
        new.connect()
        code = shown.get(timeout=5)
        with pytest.raises(CheckCodeMismatch):
            new.confirm_check_code(f"{(int(code) - 9) % 90 + 10:02d}")
        with pytest.raises(ChannelError):
            new.send_device_offer(make_offer())

    errors = run_pair(existing_side, new_side)
    assert isinstance(errors[0], LinkingRefused) and errors[0].reason == "user_cancelled"
    assert errors[1] is None
    assert registered == []


def test_the_device_that_showed_the_qr_never_displays_the_check_code():
    server = InMemoryRendezvous()
    existing = LinkingSession.start_existing_device(server, BASE, timing=FAST)
    with pytest.raises(ChannelError):
        existing.check_code
    new = LinkingSession.join(server, existing.qr, timing=FAST)
    with pytest.raises(ChannelError):
        new.confirm_check_code("42")


def test_registration_before_the_check_code_is_refused():
    server = InMemoryRendezvous()
    existing = LinkingSession.start_existing_device(server, BASE, timing=FAST)
    new = LinkingSession.join(server, existing.qr, timing=FAST)
    registered = []

    def existing_side():
        existing.connect()
        existing.receive_device_offer()
        with pytest.raises(ChannelError):
            existing.register(registered.append)
        existing.cancel()

    def new_side():
        new.connect()
        new.send_device_offer(make_offer())
        new.wait_for_outcome()

    errors = run_pair(existing_side, new_side)
    assert errors[0] is None and isinstance(errors[1], LinkingRefused)
    assert registered == []


def test_shoulder_surfer_who_scans_first_is_stopped_by_the_check_code():
    server = InMemoryRendezvous()
    existing = LinkingSession.start_existing_device(server, BASE, timing=FAST)
    surfer = LinkingSession.join(server, existing.qr.to_text(), timing=FAST)
    registered = []
    surfer_code = queue.Queue()

    def existing_side():
        existing.connect()
        offer = existing.receive_device_offer()
        assert offer.device_name == "Evil"
        victim_side()  # the user's own device scans now: the QR code is already used
        # the user's own device failed and shows no code; whatever the user types is not
        # the surfer's code except by a 1-in-90 guess
        guess = f"{(int(surfer_code.get(timeout=5)) - 9) % 90 + 10:02d}"
        with pytest.raises(CheckCodeMismatch):
            existing.confirm_check_code(guess)

    def surfer_side():
        surfer.connect()
        surfer_code.put(surfer.check_code)
        surfer.send_device_offer(make_offer("Evil"))
        surfer.wait_for_outcome()

    def victim_side():
        # The victim scans after the surfer's INITIATE landed.
        victim = LinkingSession.join(server, existing.qr.to_text(), timing=FAST)
        with pytest.raises(ChannelConflict):
            victim.connect()

    errors = run_pair(existing_side, surfer_side)
    assert errors[0] is None
    assert isinstance(errors[1], LinkingRefused)
    assert registered == []


def test_second_scanner_racing_the_first_gets_409_and_the_first_completes():
    """Both scanners read the fresh session; the real device's INITIATE wins the swap."""
    server = InMemoryRendezvous()
    existing = LinkingSession.start_existing_device(server, BASE, timing=FAST)
    t0 = server.get(existing.rendezvous_id).sequence_token
    new = LinkingSession.join(server, existing.qr, timing=FAST)
    racer_recorder = Recorder(server)

    from katta_client.linking.session import _Mailbox  # the racer's view of the mailbox
    racer_mailbox = _Mailbox(racer_recorder, existing.rendezvous_id, BASE, t0, FAST)
    shown = queue.Queue()
    registered = []

    def existing_side():
        existing.connect()
        existing.receive_device_offer()
        existing.confirm_check_code(shown.get(timeout=5))
        existing.register(registered.append)

    def new_side():
        new.connect()
        # now the racer writes the INITIATE it prepared over the token it had seen
        with pytest.raises(ChannelConflict):
            racer_mailbox.write("racer INITIATE")
        shown.put(new.check_code)
        new.send_device_offer(make_offer())
        new.wait_for_outcome()

    assert run_pair(existing_side, new_side) == (None, None)
    assert len(registered) == 1


def _interfere(n_write, how):
    """Transport on which write number ``n_write`` is changed by ``how(data) -> data``."""
    server = InMemoryRendezvous()
    recorder = Recorder(server)
    recorder.on_put = lambda i, rid, token, data: how(data, recorder) if i == n_write else data
    return recorder


def _flip(data, _recorder):
    raw = bytearray(data.encode())
    raw[len(raw) // 2] ^= 0x04
    return raw.decode("latin-1")


@pytest.mark.parametrize("n_write, who_fails", [(0, "existing"), (1, "new"), (2, "existing"), (3, "new")])
def test_tampered_message_in_flight_is_refused_and_nothing_is_registered(n_write, who_fails):
    transport = _interfere(n_write, _flip)
    existing = LinkingSession.start_existing_device(transport, BASE, timing=FAST)
    new = LinkingSession.join(transport, existing.qr, timing=FAST)
    shown = queue.Queue()
    registered = []

    def existing_side():
        existing.connect()
        existing.receive_device_offer()
        existing.confirm_check_code(shown.get(timeout=5))
        existing.register(registered.append)

    def new_side():
        try:
            new.connect()
            shown.put(new.check_code)
        except Exception:
            shown.put("00")
            raise
        new.send_device_offer(make_offer())
        new.wait_for_outcome()

    errors = dict(zip(("existing", "new"), run_pair(existing_side, new_side)))
    assert isinstance(errors[who_fails], ChannelTampered)
    if n_write < 3:
        assert registered == []
    else:
        # the success message itself was tampered: the device was registered, the new
        # device does not trust the answer and checks GET /api/devices/{id} itself
        assert len(registered) == 1


def test_replayed_message_is_refused():
    """An attacker re-posts the new device's INITIATE in place of its device offer."""
    server = InMemoryRendezvous()
    recorder = Recorder(server)

    def replay(i, rid, token, data):
        return recorder.writes[0] if i == 2 else data

    recorder.on_put = replay
    existing = LinkingSession.start_existing_device(recorder, BASE, timing=FAST)
    new = LinkingSession.join(recorder, existing.qr, timing=FAST)
    registered = []

    def existing_side():
        existing.connect()
        existing.receive_device_offer()

    def new_side():
        new.connect()
        new.send_device_offer(make_offer())
        new.wait_for_outcome()

    errors = run_pair(existing_side, new_side)
    assert isinstance(errors[0], ChannelTampered)
    assert isinstance(errors[1], (ChannelExpired, ChannelTampered))
    assert registered == []


def test_message_moved_to_another_rendezvous_session_is_refused():
    server = InMemoryRendezvous()
    recorder = Recorder(server)
    existing = LinkingSession.start_existing_device(recorder, BASE, timing=FAST)
    new = LinkingSession.join(recorder, existing.qr, timing=FAST)
    run_pair(existing.connect, new.connect)
    # a second session whose tokens happen to be known: the first session's OK is not valid there
    other = LinkingSession.start_existing_device(server, BASE, timing=FAST)
    other_new = LinkingSession.join(server, other.qr, timing=FAST)
    ok_from_first_session = recorder.writes[1]

    def forge_ok():
        state = server.get(other.rendezvous_id)
        while state.data == "":
            state = server.get(other.rendezvous_id)
        server.put(other.rendezvous_id, state.sequence_token, ok_from_first_session)

    errors = run_pair(forge_ok, other_new.connect)
    assert errors[0] is None and isinstance(errors[1], ChannelTampered)


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps = 0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        self.now += seconds


def test_waiting_for_the_other_device_is_bounded():
    fake = FakeTime()
    server = InMemoryRendezvous(ttl_seconds=300, clock=fake.clock)
    timing = Timing(wait_timeout=30, poll_interval=2, clock=fake.clock, sleep=fake.sleep)
    existing = LinkingSession.start_existing_device(server, BASE, timing=timing)
    with pytest.raises(ChannelTimeout):
        existing.connect()
    assert fake.now == 30 and fake.sleeps == 15


def test_expired_session_is_reported_as_expired():
    fake = FakeTime()
    server = InMemoryRendezvous(ttl_seconds=120, clock=fake.clock)
    timing = Timing(wait_timeout=600, poll_interval=5, clock=fake.clock, sleep=fake.sleep)
    existing = LinkingSession.start_existing_device(server, BASE, timing=timing)
    with pytest.raises(ChannelExpired) as err:
        existing.connect()
    assert not isinstance(err.value, ChannelTimeout)
    assert 120 <= fake.now <= 125
    late = LinkingSession.join(server, existing.qr, timing=timing)
    with pytest.raises(ChannelExpired):
        late.connect()


def test_lost_put_response_retried_identically_keeps_one_channel():
    server = InMemoryRendezvous()
    recorder = Recorder(server)
    original_put, original_get = recorder.put, recorder.get
    # The retry follows its lost answer at once: the peer reads neither between the two.
    retry_window = threading.Lock()

    def put_twice(rid, token, data):  # the first response is "lost"; the client retries
        with retry_window:
            original_put(rid, token, data)
            return original_put(rid, token, data)

    def get(rid):
        with retry_window:
            return original_get(rid)

    recorder.put, recorder.get = put_twice, get
    existing = LinkingSession.start_existing_device(recorder, BASE, timing=FAST)
    new = LinkingSession.join(recorder, existing.qr, timing=FAST)
    shown = queue.Queue()
    registered = []

    def existing_side():
        existing.connect()
        existing.receive_device_offer()
        existing.confirm_check_code(shown.get(timeout=5))
        existing.register(registered.append)

    def new_side():
        new.connect()
        shown.put(new.check_code)
        new.send_device_offer(make_offer())
        new.wait_for_outcome()

    assert run_pair(existing_side, new_side) == (None, None)
    assert len(registered) == 1


def test_payload_too_large_from_the_server_is_reported():
    server = InMemoryRendezvous()

    class Small(Recorder):
        def put(self, rendezvous_id, token, data):
            if len(self.writes) >= 2:
                raise RendezvousPayloadTooLarge("too large", status=413)
            return super().put(rendezvous_id, token, data)

    transport = Small(server)
    existing = LinkingSession.start_existing_device(transport, BASE, timing=FAST)
    new = LinkingSession.join(transport, existing.qr, timing=FAST)
    run_pair(existing.connect, new.connect)
    with pytest.raises(MessageTooLarge):
        new.send_device_offer(make_offer())


def test_oversize_message_is_refused_before_it_is_sent():
    server = InMemoryRendezvous()
    recorder = Recorder(server)
    existing = LinkingSession.start_existing_device(recorder, BASE, timing=FAST)
    new = LinkingSession.join(recorder, existing.qr, timing=FAST)
    run_pair(existing.connect, new.connect)
    writes = len(recorder.writes)
    with pytest.raises(MessageTooLarge):
        new._send(LoginProtocols(("x" * 4000,), BASE))  # noqa: SLF001
    assert len(recorder.writes) == writes


def test_unexpected_message_is_refused_and_reported():
    server = InMemoryRendezvous()
    existing = LinkingSession.start_existing_device(server, BASE, timing=FAST)
    new = LinkingSession.join(server, existing.qr, timing=FAST)

    def existing_side():
        existing.connect()
        with pytest.raises(ProtocolViolation):
            existing.receive_device_offer()

    def new_side():
        new.connect()
        new._send(LoginProtocols(("device_authorization_grant",), BASE))  # noqa: SLF001
        new._offer_sent = True  # noqa: SLF001
        new.wait_for_outcome()

    errors = run_pair(existing_side, new_side)
    assert errors[0] is None
    assert isinstance(errors[1], LinkingRefused) and errors[1].reason == "unexpected_message_received"


def test_declined_and_failed_registration_reach_the_new_device():
    class AlreadyThere(Exception):
        reason = "device_already_exists"

    for action, expected in (("decline", "declined"), ("already", "device_already_exists"),
                             ("boom", "katta.registration_failed")):
        server = InMemoryRendezvous()
        existing = LinkingSession.start_existing_device(server, BASE, timing=FAST)
        new = LinkingSession.join(server, existing.qr, timing=FAST)
        shown = queue.Queue()

        def existing_side():
            existing.connect()
            existing.receive_device_offer()
            existing.confirm_check_code(shown.get(timeout=5))
            if action == "decline":
                existing.decline()
            elif action == "already":
                with pytest.raises(AlreadyThere):
                    existing.register(lambda offer: (_ for _ in ()).throw(AlreadyThere()))
            else:
                with pytest.raises(RuntimeError):
                    existing.register(lambda offer: (_ for _ in ()).throw(RuntimeError("5xx")))

        def new_side():
            new.connect()
            shown.put(new.check_code)
            new.send_device_offer(make_offer())
            new.wait_for_outcome()

        errors = run_pair(existing_side, new_side)
        assert errors[0] is None
        assert isinstance(errors[1], LinkingRefused) and errors[1].reason == expected


def test_qr_of_the_wrong_intent_is_refused():
    server = InMemoryRendezvous()
    shown_by_new = LinkingSession.start_new_device(server, BASE, timing=FAST)
    shown_by_existing = LinkingSession.start_existing_device(server, BASE, timing=FAST)
    with pytest.raises(QrPayloadError):
        LinkingSession.join(server, shown_by_new.qr, timing=FAST)
    with pytest.raises(QrPayloadError):
        LinkingSession.scan_new_device(server, shown_by_existing.qr, timing=FAST)
    with pytest.raises(QrPayloadError):
        LinkingSession.join(server, "garbage!", timing=FAST)


def test_invalid_base_url_leaves_no_rendezvous_behind():
    server = InMemoryRendezvous()
    with pytest.raises(QrPayloadError):
        LinkingSession.start_existing_device(server, "not a url", timing=FAST)
    assert server._sessions == {}  # noqa: SLF001
