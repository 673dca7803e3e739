"""Botocore-level fault injection: fail the Nth call of a (service, operation) with a chosen fault.

The injector replaces ``botocore.endpoint.Endpoint._do_get_response`` — the step
that sends ONE attempt of an API call and parses its answer — for every client
of the process (the app's clients in ``chalicelib.aws``, per-request S3
clients, and moto behind them). Injecting per attempt, below botocore's retry
loop, keeps the client's real retry behaviour: a persistent fault fails every
attempt and exhausts the retries, a transient one fails only the first attempts
and the retry absorbs it. An injected fault never reaches moto, so nothing of
the failed attempt is applied — except ``LOST_RESPONSE``, which applies the
attempt and then loses its answer, the way a read timeout can in production.

``outage(service, fault)`` fails every attempt on a service with one fault until the block ends:
sustained throttling, or (the default, ``READ_TIMEOUT``) a stall, a dependency that accepts
connections and never answers, where each attempt waits out its client's read timeout (recorded
with the back-off botocore chose, not slept).

moto ignores a TransactWriteItems' ``ClientRequestToken``; the injector honours it as DynamoDB
does: an attempt with a token whose transaction was applied is answered success without
reaching moto (so a ``LOST_RESPONSE`` on a transaction is retried the way AWS answers the retry),
and the same token with other parameters is an ``IdempotentParameterMismatchException``.

Calls are numbered per (service, operation) in the order the code makes them;
each call counts once, whatever its retries. ``record`` keeps the sequence of a
clean run so that a test can then fail call k for k = 1..n.
"""
from __future__ import annotations

import contextlib
import json
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterator
from xml.sax.saxutils import escape

from botocore.awsrequest import AWSResponse
from botocore.endpoint import Endpoint, convert_to_response_dict
from botocore.exceptions import EndpointConnectionError, ReadTimeoutError
from botocore.retries.quota import RetryQuota
from botocore.retries.standard import ExponentialBackoff

ALL_ATTEMPTS = None
_CALL_KEY = "katta_fault_call"


@dataclass(frozen=True)
class Fault:
    """What one attempt meets instead of AWS's answer.

    ``status``/``code`` make an error response in the service's own protocol;
    ``raises`` names a transport failure instead; ``reasons`` marks which items
    of a TransactWriteItems call are cancelled and why.
    """

    name: str
    status: int = 0
    code: str = ""
    raises: str = ""  # "read-timeout" or "connection"
    reasons: str = ""  # cancellation reason for the first conditional item of a transaction
    applied: bool = False  # the attempt reaches AWS, only its answer is lost

    @property
    def is_condition(self) -> bool:
        return self.code == "ConditionalCheckFailedException" or self.reasons == "ConditionalCheckFailed"

    def __str__(self) -> str:
        return self.name


THROTTLING = Fault("throttling", 400, "ThrottlingException")
PROVISIONED_THROUGHPUT = Fault("provisioned-throughput", 400, "ProvisionedThroughputExceededException")
INTERNAL_ERROR = Fault("internal-error-500", 500, "InternalServerError")
READ_TIMEOUT = Fault("read-timeout", raises="read-timeout")
CONNECTION_ERROR = Fault("endpoint-connection-error", raises="connection")
LOST_RESPONSE = Fault("lost-response", raises="read-timeout", applied=True)
TRANSACTION_CONFLICT = Fault("transaction-conflict", 400, "TransactionCanceledException",
                             reasons="TransactionConflict")
TRANSACTION_CONDITION = Fault("transaction-condition-failed", 400, "TransactionCanceledException",
                              reasons="ConditionalCheckFailed")
CONDITION_FAILED = Fault("conditional-check-failed", 400, "ConditionalCheckFailedException")
KMS_INTERNAL = Fault("kms-internal", 500, "KMSInternalException")
KMS_DEPENDENCY_TIMEOUT = Fault("kms-dependency-timeout", 503, "DependencyTimeoutException")
STS_THROTTLING = Fault("sts-throttling", 400, "Throttling")
S3_SLOW_DOWN = Fault("s3-slow-down", 503, "SlowDown")

