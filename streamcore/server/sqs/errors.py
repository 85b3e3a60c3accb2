"""SQS error responses, in each protocol's exact format.

JSON 1.0: the status, ``{"__type": "com.amazonaws.sqs#<Code>", "message": ...}``
and the header ``x-amzn-query-error: <QueryCode>;Sender`` (``;Receiver`` for a
5xx), which is how botocore gives both ``Error.Code`` (the legacy code) and
``client.exceptions.<Code>``.  Query: ``<ErrorResponse>`` with the legacy code.
Every error the service raises is a ``QueueError`` and carries both codes;
``Fault`` is for what the HTTP layer itself refuses (authentication, framing,
unknown actions).
"""

from __future__ import annotations

from xml.sax.saxutils import escape

import orjson

from ...queue.errors import QueueError
from .http import Response

JSON_TYPE = "application/x-amz-json-1.0"
XML_TYPE = "text/xml"
XMLNS = "http://queue.amazonaws.com/doc/2012-11-05/"


class Fault(Exception):
    """An error answer: ``code`` (JSON ``__type``), ``query_code`` (legacy), HTTP ``status``."""

    def __init__(self, code: str, status: int, message: str,
                 query_code: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.message = message
        self.query_code = query_code if query_code is not None else code

    @classmethod
    def of(cls, exc: QueueError) -> Fault:
        return cls(exc.code, exc.status, exc.message, exc.query_code)


def xml_text(value: str) -> str:
    """Text content escaped for XML, carriage returns kept (as &#xD;)."""
    return escape(value).replace("\r", "&#xD;")


def json_error(fault: Fault, request_id: str) -> Response:
    side = "Receiver" if fault.status >= 500 else "Sender"
    body = orjson.dumps({"__type": f"com.amazonaws.sqs#{fault.code}", "message": fault.message})
    return Response(fault.status, body, [
        ("Content-Type", JSON_TYPE),
        ("x-amzn-RequestId", request_id),
        ("x-amzn-query-error", f"{fault.query_code};{side}"),
    ])


def query_error(fault: Fault, request_id: str) -> Response:
    side = "Receiver" if fault.status >= 500 else "Sender"
    body = (f'<?xml version="1.0"?><ErrorResponse xmlns="{XMLNS}"><Error><Type>{side}</Type>'
            f"<Code>{xml_text(fault.query_code)}</Code><Message>{xml_text(fault.message)}"
            f"</Message><Detail/></Error><RequestId>{request_id}</RequestId></ErrorResponse>")
    return Response(fault.status, body.encode(), [
        ("Content-Type", XML_TYPE),
        ("x-amzn-RequestId", request_id),
    ])
