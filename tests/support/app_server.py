"""The app over real HTTP in a test: ``chalice.local``'s threaded server on a free port."""
from __future__ import annotations

from typing import Callable

from chalice import Chalice
from chalice.config import Config
from chalice.local import ChaliceRequestHandler, CustomLocalChalice, LocalChalice, ThreadedHTTPServer


def threaded_app_server(host: str) -> tuple[ThreadedHTTPServer, Callable[[Chalice], None]]:
    """The server, bound already, and ``attach(app)`` to call once the app is imported.

    The port is known before the app is imported, so the app's settings can name
    its own URL (our issuer). ``attach`` does what ``chalice.local.create_local_server``
    does: ``current_request`` becomes thread-local, so concurrent requests keep
    their own request instead of swapping bodies.
    """
    holder: dict[str, object] = {}

    def handler(request, client_address, server):  # type: ignore[no-untyped-def]
        return ChaliceRequestHandler(request, client_address, server, app_object=holder["app"],
                                     config=holder["config"])

    def attach(app_obj: Chalice) -> None:
        if not isinstance(app_obj, LocalChalice):
            CustomLocalChalice.__bases__ = (LocalChalice, app_obj.__class__)
            app_obj.__class__ = CustomLocalChalice
        holder["app"] = app_obj
        holder["config"] = Config(chalice_stage="local", user_provided_params={"lambda_timeout": 29})

    return ThreadedHTTPServer((host, 0), handler), attach