# Faults that mean "AWS is unavailable or shedding load, retry later", per service.
UNAVAILABLE = {
    "dynamodb": (THROTTLING, PROVISIONED_THROUGHPUT, INTERNAL_ERROR, READ_TIMEOUT, CONNECTION_ERROR),
    "kms": (THROTTLING, KMS_INTERNAL, KMS_DEPENDENCY_TIMEOUT, READ_TIMEOUT, CONNECTION_ERROR),
    "sts": (STS_THROTTLING, INTERNAL_ERROR, READ_TIMEOUT, CONNECTION_ERROR),
    "s3": (S3_SLOW_DOWN, INTERNAL_ERROR, READ_TIMEOUT, CONNECTION_ERROR),
}
WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"})


@dataclass(frozen=True)
class Call:
    """One API call as the code made it (its first attempt)."""

    service: str
    operation: str
    nth: int  # 1-based among the calls of this (service, operation)
    conditional: bool  # a write that carries a ConditionExpression (any item, for a transaction)
    # The condition a fault fails (a transaction's first) is a put's on its own fresh key, which the
    # code renews on a collision (it asks for the item it finds, to tell its own earlier attempt apart).
    renews: bool = False
    # The access epoch's ADD after a commit (chalicelib/db/epoch.py): bookkeeping whose failure the
    # request outlives, so a fault on it still ends in the request's own answer.
    best_effort: bool = False

    @property
    def is_write(self) -> bool:
        return self.service == "dynamodb" and self.operation in WRITES

    def __str__(self) -> str:
        return f"{self.service}.{self.operation}#{self.nth}"


@dataclass
class _Plan:
    service: str
    operation: str
    nth: int
    fault: Fault
    attempts: int | None  # how many attempts fail; None = every attempt
    failed_attempts: int = 0


@dataclass(frozen=True)
class FailedAttempt:
    """One attempt that met an outage, with the timeouts its client gave it."""

    call: str  # "service.Operation"
    connect_timeout: float
    read_timeout: float


@dataclass
class Outage:
    services: frozenset[str]
    fault: Fault
    attempts: list[FailedAttempt] = field(default_factory=list)
    backoffs: list[float] = field(default_factory=list)  # seconds botocore would have slept between them

    @property
    def waited(self) -> float:
        """What a stall held its requests: every attempt's whole read timeout, and the back-offs."""
        return sum(a.read_timeout for a in self.attempts) + sum(self.backoffs)


