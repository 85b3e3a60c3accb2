"""The SQS HTTP application: from an HTTP request to an HTTP response.

Routing: a POST with ``X-Amz-Target: AmazonSQS.<Action>`` is the JSON 1.0
protocol (the path is ignored); any other GET or POST is the Query protocol,
its parameters in the query string and/or a form body, sent to ``/`` or to a
queue URL.  Then authentication (SigV4, when credentials are configured), the
action, and the response or error in the request's protocol.  Also
``GET /_streamcore/queues`` (queue counts and oldest-message ages as JSON)
and ``GET /metrics`` (the same in Prometheus text format).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Awaitable
from typing import Any

import orjson

from ...errors import StreamcoreError
from ...queue import QueueService
from ...queue.errors import QueueError, from_storage
from ...queue.messages import format_message_id
from . import codec
from .actions import ACTIONS, HANDLERS, Context, Output
from .errors import JSON_TYPE, XML_TYPE, Fault, json_error, query_error
from .http import Request, Response
from .shapes import ACCOUNT_ACTIONS, INPUTS
from .sigv4 import AuthError, Verifier, credential_scope, parse_authorization

log = logging.getLogger("streamcore.sqs")
_REGION = re.compile(r"[a-z0-9-]{1,32}\Z")
_TARGET_PREFIX = "AmazonSQS."


class SqsApp:
    def __init__(self, service: QueueService, *, region: str, account_id: str,
                 advertised_url: str | None = None, verifier: Verifier | None = None,
                 default_host: str = "127.0.0.1") -> None:
        self.service = service
        self.region = region
        self.account_id = account_id
        self.advertised_url = advertised_url.rstrip("/") if advertised_url else None
        self.verifier = verifier
        self.default_host = default_host
        self._queues: dict[tuple[str, str, str], Any] = {}

    # ------------------------------------------------------------------ entry points

    def handle(self, req: Request) -> Response | Awaitable[Response]:
        """The response, or (a receive that waits, or writes still to sync) an
        awaitable of it."""
        resp = self._handle(req)
        unsynced = self.service.take_unsynced()
        if unsynced:
            return self._after_sync(unsynced, resp)
        return resp

    async def _after_sync(self, unsynced: list[tuple[Any, int]],
                          resp: Response | Awaitable[Response]) -> Response:
        """Acknowledge only once what the request wrote is on disk (flush=always)."""
        ends: dict[int, tuple[Any, int]] = {}
        for log, end in unsynced:
            prev = ends.get(id(log))
            if prev is None or prev[1] < end:
                ends[id(log)] = (log, end)
        try:
            for log, end in ends.values():
                await log.wait_durable_async(end)
        except Exception as exc:  # noqa: BLE001 - a failed sync: the write is not acknowledged
            log_error = self._fault(exc)
            return self.refusal(None, 500, log_error.message)
        if not isinstance(resp, Response):
            resp = await resp
            more = self.service.take_unsynced()
            if more:
                return await self._after_sync(more, resp)
        return resp

    def _handle(self, req: Request) -> Response | Awaitable[Response]:
        request_id = new_request_id()
        path, _, query = req.url.partition(b"?")
        target = req.header("x-amz-target")
        if req.method == "POST" and target is not None:
            return self._json(req, target, request_id)
        if req.method in ("GET", "POST"):
            if req.method == "GET" and not query:
                special = self._special(path)
                if special is not None:
                    return special
            return self._query(req, path, query, request_id)
        fault = Fault("UnsupportedOperation", 405, f"Method {req.method[:16]} is not supported.",
                      "AWS.SimpleQueueService.UnsupportedOperation")
        return query_error(fault, request_id)

    def refusal(self, req: Request | None, status: int, reason: str) -> Response:
        """What the HTTP layer answers when it refuses a request itself."""
        codes = {400: "MalformedHttpRequest", 408: "RequestTimeout",
                 413: "RequestEntityTooLarge", 431: "RequestHeaderFieldsTooLarge",
                 503: "ServiceUnavailable", 500: "InternalError"}
        fault = Fault(codes.get(status, "InternalError"), status, reason)
        request_id = new_request_id()
        if req is not None and any(n == "x-amz-target" for n, _ in req.headers):
            return json_error(fault, request_id)
        return query_error(fault, request_id)

    # ------------------------------------------------------------------ protocols

    def _json(self, req: Request, target: str, request_id: str
              ) -> Response | Awaitable[Response]:
        try:
            if not target.startswith(_TARGET_PREFIX) or \
                    target[len(_TARGET_PREFIX):] not in ACTIONS:
                raise Fault("UnknownOperationException", 400,
                            f"The operation {target[:64]} is not known.")
            action = target[len(_TARGET_PREFIX):]
            ctx = self._context(req, None)
            params = codec.decode_json(req.body, INPUTS[action])
            output = HANDLERS[action](ctx, params)
        except Exception as exc:  # noqa: BLE001 - every error becomes an SQS error response
            return json_error(self._fault(exc), request_id)
        if output is None or isinstance(output, dict):  # answered now (else: a long poll)
            return self._json_ok(output, request_id)
        return self._json_later(output, request_id)

    @staticmethod
    def _json_ok(output: Output, request_id: str) -> Response:
        body = codec.encode_json(output if output is not None else {})
        return Response(200, body, [("Content-Type", JSON_TYPE), ("x-amzn-RequestId", request_id)])

    async def _json_later(self, pending: Awaitable[Output], request_id: str) -> Response:
        try:
            output = await pending
        except Exception as exc:  # noqa: BLE001
            return json_error(self._fault(exc), request_id)
        return self._json_ok(output, request_id)

    def _query(self, req: Request, path: bytes, query: bytes,
               request_id: str) -> Response | Awaitable[Response]:
        action = None
        try:
            params = codec.parse_form(query.decode("latin-1")) if query else []
            if req.method == "POST" and req.body:
                try:
                    text = req.body.decode("ascii")
                except UnicodeDecodeError:
                    raise Fault("MalformedQueryString", 400,
                                "A form body must be URL-encoded ASCII.") from None
                params += codec.parse_form(text)
            action = next((v for k, v in params if k == "Action"), None)
            queue_path = self._queue_path(path)
            if action is None:
                if queue_path is not None and req.method == "GET":
                    raise Fault("UnknownOperationException", 404, "")
                raise Fault("MissingAction", 400, "The request must contain the parameter Action.")
            if action not in ACTIONS:
                raise Fault("InvalidAction", 400,
                            f"The action {action[:64]} is not valid for this endpoint.")
            if queue_path is not None and action in ACCOUNT_ACTIONS:
                raise Fault("InvalidAction", 400,
                            f"The action {action} is not valid for this endpoint.")
            ctx = self._context(req, queue_path)
            shape = INPUTS[action]
            if queue_path is not None and "QueueUrl" in shape.members:
                params.append(("QueueUrl", queue_path))  # a QueueUrl parameter wins
            members = codec.decode_query(params, shape)
            output = HANDLERS[action](ctx, members)
        except Exception as exc:  # noqa: BLE001 - every error becomes an SQS error response
            return self._query_fault(exc, request_id)
        if output is None or isinstance(output, dict):
            return self._query_ok(action, output, request_id)
        return self._query_later(action, output, request_id)

    @staticmethod
    def _query_ok(action: str, output: Output, request_id: str) -> Response:
        body = codec.encode_xml(action, output, request_id)
        return Response(200, body, [("Content-Type", XML_TYPE), ("x-amzn-RequestId", request_id)])

    async def _query_later(self, action: str, pending: Awaitable[Output],
                           request_id: str) -> Response:
        try:
            output = await pending
        except Exception as exc:  # noqa: BLE001
            return self._query_fault(exc, request_id)
        return self._query_ok(action, output, request_id)

    def _query_fault(self, exc: Exception, request_id: str) -> Response:
        fault = self._fault(exc)
        if fault.code == "UnknownOperationException" and fault.status == 404:
            return Response(404, b"<UnknownOperationException/>",
                            [("Content-Type", XML_TYPE), ("x-amzn-RequestId", request_id)])
        return query_error(fault, request_id)

    # ------------------------------------------------------------------ common

    def _queue_path(self, path: bytes) -> str | None:
        """The queue URL path a Query request was sent to, or None for ``/``."""
        text = path.decode("latin-1")
        if self.advertised_url is not None:
            from urllib.parse import urlsplit

            prefix = urlsplit(self.advertised_url).path.rstrip("/")
            if prefix and text.startswith(prefix):
                text = text[len(prefix):]
        return text if text.strip("/") else None

    def _context(self, req: Request, queue_path: str | None) -> Context:
        header = req.header("authorization")
        access_key: str | None = None
        scope_region: str | None = None
        region = self.region
        if self.verifier is not None:
            auth = parse_authorization(header)
            self.verifier.verify(req, auth)
            assert auth is not None
            access_key, scope_region = auth.access_key, auth.region
        else:
            access_key, scope_region = credential_scope(header)
        if scope_region is not None and _REGION.match(scope_region):
            region = scope_region
        if self.advertised_url is not None:
            base = self.advertised_url
        else:
            host = req.header("host") or self.default_host
            if "/" in host or " " in host or not host.isprintable():
                host = self.default_host
            base = f"http://{host}"
        return Context(self.service, region, self.account_id, base, access_key, queue_path,
                       self._queues)

    def _fault(self, exc: Exception) -> Fault:
        if isinstance(exc, Fault):
            return exc
        if isinstance(exc, QueueError):
            if exc.status >= 500:
                log.error("internal error: %s", exc.message, exc_info=exc.__cause__)
            return Fault.of(exc)
        if isinstance(exc, AuthError):
            return Fault(exc.code, exc.status, exc.message)
        if isinstance(exc, StreamcoreError):
            err = from_storage(exc)
            log.error("storage error: %s", exc)
            return Fault.of(err)
        log.exception("unexpected error")
        return Fault("InternalError", 500, "An internal error occurred.")

    def _special(self, path: bytes) -> Response | None:
        if path == b"/_streamcore/queues":
            return Response(200, orjson.dumps(queue_metrics(self.service)),
                            [("Content-Type", "application/json")])
        if path == b"/metrics":
            return Response(200, prometheus(queue_metrics(self.service)).encode(),
                            [("Content-Type", "text/plain; version=0.0.4")])
        return None


def new_request_id() -> str:
    return format_message_id(os.urandom(16))


def queue_metrics(service: QueueService) -> list[dict[str, Any]]:
    """Per queue: the three counts and the age of the oldest message (seconds)."""
    out = []
    for q in service.all_queues():
        try:
            visible, inflight, delayed = q.counts()
            age = q.oldest_message_age()
        except QueueError:
            continue  # deleted meanwhile
        out.append({"queue": q.name, "region": q.region, "account": q.account, "arn": q.arn,
                    "visible": visible, "in_flight": inflight, "delayed": delayed,
                    "oldest_message_age_seconds": age})
    return out


def prometheus(rows: list[dict[str, Any]]) -> str:
    metrics = (
        ("streamcore_sqs_messages_visible", "visible", "ApproximateNumberOfMessages"),
        ("streamcore_sqs_messages_in_flight", "in_flight", "ApproximateNumberOfMessagesNotVisible"),
        ("streamcore_sqs_messages_delayed", "delayed", "ApproximateNumberOfMessagesDelayed"),
        ("streamcore_sqs_oldest_message_age_seconds", "oldest_message_age_seconds",
         "ApproximateAgeOfOldestMessage (0 when empty)"),
    )
    lines = []
    for metric, key, help_text in metrics:
        lines.append(f"# HELP {metric} {help_text}")
        lines.append(f"# TYPE {metric} gauge")
        for r in rows:
            labels = f'queue="{r["queue"]}",region="{r["region"]}",account="{r["account"]}"'
            lines.append(f"{metric}{{{labels}}} {r[key] or 0}")
    return "\n".join(lines) + "\n"
