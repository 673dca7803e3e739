"""``katta device link`` and ``katta device join`` through ``katta_client.cli.main``, the two devices
in two threads with two configuration directories, on the live stack. Each thread has its own
"terminal": what it prints is captured apart, and the check code is typed into its stdin."""
from __future__ import annotations

import io
import json
import queue
import re
import sys
import threading

import pytest

from katta_client.cli import cmd_link, main
from katta_client.linking import QrIntent, QrPayload
from tests.support.device_link import FAST
from tests.support.live_stack import live_stack  # noqa: F401 - fixture

pytestmark = pytest.mark.slow  # a live stack, a subprocess or a long run: not in the fast lane

WAIT = 30.0


class Terminal:
    """One device's screen (stdout and stderr apart) and keyboard (lines typed into stdin)."""

    def __init__(self) -> None:
        self.out, self.err = io.StringIO(), io.StringIO()
        self._changed = threading.Condition()
        self._typed: queue.Queue[str] = queue.Queue()

    def write(self, stream: str, text: str) -> None:
        with self._changed:
            getattr(self, stream).write(text)
            self._changed.notify_all()

    def screen(self) -> str:
        return self.out.getvalue() + self.err.getvalue()

    def wait_for(self, pattern: str) -> re.Match:
        with self._changed:
            self._changed.wait_for(lambda: re.search(pattern, self.screen()), WAIT)
            found = re.search(pattern, self.screen())
        assert found, f"{pattern!r} never appeared on:\n{self.screen()}"
        return found

    def type(self, line: str) -> None:
        self._typed.put(line + "\n")

    def close_input(self) -> None:
        self._typed.put("")

    def readline(self) -> str:
        try:
            return self._typed.get(timeout=WAIT)
        except queue.Empty:
            return ""


class Routed(io.TextIOBase):
    """Stands in for sys.stdout / stderr / stdin and hands each thread its own terminal."""

    def __init__(self, terminals: dict[str, Terminal], stream: str) -> None:
        self._terminals, self._stream = terminals, stream

    def _terminal(self) -> Terminal:
        return self._terminals.setdefault(threading.current_thread().name, Terminal())

    def write(self, text: str) -> int:
        self._terminal().write(self._stream, text)
        return len(text)

    def readline(self, size: int = -1) -> str:
        return self._terminal().readline()

    def isatty(self) -> bool:
        return False

    @property
    def encoding(self) -> str:
        return "utf-8"


def route(monkeypatch, screens: dict[str, Terminal]) -> None:
    """Must run inside the test call: pytest installs its own capture when the call starts."""
    if not isinstance(sys.stdout, Routed):
        for name in ("stdout", "stderr"):
            monkeypatch.setattr(sys, name, Routed(screens, name[3:]))
        monkeypatch.setattr(sys, "stdin", Routed(screens, "in"))