@dataclass
class FaultInjector:
    calls: list[Call] = field(default_factory=list)
    fired: int = 0  # attempts the last ``failing`` block failed (0: its call was never made)
    outage_now: Outage | None = None
    # ClientRequestToken → the parameters of the TransactWriteItems applied with it.
    applied_tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    _plan: _Plan | None = None
    _counts: Counter = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _armed: bool = False

    # --- what a test uses ------------------------------------------------------------------------

    @contextlib.contextmanager
    def record(self) -> Iterator[list[Call]]:
        """Numbers and keeps the calls made inside the block (no fault)."""
        with self._arm(None):
            yield self.calls

    @contextlib.contextmanager
    def failing(self, call: Call | tuple[str, str, int], fault: Fault,
                attempts: int | None = ALL_ATTEMPTS) -> Iterator["FaultInjector"]:
        """Fails ``attempts`` attempts (all by default) of the given call inside the block."""
        service, operation, nth = (call.service, call.operation, call.nth) if isinstance(call, Call) else call
        with self._arm(_Plan(service, operation, nth, fault, attempts)):
            yield self

    @contextlib.contextmanager
    def outage(self, *services: str, fault: Fault = READ_TIMEOUT) -> Iterator[Outage]:
        """Every attempt on ``services`` inside the block meets ``fault``; the outage ends with the block."""
        outage = Outage(frozenset(services), fault)
        self.outage_now = outage
        try:
            yield outage
        finally:
            self.outage_now = None

    # --- the botocore side -----------------------------------------------------------------------

    @contextlib.contextmanager
    def _arm(self, plan: _Plan | None) -> Iterator[None]:
        with self._lock:
            self._plan, self._armed = plan, True
            self.calls, self._counts = [], Counter()
        try:
            yield
        finally:
            with self._lock:
                self.fired = plan.failed_attempts if plan else 0
                self._plan, self._armed = None, False

    def _attempt(self, endpoint: Endpoint, request, operation_model, context, send):
        outage = self.outage_now
        if outage and operation_model.service_model.service_name in outage.services:
            timeout = endpoint.http_session._timeout
            outage.attempts.append(FailedAttempt(f"{operation_model.service_model.service_name}.{operation_model.name}",
                                                 timeout.connect_timeout, timeout.read_timeout))
            return _failed(endpoint, request, operation_model, outage.fault)
        fault = self._fault_for(request, operation_model, context)
        if fault is None:
            return send(endpoint, request, operation_model, context)
        if fault.applied:
            send(endpoint, request, operation_model, context)
        return _failed(endpoint, request, operation_model, fault)

    def _honouring_tokens(self, send):
        """``send`` as DynamoDB answers a transaction whose token it has seen applied."""
        def attempt(endpoint, request, operation_model, context):
            body = _body(request)
            token = body.pop("ClientRequestToken", None)
            if operation_model.name != "TransactWriteItems" or token is None:
                return send(endpoint, request, operation_model, context)
            with self._lock:
                applied = self.applied_tokens.get(token)
            if applied is not None:
                if applied != body:
                    return _answer(endpoint, request, operation_model, 400, {
                        "__type": "IdempotentParameterMismatchException", "message": "injected: token reused"})
                return _answer(endpoint, request, operation_model, 200, {})
            answer, error = send(endpoint, request, operation_model, context)
            if error is None and answer[0].status_code == 200:
                with self._lock:
                    self.applied_tokens[token] = body
            return answer, error
        return attempt

    def _fault_for(self, request, operation_model, context) -> Fault | None:
        if not self._armed:
            return None
        service = operation_model.service_model.service_name
        operation = operation_model.name
        with self._lock:
            # botocore passes one context dict to every attempt of a call.
            call = context.get(_CALL_KEY)
            if call is None:
                self._counts[(service, operation)] += 1
                call = Call(service, operation, self._counts[(service, operation)], _conditional(request),
                            _renews(request), _moves_access_epoch(request))
                context[_CALL_KEY] = call
                self.calls.append(call)
            plan = self._plan
            if plan is None or (plan.service, plan.operation, plan.nth) != (service, operation, call.nth):
                return None
            if plan.attempts is not None and plan.failed_attempts >= plan.attempts:
                return None
            plan.failed_attempts += 1
            return plan.fault


def _body(request) -> dict[str, Any]:
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, TypeError):
        return {}
    return body if isinstance(body, dict) else {}


def _conditional(request) -> bool:
    body = _body(request)
    if "ConditionExpression" in body:
        return True
    return any("ConditionExpression" in body_of(item) for item in body.get("TransactItems", []))


def _renews(request) -> bool:
    body = _body(request)
    failed = body if "ConditionExpression" in body else next(
        (body_of(item) for item in body.get("TransactItems", []) if "ConditionExpression" in body_of(item)), {})
    return "ReturnValuesOnConditionCheckFailure" in failed


def _moves_access_epoch(request) -> bool:
    from chalicelib.db import keys

    key = _body(request).get("Key") or {}
    return key.get("pk", {}).get("S") == keys.ACCESS_EPOCH[0]  # the whole epoch or a vault's


def body_of(transact_item: dict[str, Any]) -> dict[str, Any]:
    return next(iter(transact_item.values()), {})


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_kwargs) -> Iterator[bytes]:
        yield self._body


