"""An example backend that keeps each user's notes encrypted with the user's secret from Katta.

The backend never stores a key. For every request it forwards the user's IdP
token to the secret server (``katta_client.resource_server``), gets the user's
256-bit secret back — encrypted to the backend's own key, inside a token
signed by the secret server — and derives from it

* the id the user's notes are stored under, and
* the AES-256-GCM key they are encrypted with.

A copy of the backend's disk is therefore useless without the secret server,
and the secret server releases a user's secret only with that user's fresh
IdP token. Run it against the local stack as shown in docs/secret-server.md::

    python -m examples.secret_backend jwks --keys .devstack/notes-backend.json    # public keys to register
    python -m examples.secret_backend serve --keys .devstack/notes-backend.json \\
        --secret-server http://127.0.0.1:8000 --client-id notes-backend --port 8300

    PUT  /notes            body: the note (text); Authorization: Bearer <the user's IdP token>
    GET  /notes            the user's note, decrypted
    GET  /.well-known/jwks.json    the backend's public keys (register this URL as jwksUri)
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from katta_client.resource_server import ResourceServer, ResourceServerKeys, SecretServerError

NONCE_BYTES = 12
MAX_NOTE_BYTES = 64 * 1024


def _derive(secret: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"katta-example-notes/v1/" + purpose).derive(secret)


def storage_id(secret: bytes) -> str:
    """Where a user's notes live: unique per user (the secret is), meaningless without it."""
    return _derive(secret, b"storage-id").hex()


def encrypt_note(secret: bytes, note: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(_derive(secret, b"data-key")).encrypt(nonce, note, storage_id(secret).encode())


def decrypt_note(secret: bytes, blob: bytes) -> bytes:
    """The note; ``cryptography.exceptions.InvalidTag`` if it was altered or is another user's."""
    return AESGCM(_derive(secret, b"data-key")).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:],
                                                        storage_id(secret).encode())


class NotesBackend:
    """The backend's logic, without HTTP: a note per user, encrypted at rest."""

    def __init__(self, resource_server: ResourceServer, data_dir: Path) -> None:
        self.resource_server = resource_server
        self.data_dir = data_dir
        data_dir.mkdir(parents=True, exist_ok=True)

    def put_note(self, user_token: str, note: bytes) -> None:
        secret = self.resource_server.release(user_token).secret
        path = self.data_dir / storage_id(secret)
        path.write_bytes(encrypt_note(secret, note))

    def get_note(self, user_token: str) -> bytes | None:
        secret = self.resource_server.release(user_token).secret
        path = self.data_dir / storage_id(secret)
        return decrypt_note(secret, path.read_bytes()) if path.exists() else None


def load_or_create_keys(path: Path) -> ResourceServerKeys:
    """The backend's private keys, created on first use (file mode 0600)."""
    if path.exists():
        return ResourceServerKeys.from_private_jwks(json.loads(path.read_text()))
    keys = ResourceServerKeys.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        json.dump(keys.private_jwks(), file)
    return keys


def make_handler(backend: NotesBackend):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 — http.server's naming
            if self.path == "/.well-known/jwks.json":
                return self._send(200, json.dumps(backend.resource_server.keys.public_jwks()).encode(),
                                  "application/json")
            if self.path != "/notes":
                return self._send(404, b"not found\n")
            token = self._user_token()
            if token:
                self._answer(lambda: backend.get_note(token))

        def do_PUT(self):  # noqa: N802
            if self.path != "/notes":
                return self._send(404, b"not found\n")
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_NOTE_BYTES:
                return self._send(413, b"note too large\n")
            note = self.rfile.read(length)
            token = self._user_token()
            if token:
                self._answer(lambda: backend.put_note(token, note))

        def _user_token(self) -> str | None:
            scheme, _, token = (self.headers.get("Authorization") or "").partition(" ")
            if scheme.lower() != "bearer" or not token:
                self._send(401, b"send the user's IdP token as Authorization: Bearer <token>\n")
                return None
            return token.strip()

        def _answer(self, action) -> None:
            try:
                result = action()
            except SecretServerError as refused:
                # The user's token was refused (expired, wrong audience...) or the secret server is down.
                status = 503 if refused.status in (None, 500, 503) else 403
                return self._send(status, f"secret server: {refused.error}: {refused.description}\n".encode())
            if result is None and self.command == "GET":
                return self._send(404, b"no note yet\n")
            self._send(200 if self.command == "GET" else 204, result or b"")

        def _send(self, status: int, body: bytes, content_type: str = "text/plain; charset=utf-8") -> None:
            self.send_response(status)
            if status != 204:
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if status != 204:
                self.wfile.write(body)

        def log_message(self, format, *args):  # noqa: A002 — one line per request, no tokens
            sys.stderr.write(f"notes-backend {self.command} {self.path.split('?')[0]} -> {args[1] if len(args) > 1 else ''}\n")

    return Handler


def serve(backend: NotesBackend, host: str = "127.0.0.1", port: int = 8300) -> ThreadingHTTPServer:
    """Starts the backend's HTTP server in a background thread; ``shutdown()`` stops it."""
    server = ThreadingHTTPServer((host, port), make_handler(backend))
    threading.Thread(target=server.serve_forever, name="notes-backend", daemon=True).start()
    return server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m examples.secret_backend", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    jwks = commands.add_parser("jwks", help="print the backend's public JWKS (creates the keys if needed)")
    jwks.add_argument("--keys", type=Path, required=True)
    run = commands.add_parser("serve", help="run the backend")
    run.add_argument("--keys", type=Path, required=True, help="private keys file (created if missing)")
    run.add_argument("--secret-server", required=True, help="KATTA_PUBLIC_BASE_URL of the secret server")
    run.add_argument("--client-id", required=True, help="the client id the backend is registered under")
    run.add_argument("--data-dir", type=Path, default=Path(".devstack/notes"))
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, default=8300)
    args = parser.parse_args(argv)

    keys = load_or_create_keys(args.keys)
    if args.command == "jwks":
        print(json.dumps(keys.public_jwks(), indent=2))
        return 0
    backend = NotesBackend(ResourceServer(args.client_id, args.secret_server, keys), args.data_dir)
    server = serve(backend, args.host, args.port)
    print(f"notes backend listening on http://{args.host}:{server.server_address[1]}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