@pytest.fixture(autouse=True)
def cli_environment(monkeypatch, live_stack):
    monkeypatch.setenv("KATTA_KEYCHAIN", "file")
    for name in ("KATTA_PASSWORD", "KATTA_USERNAME", "KATTA_SERVER", "KATTA_CONFIG_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(cmd_link, "TIMING", FAST)
    monkeypatch.setattr(live_stack.idp, "device_poll_interval", 1)


class Devices:
    """``katta --server <live> --config-dir <dir>`` for the existing ("E") and new ("N") device."""

    def __init__(self, live_stack, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
        self.server, self.terminals, self.monkeypatch = live_stack.api_url, {}, monkeypatch
        self.dirs = {"E": tmp_path / "existing", "N": tmp_path / "new"}
        self.codes: dict[str, int] = {}
        self.threads: dict[str, threading.Thread] = {}

    def argv(self, device: str, args) -> list[str]:  # type: ignore[no-untyped-def]
        route(self.monkeypatch, self.terminals)
        return ["--server", self.server, "--config-dir", str(self.dirs[device]), *args]

    def run(self, device: str, *args: str) -> tuple[int, str, str]:
        """Run to completion on this thread; returns (code, stdout, stderr) of this run."""
        route(self.monkeypatch, self.terminals)
        screen = self.terminals.setdefault(threading.current_thread().name, Terminal())
        out_at, err_at = len(screen.out.getvalue()), len(screen.err.getvalue())
        code = main(self.argv(device, args))
        return code, screen.out.getvalue()[out_at:], screen.err.getvalue()[err_at:]

    def start(self, device: str, *args: str) -> Terminal:
        route(self.monkeypatch, self.terminals)
        self.terminals[device] = Terminal()
        thread = threading.Thread(target=lambda: self.codes.__setitem__(device, main(self.argv(device, args))),
                                  name=device, daemon=True)
        self.threads[device] = thread
        thread.start()
        return self.terminals[device]

    def finish(self) -> dict[str, int]:
        for name, thread in self.threads.items():
            thread.join(WAIT * 2)
            assert not thread.is_alive(), f"device {name} hung:\n{self.terminals[name].screen()}"
        return self.codes


@pytest.fixture
def devices(live_stack, tmp_path, monkeypatch):
    return Devices(live_stack, tmp_path, monkeypatch)


def existing_with_keys(live_stack, devices, *, new_signed_in: bool) -> str:
    user = live_stack.new_user("clilink")
    assert devices.run("E", "login", "--username", user, "--password", user)[0] == 0
    assert devices.run("E", "init", "--device-name", "laptop")[0] == 0
    if new_signed_in:
        assert devices.run("N", "login", "--username", user, "--password", user)[0] == 0
    return user


def device_names(devices, device: str = "E") -> list[str]:
    code, out, _ = devices.run(device, "--json", "device", "list")
    assert code == 0
    return sorted(d["name"] for d in json.loads(out))


def one_line_error(terminal: Terminal, fragment: str) -> None:
    err = terminal.err.getvalue()
    last = err.strip().splitlines()[-1]
    assert last.startswith("katta: error: ") and fragment in last, err
    assert "Traceback" not in err


def test_link_a_signed_in_device_which_then_unlocks_without_the_account_key(live_stack, devices):
    existing_with_keys(live_stack, devices, new_signed_in=True)
    e = devices.start("E", "device", "link")
    payload = e.wait_for(r"device join (\S+)").group(1)
    assert "▀" in e.err.getvalue() or "█" in e.err.getvalue()  # the terminal QR code
    n = devices.start("N", "device", "join", payload, "--device-name", "phone")
    e.type(n.wait_for(r"Check code: (\d\d)").group(1))  # the user types what N shows
    assert devices.finish() == {"E": 0, "N": 0}
    assert 'Linked "phone"' in e.out.getvalue()
    assert "is linked to" in n.out.getvalue()

    code, out, _ = devices.run("N", "--json", "device", "list")
    listed = json.loads(out)
    assert sorted(d["name"] for d in listed) == ["laptop", "phone"]
    assert [d["name"] for d in listed if d["thisDevice"]] == ["phone"]
    # the new device opens its copy of the user keys; stdin offers no account key to ask for
    code, out, err = devices.run("N", "init")
    assert code == 0 and "keys are unlocked" in out, err


def test_join_signs_in_through_the_existing_device(live_stack, devices):
    user = existing_with_keys(live_stack, devices, new_signed_in=False)
    e = devices.start("E", "device", "link", "--no-qr")
    payload = e.wait_for(r"device join (\S+)").group(1)
    n = devices.start("N", "--json", "device", "join", payload, "--device-name", "tablet")
    e.type(n.wait_for(r"Check code: (\d\d)").group(1))
    user_code = e.wait_for(r"approve the code ([A-Z]{4}-[A-Z]{4})").group(1)
    assert f"code {user_code}" in n.err.getvalue()  # both screens show the same sign-in code
    assert live_stack.idp.verification_uri in e.err.getvalue()
    live_stack.idp.approve_device(user_code, user)  # the user, in the browser of the existing device
    assert devices.finish() == {"E": 0, "N": 0}
    result = json.loads(n.out.getvalue())
    assert result["user"] == user and result["signedIn"] is True
    assert device_names(devices) == ["laptop", "tablet"]
    code, out, _ = devices.run("N", "--json", "whoami")
    assert code == 0 and json.loads(out)["ecdhPublicKey"]


@pytest.mark.parametrize("outcome", ["declined", "expired"])
def test_sign_in_declined_or_not_approved_registers_nothing(live_stack, devices, monkeypatch, outcome):
    existing_with_keys(live_stack, devices, new_signed_in=False)
    if outcome == "expired":
        monkeypatch.setattr(live_stack.idp, "device_code_lifetime", 1)
    e = devices.start("E", "device", "link", "--no-qr")
    n = devices.start("N", "device", "join", e.wait_for(r"device join (\S+)").group(1))
    e.type(n.wait_for(r"Check code: (\d\d)").group(1))
    user_code = e.wait_for(r"approve the code ([A-Z]{4}-[A-Z]{4})").group(1)
    if outcome == "declined":
        live_stack.idp.decline_device(user_code)
    assert devices.finish() == {"E": 1, "N": 1}
    if outcome == "declined":
        one_line_error(n, "the sign-in was declined; nothing was registered")
        one_line_error(e, "the new device cancelled")
    else:
        one_line_error(n, "not approved in time")
        one_line_error(e, "the new device's sign-in was not approved in time")
    assert device_names(devices) == ["laptop"]
    assert devices.run("N", "whoami")[0] == 1  # not signed in


def test_wrong_check_code_registers_nothing(live_stack, devices):
    user = existing_with_keys(live_stack, devices, new_signed_in=True)
    e = devices.start("E", "device", "link", "--no-qr", "--check-code", "00")  # never a valid code
    devices.start("N", "device", "join", e.wait_for(r"device join (\S+)").group(1))
    codes = devices.finish()
    assert codes == {"E": 1, "N": 1}
    one_line_error(e, "the check code does not match")
    one_line_error(devices.terminals["N"], "the other device cancelled (was the check code typed correctly?)")
    assert device_names(devices) == ["laptop"]
    assert not list((devices.dirs["N"] / "keys").rglob("device-key")), f"{user}'s new device kept a key"


def test_no_check_code_on_stdin_stops_both_sides(live_stack, devices):
    existing_with_keys(live_stack, devices, new_signed_in=True)
    e = devices.start("E", "device", "link", "--no-qr")
    n = devices.start("N", "device", "join", e.wait_for(r"device join (\S+)").group(1))
    n.wait_for(r"Check code: (\d\d)")
    e.close_input()
    assert devices.finish() == {"E": 1, "N": 1}
    one_line_error(e, "no check code given")
    one_line_error(n, "this device was not linked")
    assert device_names(devices) == ["laptop"]


def test_join_refuses_a_code_for_another_server_or_of_the_wrong_kind(live_stack, devices):
    key = bytes(range(1, 33))
    foreign = QrPayload(QrIntent.EXISTING_DEVICE, key, "r" * 43, "https://katta.evil.example").to_text()
    code, _, err = devices.run("N", "device", "join", foreign)
    assert code == 1 and "for the server https://katta.evil.example" in err and live_stack.api_url in err
    assert "nothing was sent" in err

    shown_by_new = QrPayload(QrIntent.NEW_DEVICE, key, "r" * 43, live_stack.api_url).to_text()
    code, _, err = devices.run("N", "device", "join", shown_by_new)
    assert code == 1 and "shown by a new device" in err

    code, _, err = devices.run("N", "device", "join", "not-a-code")
    assert code == 1 and "not a katta device-link code" in err


def test_link_needs_a_device_that_has_the_keys(live_stack, devices):
    user = live_stack.new_user("clilink")
    assert devices.run("E", "login", "--username", user, "--password", user)[0] == 0
    code, _, err = devices.run("E", "device", "link")
    assert code == 1 and "run `katta init`" in err
    code, _, err = devices.run("N", "device", "link")
    assert code == 1 and "not signed in" in err


def test_join_refuses_a_device_that_is_set_up_already(live_stack, devices):
    existing_with_keys(live_stack, devices, new_signed_in=False)
    payload = QrPayload(QrIntent.EXISTING_DEVICE, bytes(range(1, 33)), "r" * 43, live_stack.api_url).to_text()
    code, _, err = devices.run("E", "device", "join", payload)
    assert code == 1 and "already registered" in err


def test_a_lost_success_message_is_read_from_the_server(live_stack, devices, monkeypatch):
    """The existing device registered the new one, then could not tell it: the new device asks the
    server, finds itself registered with a copy of the keys it can open, and is linked."""
    from katta_client.linking import RendezvousError
    from katta_client.linking.messages import LoginSuccess
    from katta_client.linking.session import ExistingDeviceSession, Timing

    send = ExistingDeviceSession._send

    def losing(session, message):
        if isinstance(message, LoginSuccess):
            raise RendezvousError("rendezvous PUT failed: ReadTimeout")
        send(session, message)

    monkeypatch.setattr(ExistingDeviceSession, "_send", losing)
    monkeypatch.setattr(cmd_link, "TIMING", Timing(wait_timeout=4.0, poll_interval=0.02, sign_in_timeout=4.0))
    existing_with_keys(live_stack, devices, new_signed_in=True)
    e = devices.start("E", "device", "link", "--no-qr")
    payload = e.wait_for(r"device join (\S+)").group(1)
    n = devices.start("N", "device", "join", payload, "--device-name", "phone")
    e.type(n.wait_for(r"Check code: (\d\d)").group(1))
    assert devices.finish() == {"E": 1, "N": 0}
    assert "katta: error: the new device was registered, but telling it so failed" in e.err.getvalue()
    assert "is linked to" in n.out.getvalue()
    code, out, err = devices.run("N", "init")
    assert code == 0 and "keys are unlocked" in out, err


def new_device_showing_a_code(live_stack, user: str):  # type: ignore[no-untyped-def]
    """A signed-in new device (as the browser is) that shows its code: the SDK's new-device side."""
    from katta_client.linking import HttpRendezvous, LinkingSession

    transport = HttpRendezvous(live_stack.api_url, live_stack.idp.mint(user))
    return LinkingSession.start_new_device(transport, live_stack.api_url, timing=FAST)


def test_link_scans_the_code_a_new_device_shows_and_shows_the_check_code_to_type_there(live_stack, devices):
    from katta_client.crypto import DeviceKeys
    from katta_client.linking import DeviceOffer

    user = existing_with_keys(live_stack, devices, new_signed_in=False)
    new = new_device_showing_a_code(live_stack, user)
    e = devices.start("E", "device", "link", new.qr.to_text())
    new.connect()  # E scanned: the channel stands, E named its server
    new.confirm_check_code(e.wait_for(r"Check code: (\d\d)").group(1))  # the user types what E shows
    device = DeviceKeys.create()
    new.send_device_offer(DeviceOffer(device.device_id, device.encoded_public_key, "browser", "BROWSER"))
    new.wait_for_outcome()
    assert devices.finish() == {"E": 0}
    assert 'Linked "browser"' in e.out.getvalue()
    assert device_names(devices) == ["browser", "laptop"]


def test_a_wrong_check_code_on_the_new_device_registers_nothing(live_stack, devices):
    from katta_client.linking import CheckCodeMismatch

    user = existing_with_keys(live_stack, devices, new_signed_in=False)
    new = new_device_showing_a_code(live_stack, user)
    e = devices.start("E", "--json", "device", "link", new.qr.to_text())
    new.connect()
    shown = e.wait_for(r"Check code: (\d\d)").group(1)
    with pytest.raises(CheckCodeMismatch):
        new.confirm_check_code("00" if shown != "00" else "01")
    assert devices.finish() == {"E": 1}
    one_line_error(e, "the new device cancelled")
    assert device_names(devices) == ["laptop"]


def test_link_refuses_a_code_shown_by_a_device_that_has_the_keys(live_stack, devices):
    existing_with_keys(live_stack, devices, new_signed_in=False)
    shown_by_existing = QrPayload(QrIntent.EXISTING_DEVICE, bytes(range(1, 33)), "r" * 43, live_stack.api_url).to_text()
    code, _, err = devices.run("E", "device", "link", shown_by_existing)
    assert code == 1 and "`katta device join`" in err
