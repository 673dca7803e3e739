"""Liveness, and the OpenAPI document: neither touches AWS.

``/health`` says the function runs, no more. ``/openapi.json`` is generated on
its first request (chalicelib/openapi.py), never at import.
"""
from typing import Any, Literal

from chalice import Blueprint
from pydantic import BaseModel, ConfigDict

from chalicelib.apidoc import Operation
from chalicelib.web import json_response, route

bp = Blueprint(__name__)


class Health(BaseModel):
    model_config = ConfigDict(defer_build=True)

    status: Literal["ok"]


@route(bp, "/health", doc=Operation("Liveness: the function runs", "public", {200: Health}, tags=("service",)))
def health():
    return json_response({"status": "ok"})


@route(bp, "/openapi.json", doc=Operation(
    "This document (OpenAPI 3.1)", "public", {200: dict[str, Any]}, tags=("service",)))
def openapi_document():
    from chalicelib import openapi

    return json_response(openapi.document(bp.current_app))