def _failed(endpoint: Endpoint, request, operation_model, fault: Fault):
    """What botocore's send step returns for an attempt that meets ``fault``."""
    if fault.raises == "read-timeout":
        return None, ReadTimeoutError(endpoint_url=request.url)
    if fault.raises == "connection":
        return None, EndpointConnectionError(endpoint_url=request.url)
    return _error_answer(endpoint, request, operation_model, fault)


def _error_answer(endpoint: Endpoint, request, operation_model, fault: Fault):
    """The error response AWS would send, parsed by botocore's own parser for the protocol."""
    protocol = operation_model.service_model.resolved_protocol
    message = f"injected {fault.name}"
    if protocol in ("json", "smithy-rpc-v2-cbor"):
        document: dict[str, Any] = {"__type": fault.code, "message": message}
        if fault.reasons:
            document["CancellationReasons"] = _cancellation_reasons(request, fault.reasons)
        return _answer(endpoint, request, operation_model, fault.status, document)
    if protocol == "query":
        body = (f"<ErrorResponse><Error><Type>Sender</Type><Code>{fault.code}</Code>"
                f"<Message>{escape(message)}</Message></Error><RequestId>injected</RequestId></ErrorResponse>").encode()
        headers = {"Content-Type": "text/xml"}
    else:  # rest-xml (S3)
        body = f"<Error><Code>{fault.code}</Code><Message>{escape(message)}</Message></Error>".encode()
        headers = {"Content-Type": "application/xml"}
    return _parsed(endpoint, request, operation_model, fault.status, body, headers)


def _answer(endpoint: Endpoint, request, operation_model, status: int, document: dict[str, Any]):
    """A JSON-protocol answer (DynamoDB's, KMS's), parsed as botocore parses AWS's."""
    return _parsed(endpoint, request, operation_model, status, json.dumps(document).encode(),
                   {"Content-Type": "application/x-amz-json-1.0"})


def _parsed(endpoint: Endpoint, request, operation_model, status: int, body: bytes, headers: dict[str, str]):
    protocol = operation_model.service_model.resolved_protocol
    http_response = AWSResponse(request.url, status, headers, _Raw(body))
    response_dict = convert_to_response_dict(http_response, operation_model)
    parser = endpoint._response_parser_factory.create_parser(protocol)
    parsed = parser.parse(response_dict, operation_model.output_shape)
    endpoint._add_modeled_error_fields(response_dict, parsed, operation_model, parser)
    return (http_response, parsed), None


def _cancellation_reasons(request, reason: str) -> list[dict[str, str]]:
    """One reason per item, as DynamoDB sends them: the first conditional item carries ``reason``."""
    items = json.loads(request.body or b"{}").get("TransactItems", [])
    target = next((i for i, item in enumerate(items) if "ConditionExpression" in body_of(item)), 0)
    return [{"Code": reason, "Message": "injected"} if i == target else {"Code": "None"} for i in range(len(items))]


@contextlib.contextmanager
def installed() -> Iterator[FaultInjector]:
    """Installs an injector for every botocore client of the process; retries without back-off
    and without a retry quota (a test injects more faults than a client's quota would retry).

    Outside ``record``/``failing`` blocks it passes every call through untouched,
    so test bookkeeping (the Scan of a table snapshot) is neither counted nor failed.
    """
    injector = FaultInjector()
    original_send = Endpoint._do_get_response
    original_delay = ExponentialBackoff.delay_amount
    original_acquire = RetryQuota.acquire

    send = injector._honouring_tokens(original_send)

    def attempt(endpoint, request, operation_model, context):
        return injector._attempt(endpoint, request, operation_model, context, send)

    def delay(backoff, context):
        if injector.outage_now:
            injector.outage_now.backoffs.append(original_delay(backoff, context))
        return 0

    Endpoint._do_get_response = attempt
    ExponentialBackoff.delay_amount = delay
    RetryQuota.acquire = lambda self, capacity_amount: True
    try:
        yield injector
    finally:
        Endpoint._do_get_response = original_send
        ExponentialBackoff.delay_amount = original_delay
        RetryQuota.acquire = original_acquire
