"""Routes of the Katta contract this service does not offer: a clear 501 problem, never a stack trace.

Licences and billing cannot change here (their reads answer "no licence": katta/licence.py); legacy
(vault format 8) devices and keys are out of scope; accounts are managed in the
identity provider, not through the hub.
"""
from chalicelib.apidoc import Operation
from chalicelib.errors import NotImplementedYet
from chalicelib.katta.blueprint import bp
from chalicelib.web import route

LICENCE = "licences and billing do not exist in Katta Serverless: there is nothing to change"
LEGACY = "legacy vaults (format 8) and legacy devices are not supported by Katta Serverless"
ACCOUNTS = "accounts are created and edited in the identity provider, not through this API"

OUT_OF_SCOPE = [
    ("/api/billing/token", ("PUT",), LICENCE),
    ("/api/license/refresh", ("POST",), LICENCE),
    ("/api/license/trial", ("PUT",), LICENCE),
    ("/api/devices/has-legacy-devices", ("GET",), LEGACY),
    ("/api/devices/legacy-devices", ("GET",), LEGACY),
    ("/api/devices/{deviceId}/legacy-access-tokens", ("GET",), LEGACY),
    ("/api/devices/{deviceId}/legacy-device", ("DELETE",), LEGACY),
    ("/api/vaults/{vaultId}/keys/{deviceId}", ("GET",), LEGACY),
    ("/api/vaults/{vaultId}/claim-ownership", ("POST",), LEGACY),
    ("/api/users/me-with-legacy-devices-and-access", ("GET",), LEGACY),
    ("/api/users", ("POST",), ACCOUNTS),
    ("/api/users/{id}", ("GET", "PUT", "DELETE"), ACCOUNTS),
]


def _refuse(message: str):
    def view(**_path):
        raise NotImplementedYet(message)
    return view


for _path, _methods, _message in OUT_OF_SCOPE:
    _view = _refuse(_message)
    _view.__name__ = "out_of_scope_" + "_".join(filter(None, _path.replace("-", "_").replace("{", "").replace(
        "}", "").split("/"))) + "_" + "_".join(m.lower() for m in _methods)
    # Anybody gets the 501, signed in or not: nothing here reads a token.
    _doc = Operation(_message, "public", {}, error_statuses=(501,), tags=("Out of scope",))
    route(bp, _path, _methods, content_types=["*/*"], doc=_doc)(_view)
