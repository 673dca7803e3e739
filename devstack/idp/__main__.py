"""``python -m devstack.idp``: run the development IdP (local stage only)."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Mapping, Sequence

from .keys import DEFAULT_STATE_DIR, SUPPORTED_ALGS
from .provider import DEFAULT_ALLOWED_ORIGINS, DEFAULT_HOST, DEFAULT_PORT, DevIdP

ALLOWED_STAGES = ("local",)


def stage_refusal(environ: Mapping[str, str]) -> str | None:
    """The reason to refuse starting, or ``None`` when ``KATTA_STAGE`` is ``local`` or unset."""
    stage = environ.get("KATTA_STAGE")
    if stage is None or stage == "" or stage in ALLOWED_STAGES:
        return None
    return (
        f"devstack.idp: refusing to start: KATTA_STAGE={stage!r}. The development IdP issues tokens "
        "for well-known passwords and is only for the local stack; it runs when KATTA_STAGE is "
        "'local' or unset."
    )


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m devstack.idp",
        description="Development OIDC identity provider (Keycloak-shaped). Never for a non-local stage.",
    )
    p.add_argument("--host", default=DEFAULT_HOST, help="address to bind (default %(default)s)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help="port to bind, 0 = any free port (default %(default)s)")
    p.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR,
                   help="where the signing key is kept (default <repo>/.devstack/idp)")
    p.add_argument("--issuer", default=None,
                   help="fixed issuer URL (default http://<host>:<port>/realms/katta)")
    p.add_argument("--alg", choices=SUPPORTED_ALGS, default="ES256", help="token signing algorithm (default %(default)s)")
    p.add_argument("--access-token-lifetime", type=int, default=300, metavar="SECONDS",
                   help="access and id token lifetime (default %(default)s)")
    p.add_argument("--refresh-token-lifetime", type=int, default=1800, metavar="SECONDS",
                   help="refresh token lifetime (default %(default)s)")
    p.add_argument("--device-code-lifetime", type=int, default=600, metavar="SECONDS",
                   help="device code lifetime (default %(default)s)")
    p.add_argument("--device-poll-interval", type=int, default=5, metavar="SECONDS",
                   help="minimum device polling interval (default %(default)s)")
    p.add_argument("--allowed-origin", action="append", metavar="ORIGIN",
                   help="an origin whose pages may call the token, userinfo, JWKS and discovery endpoints "
                        f"with credentials; repeat for more (default {' and '.join(DEFAULT_ALLOWED_ORIGINS)})")
    p.add_argument("--quiet", action="store_true", help="do not log requests")
    return p


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    refusal = stage_refusal(os.environ if environ is None else environ)
    if refusal:
        print(refusal, file=sys.stderr)
        return 2
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="%(asctime)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    idp = DevIdP(
        args.issuer,
        alg=args.alg,
        state_dir=args.state_dir,
        access_token_lifetime=args.access_token_lifetime,
        refresh_token_lifetime=args.refresh_token_lifetime,
        device_code_lifetime=args.device_code_lifetime,
        device_poll_interval=args.device_poll_interval,
        allowed_origins=args.allowed_origin or DEFAULT_ALLOWED_ORIGINS,
    )
    try:
        handle = idp.serve(args.host, args.port)
    except OSError as exc:
        print(f"devstack.idp: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"devstack.idp: warning: listening on {args.host}, not only on loopback", file=sys.stderr)
    users = ", ".join(u.username for u in idp.users())
    print(f"dev IdP listening on {handle.url}", flush=True)
    print(f"issuer {idp.issuer}", flush=True)
    print(f"users {users} (password = user name); clients katta-cli, katta; key {idp.alg} kid {idp.kid}",
          flush=True)

    stop = threading.Event()
    try:
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
    except ValueError:  # not the main thread (main() called from a test): Ctrl-C/stop() only
        pass
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        handle.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
