"""Liveness: answers without touching AWS, so it says the function runs, no more."""
from chalice import Blueprint

from chalicelib.web import json_response, route

bp = Blueprint(__name__)


@route(bp, "/health")
def health():
    return json_response({"status": "ok"})
