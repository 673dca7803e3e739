"""``/api/admin/auditlog``: this service's own events (key rings, POP keys, the secret server, storage,
the token service), apart from Katta's (``GET /api/auditlog``), with the same filters and paging."""
from chalicelib import audit, deps
from chalicelib.apidoc import Operation
from chalicelib.audit.blueprint import bp
from chalicelib.katta import params
from chalicelib.web import json_response, route


@route(bp, "/api/admin/auditlog", role="admin", doc=Operation(
    "one page of this service's own events in a period, newest first unless order=asc (admin)", "bearer",
    {200: "list[ServiceEventDto]"}, query="ServiceAuditLogQuery", tags=("Audit Log Resource",)))
def get_service_audit_log(principal):
    query = params.audit_log_query(bp.current_request, audit.SERVICE)
    return json_response(deps.audit_log().events(
        query.start, query.end, log=audit.SERVICE, descending=query.descending, after_id=query.after_id,
        page_size=query.page_size, types=query.types))
