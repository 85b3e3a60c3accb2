"""Request decoding and response encoding for both SQS protocols (no I/O).

Requests of either protocol decode to one form, checked against the action's
input shape (``shapes.INPUTS``): the JSON protocol's member names, Python
types, blobs as bytes.  Responses are built in that form too (blobs as base64
text) and encoded as JSON, or as Query XML with the flattened element names
of ``shapes.XML_*``.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import parse_qsl

import orjson

from ...ascii_numbers import is_digits, parse_int
from ...queue.errors import InvalidParameterValueError, MissingParameterError
from .errors import XMLNS, Fault, xml_text
from .shapes import BLOB, BOOLEAN, INTEGER, STRING, ListOf, MapOf, Shape, Struct

MAX_QUERY_FIELDS = 4096
MAX_LIST = 1000  # members of one list or map accepted before refusing the request


def _type_error(path: str, value: object, expected: str) -> InvalidParameterValueError:
    shown = repr(value)
    if len(shown) > 64:
        shown = shown[:61] + "..."
    return InvalidParameterValueError(
        f"Value {shown} for parameter {path} is invalid. Reason: must be {expected}.")


def _missing(name: str) -> MissingParameterError:
    return MissingParameterError(f"The request must contain the parameter {name}.")


# ------------------------------------------------------------------ JSON


def decode_json(body: bytes, shape: Struct) -> dict[str, Any]:
    """The request members of a JSON 1.0 body; SerializationException if it
    is not a JSON object, InvalidParameterValue/MissingParameter by shape."""
    if not body.strip():
        obj: Any = {}
    else:
        try:
            obj = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise Fault("SerializationException", 400,
                        "The request body is not valid JSON.") from None
    if not isinstance(obj, dict):
        raise Fault("SerializationException", 400, "The request body must be a JSON object.")
    return _json_struct(obj, shape, "")


def _json_value(value: Any, shape: Shape, path: str) -> Any:
    if shape is STRING:
        if not isinstance(value, str):
            raise _type_error(path, value, "a string")
        return value
    if shape is INTEGER:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _type_error(path, value, "an integer")
        if not -(2**63) <= value < 2**63:
            raise _type_error(path, value, "a 64-bit integer")
        return value
    if shape is BOOLEAN:
        if not isinstance(value, bool):
            raise _type_error(path, value, "a boolean")
        return value
    if shape is BLOB:
        if not isinstance(value, str):
            raise _type_error(path, value, "base64 text")
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise _type_error(path, value, "base64 text") from None
    if isinstance(shape, ListOf):
        if not isinstance(value, list):
            raise _type_error(path, value, "a list")
        if len(value) > MAX_LIST:
            raise _type_error(path, "...", f"at most {MAX_LIST} items")
        member = shape.member
        if isinstance(member, Struct) and all(type(v) is dict for v in value):
            try:  # batch entries: no path to name unless one is wrong
                return [_json_struct(v, member, "") for v in value]
            except (InvalidParameterValueError, MissingParameterError):
                pass  # again, naming where
        return [_json_value(v, member, f"{path}.{i + 1}") for i, v in enumerate(value)]
    if isinstance(shape, MapOf):
        if not isinstance(value, dict):
            raise _type_error(path, value, "a map")
        if len(value) > MAX_LIST:
            raise _type_error(path, "...", f"at most {MAX_LIST} entries")
        return {k: _json_value(v, shape.value, f"{path}.{k}") for k, v in value.items()}
    assert isinstance(shape, Struct)
    if not isinstance(value, dict):
        raise _type_error(path, value, "a structure")
    return _json_struct(value, shape, path)


def _json_struct(obj: dict[str, Any], shape: Struct, path: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, member in shape.members.items():
        v = obj.get(name)
        if v is None:
            continue
        if member is STRING and type(v) is str:
            out[name] = v  # the common case: nothing to convert, no path to name
        else:
            out[name] = _json_value(v, member, f"{path}.{name}" if path else name)
    for name in shape.required:
        if name not in out:
            raise _missing(name)
    return out


def encode_json(output: dict[str, Any]) -> bytes:
    return orjson.dumps(output)


# ------------------------------------------------------------------ Query


def parse_form(text: str) -> list[tuple[str, str]]:
    """``key=value&...`` pairs, percent-decoded (UTF-8, strictly)."""
    try:
        return parse_qsl(text, keep_blank_values=True, strict_parsing=False,
                         errors="strict", max_num_fields=MAX_QUERY_FIELDS)
    except UnicodeDecodeError:
        raise InvalidParameterValueError("The request holds invalid UTF-8.") from None
    except ValueError:
        raise InvalidParameterValueError(
            f"The request has more than {MAX_QUERY_FIELDS} parameters.") from None


_LEAF = None  # where a node of the parameter tree keeps its own value (never a key part)


Node = dict[str | None, Any]


def _tree(params: list[tuple[str, str]]) -> Node:
    """``A.1.B=x`` parameters as nested dicts {"A": {"1": {"B": {None: "x"}}}};
    the first of repeated parameters wins."""
    root: Node = {}
    for key, value in params:
        node = root
        for part in key.split("."):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            node = child
        node.setdefault(_LEAF, value)
    return root


def decode_query(params: list[tuple[str, str]], shape: Struct) -> dict[str, Any]:
    """The request members of Query parameters (``Action`` and the like aside)."""
    return _query_struct(_tree(params), shape, "")


def _query_scalar(node: Node, shape: str, path: str) -> Any:
    text = node.get(_LEAF)
    if text is None:
        raise _type_error(path, None, shape)
    if shape is STRING:
        return text
    if shape is INTEGER:
        t = text.strip()
        n = parse_int(t) if len(t) <= 20 else None
        if n is None:
            raise _type_error(path, text, "an integer")
        return n
    if shape is BOOLEAN:
        if text.lower() not in ("true", "false"):
            raise _type_error(path, text, "true or false")
        return text.lower() == "true"
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise _type_error(path, text, "base64 text") from None


def _indexed(node: Node, path: str) -> list[tuple[int, Node]]:
    items = []
    for k, child in node.items():
        if k is None:
            continue
        if not is_digits(k) or len(k) > 9 or int(k) < 1:
            raise _type_error(f"{path}.{k}", k, "a numbered member (1, 2, ...)")
        items.append((int(k), child))
    if len(items) > MAX_LIST:
        raise _type_error(path, "...", f"at most {MAX_LIST} members")
    return sorted(items, key=lambda kv: kv[0])


def _query_value(node: Node, shape: Shape, path: str) -> Any:
    if isinstance(shape, str):
        return _query_scalar(node, shape, path)
    if isinstance(shape, ListOf):
        return [_query_value(child, shape.member, f"{path}.{i}")
                for i, child in _indexed(node, path)]
    if isinstance(shape, MapOf):
        out: dict[str, Any] = {}
        for i, child in _indexed(node, path):
            key_node = child.get(shape.key_name)
            value_node = child.get(shape.value_name)
            if key_node is None or _LEAF not in key_node:
                raise _missing(f"{path}.{i}.{shape.key_name}")
            if value_node is None:
                raise _missing(f"{path}.{i}.{shape.value_name}")
            out.setdefault(key_node[_LEAF], _query_value(
                value_node, shape.value, f"{path}.{i}.{shape.value_name}"))
        return out
    return _query_struct(node, shape, path)


def _query_struct(node: Node, shape: Struct, path: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, member in shape.members.items():
        for qname in shape.query_names.get(name, (name,)):
            child = node.get(qname)
            if child is not None:
                out[name] = _query_value(child, member, f"{path}.{qname}" if path else qname)
                break
    for name in shape.required:
        if name not in out:
            raise _missing(name)
    return out


def _xml(key: str, value: Any, action: str, out: list[str]) -> None:
    if value is None:
        return
    if isinstance(value, bool):
        out.append(f"<{key}>{'true' if value else 'false'}</{key}>")
    elif isinstance(value, (int, float)):
        out.append(f"<{key}>{value}</{key}>")
    elif isinstance(value, str):
        out.append(f"<{key}>{xml_text(value)}</{key}>")
    elif isinstance(value, list):
        from .shapes import XML_LIST_ELEMENTS

        elem = XML_LIST_ELEMENTS.get(key) or f"{action}ResultEntry"
        for item in value:
            _xml(elem, item, action, out)
    elif isinstance(value, dict):
        from .shapes import XML_MAP_ELEMENTS

        spec = XML_MAP_ELEMENTS.get(key)
        if spec is not None and key not in ("Failed",):
            elem, kname, vname = spec
            for k, v in value.items():
                out.append(f"<{elem}><{kname}>{xml_text(k)}</{kname}>")
                _xml(vname, v, action, out)
                out.append(f"</{elem}>")
        else:
            out.append(f"<{key}>")
            for k, v in value.items():
                _xml(k, v, action, out)
            out.append(f"</{key}>")


def encode_xml(action: str, output: dict[str, Any] | None, request_id: str) -> bytes:
    out = [f'<?xml version="1.0"?><{action}Response xmlns="{XMLNS}">']
    if output is not None:
        out.append(f"<{action}Result>")
        for k, v in output.items():
            _xml(k, v, action, out)
        out.append(f"</{action}Result>")
    out.append(f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>"
               f"</{action}Response>")
    return "".join(out).encode()
