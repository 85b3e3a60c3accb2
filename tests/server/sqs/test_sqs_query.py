"""The Query protocol (what older SDKs send): form POSTs to ``/`` and to the
queue URL, and GETs to the queue URL, each signed with botocore's SigV4
signer; the XML answers checked element by element."""

from __future__ import annotations

import base64
import hashlib
import urllib.request
import xml.etree.ElementTree as ET
from typing import Any
from urllib.error import HTTPError
from urllib.parse import quote, urlencode

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from sqs_harness import attributes_md5, unique

NS = {"q": "http://queue.amazonaws.com/doc/2012-11-05/"}
CREDS = Credentials("AKIDQUERY", "query-secret")


def call(url: str, params: dict[str, str], method: str = "POST",
         region: str = "us-east-1") -> tuple[int, ET.Element, dict[str, str]]:
    """Send one signed Query request; (status, parsed XML, headers)."""
    params = {"Version": "2012-11-05", **params}
    if method == "POST":
        body = urlencode(params, quote_via=quote).encode()
        req = AWSRequest("POST", url, data=body, headers={
            "Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    else:
        url = f"{url}?{urlencode(params, quote_via=quote)}"
        body = b""
        req = AWSRequest("GET", url)
    SigV4Auth(CREDS, "sqs", region).add_auth(req)
    prepared = req.prepare()
    r = urllib.request.Request(prepared.url, data=prepared.body or None, method=method,
                               headers=dict(prepared.headers))
    try:
        with urllib.request.urlopen(r, timeout=30) as resp:
            return resp.status, ET.fromstring(resp.read()), dict(resp.headers)
    except HTTPError as e:
        raw = e.read()
        return e.code, ET.fromstring(raw), dict(e.headers)


def text(el: ET.Element, path: str) -> str:
    found = el.find(path, NS)
    assert found is not None, (path, ET.tostring(el))
    return found.text or ""


def test_query_flow_post_and_get(server: Any) -> None:
    name = unique("query")
    st, x, h = call(server.url, {"Action": "CreateQueue", "QueueName": name,
                                 "Attribute.1.Name": "VisibilityTimeout",
                                 "Attribute.1.Value": "40",
                                 "Tag.1.Key": "team", "Tag.1.Value": "q"})
    assert st == 200 and h["Content-Type"] == "text/xml"
    assert x.tag == "{" + NS["q"] + "}CreateQueueResponse"
    qurl = text(x, "q:CreateQueueResult/q:QueueUrl")
    assert qurl.endswith(f"/queue/us-east-1/000000000000/{name}")
    assert text(x, "q:ResponseMetadata/q:RequestId")

    # SendMessage as a form POST to the queue URL itself, with attributes
    attrs = {"k": {"DataType": "String", "StringValue": "v\r\nw"},
             "b": {"DataType": "Binary", "BinaryValue": b"\x00\x01\xff"}}
    st, x, _ = call(qurl, {
        "Action": "SendMessage", "MessageBody": "héllo & <xml>\r\n",
        "MessageAttribute.1.Name": "k", "MessageAttribute.1.Value.DataType": "String",
        "MessageAttribute.1.Value.StringValue": "v\r\nw",
        "MessageAttribute.2.Name": "b", "MessageAttribute.2.Value.DataType": "Binary",
        "MessageAttribute.2.Value.BinaryValue": base64.b64encode(b"\x00\x01\xff").decode()})
    assert st == 200
    assert text(x, "q:SendMessageResult/q:MD5OfMessageBody") == hashlib.md5(
        "héllo & <xml>\r\n".encode()).hexdigest()
    assert text(x, "q:SendMessageResult/q:MD5OfMessageAttributes") == attributes_md5(attrs)
    mid = text(x, "q:SendMessageResult/q:MessageId")

    # ReceiveMessage as a GET to the queue URL
    st, x, _ = call(qurl, {"Action": "ReceiveMessage", "MaxNumberOfMessages": "10",
                           "AttributeName.1": "All", "MessageAttributeName.1": "All"},
                    method="GET")
    assert st == 200
    (msg,) = x.findall("q:ReceiveMessageResult/q:Message", NS)
    assert text(msg, "q:MessageId") == mid
    assert text(msg, "q:Body") == "héllo & <xml>\r\n"  # the \r survives XML
    sys_attrs = {text(a, "q:Name"): text(a, "q:Value") for a in msg.findall("q:Attribute", NS)}
    assert sys_attrs["ApproximateReceiveCount"] == "1" and sys_attrs["SenderId"] == "AKIDQUERY"
    mattrs = {text(a, "q:Name"): a.find("q:Value", NS) for a in msg.findall("q:MessageAttribute",
                                                                            NS)}
    assert text(mattrs["k"], "q:StringValue") == "v\r\nw"
    assert text(mattrs["k"], "q:DataType") == "String"
    assert base64.b64decode(text(mattrs["b"], "q:BinaryValue")) == b"\x00\x01\xff"
    assert text(msg, "q:MD5OfMessageAttributes") == attributes_md5(attrs)
    handle = text(msg, "q:ReceiptHandle")

    # GetQueueAttributes to /, naming the queue
    st, x, _ = call(server.url, {"Action": "GetQueueAttributes", "QueueUrl": qurl,
                                 "AttributeName.1": "All"})
    got = {text(a, "q:Name"): text(a, "q:Value")
           for a in x.findall("q:GetQueueAttributesResult/q:Attribute", NS)}
    assert got["VisibilityTimeout"] == "40" and got["ApproximateNumberOfMessagesNotVisible"] == "1"

    st, x, _ = call(qurl, {"Action": "ListQueueTags"}, method="GET")
    assert {text(t, "q:Key"): text(t, "q:Value")
            for t in x.findall("q:ListQueueTagsResult/q:Tag", NS)} == {"team": "q"}

    # batch send and delete, flattened entries
    st, x, _ = call(qurl, {
        "Action": "SendMessageBatch",
        "SendMessageBatchRequestEntry.1.Id": "a",
        "SendMessageBatchRequestEntry.1.MessageBody": "one",
        "SendMessageBatchRequestEntry.2.Id": "b",
        "SendMessageBatchRequestEntry.2.MessageBody": "two",
        "SendMessageBatchRequestEntry.2.DelaySeconds": "0",
        "SendMessageBatchRequestEntry.3.Id": "c",
        "SendMessageBatchRequestEntry.3.MessageBody": "\x01"})
    ok = x.findall("q:SendMessageBatchResult/q:SendMessageBatchResultEntry", NS)
    assert [text(e, "q:Id") for e in ok] == ["a", "b"]
    (bad,) = x.findall("q:SendMessageBatchResult/q:BatchResultErrorEntry", NS)
    assert text(bad, "q:Id") == "c" and text(bad, "q:SenderFault") == "true"
    assert text(bad, "q:Code") == "InvalidMessageContents"

    st, x, _ = call(qurl, {"Action": "DeleteMessage", "ReceiptHandle": handle})
    assert st == 200 and x.tag.endswith("DeleteMessageResponse")
    assert x.find("q:DeleteMessageResult", NS) is None

    st, x, _ = call(server.url, {"Action": "ListQueues", "QueueNamePrefix": name})
    assert [u.text for u in x.findall("q:ListQueuesResult/q:QueueUrl", NS)] == [qurl]

    st, x, _ = call(qurl, {"Action": "ReceiveMessage", "MaxNumberOfMessages": "1",
                           "VisibilityTimeout": "0"})
    assert len(x.findall("q:ReceiveMessageResult/q:Message", NS)) == 1
    st, x, _ = call(qurl, {"Action": "DeleteQueue"})
    assert st == 200


def test_query_errors(server: Any) -> None:
    st, x, _ = call(server.url, {"Action": "GetQueueUrl", "QueueName": "nope-" + unique()})
    assert st == 400 and x.tag == "{" + NS["q"] + "}ErrorResponse"
    assert text(x, "q:Error/q:Type") == "Sender"
    assert text(x, "q:Error/q:Code") == "AWS.SimpleQueueService.NonExistentQueue"
    assert text(x, "q:RequestId")
    st, x, _ = call(server.url, {"Action": "Frobnicate"})
    assert st == 400 and text(x, "q:Error/q:Code") == "InvalidAction"
    st, x, _ = call(server.url, {})
    assert st == 400 and text(x, "q:Error/q:Code") == "MissingAction"
    st, x, _ = call(server.url, {"Action": "ReceiveMessage", "QueueUrl": "x",
                                 "MaxNumberOfMessages": "ten"})
    assert st == 400 and text(x, "q:Error/q:Code") == "InvalidParameterValue"
    st, x, _ = call(server.url, {"Action": "SendMessage"})
    assert st == 400 and text(x, "q:Error/q:Code") == "MissingParameter"
    name = unique()
    st, x, _ = call(server.url, {"Action": "CreateQueue", "QueueName": name})
    qurl = text(x, "q:CreateQueueResult/q:QueueUrl")
    st, x, _ = call(qurl, {"Action": "CreateQueue", "QueueName": "other"})
    assert st == 400 and text(x, "q:Error/q:Code") == "InvalidAction"
    assert "not valid for this endpoint" in text(x, "q:Error/q:Message")
    st, x, _ = call(qurl, {"Action": "PurgeQueue"})
    st, x, _ = call(qurl, {"Action": "PurgeQueue"})
    assert st == 403 and text(x, "q:Error/q:Code") == "AWS.SimpleQueueService.PurgeQueueInProgress"
    # a GET on a queue URL with no Action
    with pytest.raises(HTTPError) as e:
        urllib.request.urlopen(qurl, timeout=10)
    assert e.value.code == 404
    assert e.value.read() == b"<UnknownOperationException/>"


def test_advertised_url_with_a_path_prefix(tmp_path: Any) -> None:
    """Behind a proxy: queue URLs carry --advertised-url, and requests sent to such a
    URL's path (prefix included) reach the queue."""
    from sqs_harness import Server

    srv = Server(tmp_path / "data", "--advertised-url", "https://sqs.example.test/prefix/").start()
    try:
        name = unique("adv")
        st, x, _ = call(srv.url, {"Action": "CreateQueue", "QueueName": name})
        qurl = text(x, "q:CreateQueueResult/q:QueueUrl")
        assert qurl == f"https://sqs.example.test/prefix/queue/us-east-1/000000000000/{name}"
        local = srv.url + "/prefix" + qurl.split("/prefix", 1)[1]
        st, x, _ = call(local, {"Action": "SendMessage", "MessageBody": "via the proxy path"})
        assert st == 200
        st, x, _ = call(srv.url, {"Action": "ReceiveMessage", "QueueUrl": qurl})
        assert text(x, "q:ReceiveMessageResult/q:Message/q:Body") == "via the proxy path"
    finally:
        srv.stop()
