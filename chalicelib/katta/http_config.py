from chalicelib import deps
from chalicelib.apidoc import Operation
from chalicelib.katta import config
from chalicelib.katta.blueprint import bp
from chalicelib.settings import get_settings
from chalicelib.web import json_response, route


@route(bp, "/api/config", doc=Operation(
    "what a client needs before it logs in: identity provider endpoints, API level", "public", {200: "ConfigDto"},
    tags=("Config Resource",)))
def get_config():
    return json_response(config.client_config(get_settings()))


@route(bp, "/api/version", doc=Operation(
    "the hub version", "public", {200: "VersionDto"}, tags=("Version Resource",)))
def get_version():
    return json_response(config.version(get_settings()))


@route(bp, "/api/license/user-info", role="user", doc=Operation(
    "the licence as a user sees it: no seat limit, no expiry (this deployment has no licence)", "bearer",
    {200: "LicenseUserInfoDto"}, tags=("License Resource",)))
def get_license_user_info(principal):
    return json_response(deps.licence_service().user_info())


@route(bp, "/api/billing", role="admin", doc=Operation(
    "the billing information: nothing to buy, no licence key (admin)", "bearer", {200: "BillingDto"},
    tags=("Billing Resource",)))
def get_billing(principal):
    return json_response(deps.licence_service().billing())
