"""Builds the Chalice app: settings checked, logs configured, blueprints registered."""
from __future__ import annotations

import json
import logging
import time

from chalice import Chalice, Response

from chalicelib import errors, logs, metrics
from chalicelib.oauth import OAUTH_JSON
from chalicelib.scim import SCIM_JSON
from chalicelib.secrets import TOKEN_PATH as RELEASE_PATH
from chalicelib.settings import get_settings
from chalicelib.web import PROBLEM_JSON, problem_response, request_id_of

_access_log = logging.getLogger("katta.access")

# Requests counted apart, by their route (event.path is the route's template).
_ROTATION_PATHS = frozenset({"/api/admin/keys/rings/{ring}/rotate", "/api/admin/keys/pop/{use}/rotate"})

_CHALICE_ERRORS = {
    400: errors.BadRequest, 403: errors.NotFound, 404: errors.NotFound,
    405: errors.MethodNotAllowed, 415: errors.UnsupportedMediaType,
}


def create_app() -> Chalice:
    settings = get_settings()  # invalid settings fail here, at start, naming the setting
    metrics.configure(settings.stage)
    app = Chalice(app_name="katta")
    app.debug = False  # never a traceback in a response
    logs.configure(app.log)
    logs.configure(logging.getLogger("katta"))

    @app.middleware("http")
    def problems_only(event, get_response):
        """Chalice's own errors (unknown method, media type) become problem JSON too.

        OAuth endpoints answer RFC 6749 JSON (``OAUTH_JSON``) and SCIM routes RFC 7644 errors
        (``SCIM_JSON``), which pass unchanged."""
        started = time.perf_counter()
        response: Response = get_response(event)
        status = response.status_code
        _access_log.info("request", extra={
            "request_id": request_id_of(event), "method": event.method, "path": event.path,
            "status": status, "ms": round((time.perf_counter() - started) * 1000, 1),
            **metrics.fields(Requests=1, ServerErrors=int(status >= 500),
                             Unavailable=int(status == 503), Throttled=int(status == 429),
                             SecretReleases=int(status == 200 and event.path == RELEASE_PATH),
                             KeyRotations=int(status == 200 and event.path in _ROTATION_PATHS))})
        content_type = {k.lower(): v for k, v in (response.headers or {}).items()}.get("content-type", "")
        if response.status_code >= 400 and not content_type.startswith((PROBLEM_JSON, OAUTH_JSON, SCIM_JSON)):
            error_class = _CHALICE_ERRORS.get(response.status_code, errors.ApiError)
            detail = _chalice_message(response.body)
            kept = {k: v for k, v in (response.headers or {}).items() if k.lower() == "allow"}
            return problem_response(error_class(detail, headers=kept), request_id_of(event))
        return response

    from chalicelib import health
    from chalicelib.audit import routes as audit
    from chalicelib.katta import routes as katta
    from chalicelib.rendezvous import routes as rendezvous
    from chalicelib.scim import routes as scim
    from chalicelib.secrets import routes as secrets
    from chalicelib.storage import routes as storage
    from chalicelib.tokens import routes as tokens
    from chalicelib.webapp import routes as webapp
    for part in (health, audit, katta, rendezvous, scim, secrets, storage, tokens, webapp):
        app.register_blueprint(part.bp)
    _register_key_management(app)
    return app


def _register_key_management(app: Chalice) -> None:
    from chalice import Rate

    from chalicelib.pop import routes, schedule
    app.register_blueprint(routes.bp)

    @app.schedule(Rate(1, unit=Rate.HOURS), name="rotate-pop-keys")
    def rotate_pop_keys(event):
        """POP key rotation; admins can also start one (POST /api/admin/keys/pop/{use}/rotate)."""
        schedule.rotate_pop_keys()


def _chalice_message(body) -> str | None:
    if isinstance(body, dict):
        return body.get("Message")
    if isinstance(body, str):
        try:
            return json.loads(body).get("Message")
        except (ValueError, AttributeError):
            return None
    return None
