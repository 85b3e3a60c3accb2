"""The protocol layer without a server: MD5 digests against an independent
implementation, SigV4 verification against botocore's own signer, and
bounded fuzzing of both request decoders and the XML encoder."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import given, settings
from hypothesis import strategies as st
from sqs_harness import attributes_md5

from streamcore.queue.errors import QueueError
from streamcore.queue.messages import encode_attributes, md5_hex
from streamcore.server.sqs import codec
from streamcore.server.sqs.errors import Fault
from streamcore.server.sqs.http import Request
from streamcore.server.sqs.shapes import INPUTS
from streamcore.server.sqs.sigv4 import AuthError, Verifier, parse_authorization

# ------------------------------------------------------------------ MD5


def test_md5_known_answers() -> None:
    buf, _ = encode_attributes({"k": {"DataType": "String", "StringValue": "v"}})
    assert md5_hex(buf) == "0a77b0642718c3d9dd47090567d11e0d"
    buf, _ = encode_attributes({"a": {"DataType": "Number.int", "StringValue": "42"},
                                "b": {"DataType": "Binary", "BinaryValue": b"\x00\x01"}})
    assert md5_hex(buf) == "44d912e4ef6063f9756fb3eaf3805adf"
    assert md5_hex(b"hello") == "5d41402abc4b2a76b9719d911017c592"


_names = st.from_regex(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,20}[A-Za-z0-9_-]", fullmatch=True).filter(
    lambda n: ".." not in n and not n.lower().startswith(("aws.", "amazon.")))
_text = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=30)
_custom = st.one_of(st.just(""), st.from_regex(r"\.[A-Za-z0-9_-]{1,10}", fullmatch=True))
_value = st.one_of(
    st.tuples(st.just("String"), _custom, _text).map(
        lambda t: {"DataType": t[0] + t[1], "StringValue": t[2]}),
    st.tuples(_custom, st.integers(-10**30, 10**30)).map(
        lambda t: {"DataType": "Number" + t[0], "StringValue": str(t[1])}),
    st.tuples(_custom, st.binary(min_size=1, max_size=40)).map(
        lambda t: {"DataType": "Binary" + t[0], "BinaryValue": t[1]}),
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_names, _value, min_size=1, max_size=10))
def test_md5_matches_an_independent_computation(attrs: dict[str, dict[str, Any]]) -> None:
    buf, size = encode_attributes(attrs)
    assert md5_hex(buf) == attributes_md5(attrs)
    assert size == sum(len(k.encode()) + len(v["DataType"].encode()) +
                       len(v.get("BinaryValue") or v.get("StringValue", "").encode())
                       for k, v in attrs.items())

# ------------------------------------------------------------------ SigV4


def signed(method: str, url: str, body: bytes = b"", headers: dict[str, str] | None = None,
           secret: str = "s3cret", region: str = "us-east-1") -> Request:
    """A request signed by botocore, as the server would receive it."""
    aws = AWSRequest(method, url, data=body, headers=headers or {})
    SigV4Auth(Credentials("AKIDUNIT", secret), "sqs", region).add_auth(aws)
    prepared = aws.prepare()
    parts = urlsplit(prepared.url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    hdrs = [(k.lower(), str(v)) for k, v in prepared.headers.items()]
    hdrs.append(("host", parts.netloc))
    return Request(method, target.encode(), hdrs, prepared.body or b"")


@pytest.mark.parametrize("method,url,body,headers", [
    ("POST", "http://127.0.0.1:9324/", '{"QueueName": "café ✓"}'.encode(),
     {"X-Amz-Target": "AmazonSQS.CreateQueue", "Content-Type": "application/x-amz-json-1.0"}),
    ("POST", "http://localhost:4566/queue/us-east-1/000000000000/q",
     urlencode({"Action": "SendMessage", "MessageBody": "a b&c=d/é"}).encode(),
     {"Content-Type": "application/x-www-form-urlencoded"}),
    ("GET", "http://127.0.0.1:9324/queue/eu-west-1/000000000000/q?" + urlencode(
        {"Action": "ReceiveMessage", "AttributeName.1": "All", "X": "a b/~*"},
        quote_via=quote), b"", {}),
])
def test_sigv4_accepts_botocore_signatures(method: str, url: str, body: bytes,
                                           headers: dict[str, str]) -> None:
    v = Verifier({"AKIDUNIT": "s3cret"})
    req = signed(method, url, body, headers)
    v.verify(req, parse_authorization(req.header("authorization")))
    wrong = signed(method, url, body, headers, secret="other")
    with pytest.raises(AuthError) as e:
        v.verify(wrong, parse_authorization(wrong.header("authorization")))
    assert e.value.code == "SignatureDoesNotMatch" and e.value.status == 403
    if body:
        tampered = Request(req.method, req.url, req.headers, body + b" ")
        with pytest.raises(AuthError) as e:
            v.verify(tampered, parse_authorization(tampered.header("authorization")))
        assert e.value.code == "SignatureDoesNotMatch"
    with pytest.raises(AuthError) as e:
        v.verify(req, parse_authorization(req.header("authorization")), now=time.time() + 1200)
    assert e.value.code == "RequestExpired"
    with pytest.raises(AuthError) as e:
        Verifier({"OTHER": "x"}).verify(req, parse_authorization(req.header("authorization")))
    assert e.value.code == "InvalidClientTokenId"


def test_sigv4_malformed_headers() -> None:
    for bad in ("AWS4-HMAC-SHA256", "AWS4-HMAC-SHA256 Credential=a/b", "Basic abc",
                "AWS4-HMAC-SHA256 Credential=a/b/c/d/e, SignedHeaders=host"):
        with pytest.raises(AuthError) as e:
            parse_authorization(bad)
        assert e.value.code == "IncompleteSignature"
    with pytest.raises(AuthError) as e:
        Verifier({"a": "b"}).verify(Request("GET", b"/", [], b""), None)
    assert e.value.code == "MissingAuthenticationToken"

# ------------------------------------------------------------------ decoders


def _decode_json_or_error(body: bytes, action: str) -> None:
    try:
        out = codec.decode_json(body, INPUTS[action])
    except (QueueError, Fault):
        return
    assert isinstance(out, dict)


_json_scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=10) | st.floats(
    allow_nan=False, allow_infinity=False)
_json_any = st.recursive(_json_scalars, lambda c: st.lists(c, max_size=4) | st.dictionaries(
    st.sampled_from(["QueueUrl", "Entries", "Id", "MessageBody", "MessageAttributes",
                     "DataType", "StringValue", "BinaryValue", "Attributes", "tags", "Tags",
                     "MaxNumberOfMessages", "TagKeys", "AttributeNames"]) | st.text(max_size=4),
    c, max_size=6), max_leaves=25)


@settings(max_examples=500, deadline=None)
@given(action=st.sampled_from(sorted(INPUTS)), value=_json_any, raw=st.binary(max_size=80),
       use_raw=st.booleans())
def test_fuzz_decode_json(action: str, value: Any, raw: bytes, use_raw: bool) -> None:
    import json

    _decode_json_or_error(raw if use_raw else json.dumps(value).encode(), action)


@pytest.mark.parametrize(("entries", "where", "why"), [
    ([{"Id": "a", "ReceiptHandle": "h"}, {"Id": 5, "ReceiptHandle": "h"}], "Entries.2.Id",
     "a string"),
    ([{"Id": "a", "ReceiptHandle": "h"}, {"Id": "b", "ReceiptHandle": ["h"]}],
     "Entries.2.ReceiptHandle", "a string"),
    ([{"Id": "a", "ReceiptHandle": "h"}, "entry"], "Entries.2", "a structure"),
])
def test_a_bad_batch_entry_is_named_by_its_path(entries: list[Any], where: str,
                                                 why: str) -> None:
    import json

    body = json.dumps({"QueueUrl": "u", "Entries": entries}).encode()
    with pytest.raises(QueueError, match=rf"parameter {where} is invalid. Reason: must be {why}"):
        codec.decode_json(body, INPUTS["DeleteMessageBatch"])
    with pytest.raises(QueueError, match="must contain the parameter ReceiptHandle"):
        codec.decode_json(json.dumps({"QueueUrl": "u", "Entries": [{"Id": "a"}]}).encode(),
                          INPUTS["DeleteMessageBatch"])


_qkey = st.lists(st.sampled_from(
    ["Attribute", "MessageAttribute", "SendMessageBatchRequestEntry", "Tag", "1", "2", "0",
     "-1", "99999999999", "Name", "Value", "DataType", "StringValue", "BinaryValue", "Id",
     "MessageBody", "QueueUrl", "AttributeName", "TagKey", "StringListValue", ""]),
    min_size=1, max_size=5).map(".".join)


@settings(max_examples=500, deadline=None)
@given(action=st.sampled_from(sorted(INPUTS)),
       pairs=st.lists(st.tuples(_qkey, st.text(max_size=12)), max_size=12),
       raw=st.text(max_size=60))
def test_fuzz_decode_query(action: str, pairs: list[tuple[str, str]], raw: str) -> None:
    try:
        params = pairs + codec.parse_form(raw)
        out = codec.decode_query(params, INPUTS[action])
    except (QueueError, Fault):
        return
    assert isinstance(out, dict)


@settings(max_examples=200, deadline=None)
@given(st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
               max_size=40).filter(lambda t: all(c in "\t\n\r" or ord(c) >= 0x20 for c in t)))
def test_xml_round_trip(value: str) -> None:
    out = {"Messages": [{"Body": value, "Attributes": {"k": value},
                         "MessageAttributes": {"a": {"StringValue": value, "DataType": "String"}}}]}
    root = ET.fromstring(codec.encode_xml("ReceiveMessage", out, "rid"))
    ns = {"q": "http://queue.amazonaws.com/doc/2012-11-05/"}
    msg = root.find("q:ReceiveMessageResult/q:Message", ns)
    assert msg is not None
    assert (msg.findtext("q:Body", namespaces=ns) or "") == value
    assert (msg.findtext("q:Attribute/q:Value", namespaces=ns) or "") == value
    assert (msg.findtext("q:MessageAttribute/q:Value/q:StringValue", namespaces=ns) or "") == value
