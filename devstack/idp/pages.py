"""The dev IdP's two HTML pages: the sign-in form of ``/auth`` and the device verification page."""

from __future__ import annotations

from html import escape
from typing import Iterable, Mapping

_STYLE = """
body{font-family:system-ui,sans-serif;background:#f4f5f7;margin:0;padding:3rem 1rem;color:#1d2330}
main{max-width:24rem;margin:auto;background:#fff;border-radius:8px;padding:2rem;
box-shadow:0 1px 4px rgba(0,0,0,.12)}
h1{font-size:1.3rem;margin-top:0}label{display:block;margin:.8rem 0 .2rem;font-size:.9rem}
input[type=text],input[type=password]{width:100%;box-sizing:border-box;padding:.5rem;font-size:1rem}
.buttons{margin-top:1.2rem;display:flex;gap:.6rem}
button{padding:.5rem 1rem;font-size:1rem;cursor:pointer}
.error{background:#fde8e8;color:#8a1c1c;padding:.6rem;border-radius:4px}
.hint{color:#5b6270;font-size:.8rem;margin-top:1.4rem}
.code{font-family:ui-monospace,monospace;letter-spacing:.1em}
"""

HINT = "Development IdP — users alice, bob, carol, dave, admin; the password is the user name."


def _page(title: str, body: str) -> str:
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><main><h1>{escape(title)}</h1>{body}"
        f'<p class=hint>{escape(HINT)}</p></main></body></html>'
    )


def _error(message: str | None) -> str:
    return f'<p class=error role=alert>{escape(message)}</p>' if message else ""


def _hidden(params: Mapping[str, str], names: Iterable[str]) -> str:
    return "".join(
        f'<input type=hidden name="{escape(n)}" value="{escape(params[n])}">'
        for n in names if params.get(n)
    )


AUTH_PARAMS = ("client_id", "redirect_uri", "response_type", "response_mode", "scope", "state", "nonce",
               "code_challenge", "code_challenge_method")


def login_page(action: str, params: Mapping[str, str], *, error: str | None = None,
               username: str = "") -> str:
    body = (
        f"<p>The application <span class=code>{escape(params.get('client_id', ''))}</span> "
        f"asks you to sign in.</p>{_error(error)}"
        f'<form method=post action="{escape(action)}">{_hidden(params, AUTH_PARAMS)}'
        '<label for=username>User name</label>'
        f'<input id=username name=username type=text autocomplete=username autofocus value="{escape(username)}">'
        '<label for=password>Password</label>'
        '<input id=password name=password type=password autocomplete=current-password>'
        '<div class=buttons><button type=submit name=action value=login>Sign in</button>'
        '<button type=submit name=action value=cancel formnovalidate>Cancel</button></div></form>'
    )
    return _page("Sign in to katta", body)


def device_page(action: str, *, user_code: str = "", username: str = "",
                error: str | None = None) -> str:
    body = (
        "<p>Enter the code shown on your device, sign in, and approve or decline the device.</p>"
        f"{_error(error)}"
        f'<form method=post action="{escape(action)}">'
        '<label for=user_code>Code</label>'
        f'<input id=user_code name=user_code type=text class=code autocomplete=off value="{escape(user_code)}" '
        'placeholder="ABCD-EFGH">'
        '<label for=username>User name</label>'
        f'<input id=username name=username type=text autocomplete=username value="{escape(username)}">'
        '<label for=password>Password</label>'
        '<input id=password name=password type=password autocomplete=current-password>'
        '<div class=buttons><button type=submit name=action value=approve>Approve</button>'
        '<button type=submit name=action value=deny>Decline</button></div></form>'
    )
    return _page("Device sign-in", body)


def message_page(title: str, message: str) -> str:
    return _page(title, f"<p>{escape(message)}</p>")
