"""boto3 (the JSON 1.0 protocol) against a real ``streamcore serve``: every
action, happy and error paths, standard and FIFO queues."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError
from sqs_harness import attributes_md5, unique


def code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def status(exc: pytest.ExceptionInfo[ClientError]) -> int:
    return int(exc.value.response["ResponseMetadata"]["HTTPStatusCode"])


def make(sqs: Any, name: str | None = None, **attrs: str) -> str:
    name = name or unique()
    if name.endswith(".fifo"):
        attrs.setdefault("FifoQueue", "true")
    return str(sqs.create_queue(QueueName=name, Attributes=attrs)["QueueUrl"])


def receive(sqs: Any, url: str, n: int = 10, wait: int = 0, **kw: Any) -> list[dict[str, Any]]:
    r = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=n, WaitTimeSeconds=wait,
                            MessageSystemAttributeNames=["All"], MessageAttributeNames=["All"],
                            **kw)
    return list(r.get("Messages", []))


def counts(sqs: Any, url: str) -> tuple[int, int, int]:
    a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return (int(a["ApproximateNumberOfMessages"]), int(a["ApproximateNumberOfMessagesNotVisible"]),
            int(a["ApproximateNumberOfMessagesDelayed"]))


# ------------------------------------------------------------------ queues


def test_queue_lifecycle(sqs: Any, server: Any) -> None:
    name = unique("life")
    url = make(sqs, name)
    assert url == f"{server.url}/queue/us-east-1/000000000000/{name}"
    assert sqs.get_queue_url(QueueName=name)["QueueUrl"] == url
    assert url in sqs.list_queues(QueueNamePrefix="life-")["QueueUrls"]
    assert make(sqs, name) == url  # same attributes: the existing queue
    with pytest.raises(ClientError) as e:
        sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "99"})
    assert code(e) == "QueueAlreadyExists"
    assert e.value.response["Error"]["QueryErrorCode"] == "QueueNameExists"
    sqs.delete_queue(QueueUrl=url)
    with pytest.raises(sqs.exceptions.QueueDoesNotExist) as e:
        sqs.get_queue_url(QueueName=name)
    assert code(e) == "AWS.SimpleQueueService.NonExistentQueue"
    with pytest.raises(ClientError) as e:
        sqs.send_message(QueueUrl=url, MessageBody="x")
    assert code(e) == "AWS.SimpleQueueService.NonExistentQueue"
    with pytest.raises(sqs.exceptions.QueueDeletedRecently) as e:
        sqs.create_queue(QueueName=name)
    assert code(e) == "AWS.SimpleQueueService.QueueDeletedRecently"


def test_queue_names_and_attributes_validated(sqs: Any) -> None:
    for bad in ("", "a" * 81, "has space", "dot.name", "x.fifo"):
        with pytest.raises(ClientError) as e:
            sqs.create_queue(QueueName=bad)
        assert code(e) == "InvalidParameterValue", bad
    with pytest.raises(ClientError) as e:
        sqs.create_queue(QueueName=unique(), Attributes={"VisibilityTimeout": "43201"})
    assert code(e) == "InvalidAttributeValue"
    with pytest.raises(ClientError) as e:
        sqs.create_queue(QueueName=unique(), Attributes={"NoSuchAttribute": "1"})
    assert code(e) == "InvalidAttributeName"
    with pytest.raises(ClientError) as e:
        sqs.create_queue(QueueName=unique(), Attributes={"ContentBasedDeduplication": "true"})
    assert code(e) == "InvalidAttributeName"
    url = make(sqs)
    with pytest.raises(ClientError) as e:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"FifoQueue": "true"})
    assert code(e) == "InvalidAttributeName"
    furl = make(sqs, unique() + ".fifo")
    with pytest.raises(ClientError) as e:
        sqs.set_queue_attributes(QueueUrl=furl, Attributes={"FifoQueue": "false"})
    assert code(e) == "InvalidAttributeValue"
    with pytest.raises(ClientError) as e:
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Bogus"])
    assert code(e) == "InvalidAttributeName"


def test_attributes_get_set(sqs: Any) -> None:
    url = make(sqs, VisibilityTimeout="45", DelaySeconds="2")
    a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert a["VisibilityTimeout"] == "45" and a["DelaySeconds"] == "2"
    assert a["MessageRetentionPeriod"] == "345600" and a["MaximumMessageSize"] == "1048576"
    assert a["CreatedTimestamp"].isdigit() and a["LastModifiedTimestamp"].isdigit()
    assert a["QueueArn"].startswith("arn:aws:sqs:us-east-1:000000000000:")
    assert "FifoQueue" not in a and "RedrivePolicy" not in a
    assert set(a) == {
        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed", "CreatedTimestamp", "DelaySeconds",
        "LastModifiedTimestamp", "MaximumMessageSize", "MessageRetentionPeriod", "QueueArn",
        "ReceiveMessageWaitTimeSeconds", "SqsManagedSseEnabled", "VisibilityTimeout"}
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "7",
                                                       "KmsMasterKeyId": "alias/x"})
    got = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout",
                                                                 "KmsMasterKeyId"])
    assert got["Attributes"] == {"VisibilityTimeout": "7", "KmsMasterKeyId": "alias/x"}
    assert "Attributes" not in sqs.get_queue_attributes(QueueUrl=url)
    f = make(sqs, unique() + ".fifo")
    fa = sqs.get_queue_attributes(QueueUrl=f, AttributeNames=["All"])["Attributes"]
    assert fa["FifoQueue"] == "true" and fa["ContentBasedDeduplication"] == "false"
    assert fa["DeduplicationScope"] == "queue" and fa["FifoThroughputLimit"] == "perQueue"


def test_counts_exact(sqs: Any) -> None:
    url = make(sqs)
    sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": str(i), "MessageBody": f"m{i}", "DelaySeconds": 60 if i < 2 else 0}
        for i in range(7)])
    assert counts(sqs, url) == (5, 0, 2)
    got = receive(sqs, url, 3, VisibilityTimeout=60)
    assert len(got) == 3
    assert counts(sqs, url) == (2, 3, 2)
    sqs.delete_message(QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"])
    assert counts(sqs, url) == (2, 2, 2)


def test_pagination(sqs: Any) -> None:
    prefix = unique("page")
    urls = sorted(make(sqs, f"{prefix}-{i:02d}") for i in range(23))
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        kw: dict[str, Any] = {"QueueNamePrefix": prefix, "MaxResults": 10}
        if token:
            kw["NextToken"] = token
        r = sqs.list_queues(**kw)
        seen += r["QueueUrls"]
        pages += 1
        token = r.get("NextToken")
        if not token:
            break
    assert pages == 3 and seen == urls
    assert "NextToken" not in sqs.list_queues(QueueNamePrefix=prefix)
    assert len(sqs.list_queues(QueueNamePrefix=prefix)["QueueUrls"]) == 23
    with pytest.raises(ClientError) as e:
        sqs.list_queues(MaxResults=1001)
    assert code(e) == "InvalidParameterValue"
    paginator = sqs.get_paginator("list_queues")
    all_urls = [u for p in paginator.paginate(QueueNamePrefix=prefix,
                                               PaginationConfig={"PageSize": 7})
                for u in p["QueueUrls"]]
    assert all_urls == urls


def test_tags(sqs: Any) -> None:
    name = unique()
    url = sqs.create_queue(QueueName=name, tags={"team": "a", "env": "dev"})["QueueUrl"]
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"team": "a", "env": "dev"}
    sqs.tag_queue(QueueUrl=url, Tags={"team": "b", "Cost": "1"})
    sqs.untag_queue(QueueUrl=url, TagKeys=["env", "missing"])
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"team": "b", "Cost": "1"}
    sqs.untag_queue(QueueUrl=url, TagKeys=["team", "Cost"])
    assert "Tags" not in sqs.list_queue_tags(QueueUrl=url)


def test_permissions(sqs: Any) -> None:
    url = make(sqs)
    sqs.add_permission(QueueUrl=url, Label="p1", AWSAccountIds=["111122223333"],
                       Actions=["SendMessage", "ReceiveMessage"])
    policy = json.loads(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])
                        ["Attributes"]["Policy"])
    st = policy["Statement"][0]
    assert st["Sid"] == "p1" and st["Principal"]["AWS"] == "arn:aws:iam::111122223333:root"
    assert st["Action"] == ["SQS:SendMessage", "SQS:ReceiveMessage"]
    with pytest.raises(ClientError) as e:
        sqs.add_permission(QueueUrl=url, Label="p1", AWSAccountIds=["111122223333"],
                           Actions=["SendMessage"])
    assert code(e) == "InvalidParameterValue"
    with pytest.raises(sqs.exceptions.OverLimit) as e:
        sqs.add_permission(QueueUrl=url, Label="p2", AWSAccountIds=["111122223333"],
                           Actions=["SendMessage"] * 8)
    assert status(e) == 403
    sqs.remove_permission(QueueUrl=url, Label="p1")
    assert "Attributes" not in sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])
    with pytest.raises(ClientError) as e:
        sqs.remove_permission(QueueUrl=url, Label="p1")
    assert code(e) == "InvalidParameterValue"


def test_regions_are_namespaces(server: Any) -> None:
    east, west = server.client(region="us-east-1"), server.client(region="eu-west-1")
    name = unique("same")
    u1 = make(east, name)
    u2 = make(west, name)
    assert u1 != u2 and "/eu-west-1/" in u2
    east.send_message(QueueUrl=u1, MessageBody="east")
    assert receive(west, u2) == []
    # a request may name a queue of another region by its URL
    assert [m["Body"] for m in receive(west, u1)] == ["east"]
    arn = west.get_queue_attributes(QueueUrl=u2, AttributeNames=["QueueArn"])
    assert arn["Attributes"]["QueueArn"] == f"arn:aws:sqs:eu-west-1:000000000000:{name}"

# ------------------------------------------------------------------ messages


def test_send_receive_delete_with_md5s(sqs: Any) -> None:
    url = make(sqs)
    attrs = {
        "s": {"DataType": "String", "StringValue": "välue ✓"},
        "n": {"DataType": "Number.int", "StringValue": "-12.5e3"},
        "b": {"DataType": "Binary", "BinaryValue": bytes(range(256))},
        "c": {"DataType": "Binary.gzip", "BinaryValue": b"\x00\xff"},
        "t": {"DataType": "String.custom-type", "StringValue": "x"},
    }
    body = "hello\r\n\tworld ☃ \U0001f600"
    r = sqs.send_message(QueueUrl=url, MessageBody=body, MessageAttributes=attrs,
                         MessageSystemAttributes={"AWSTraceHeader": {
                             "DataType": "String", "StringValue": "Root=1-abc"}})
    assert r["MD5OfMessageBody"] == hashlib.md5(body.encode()).hexdigest()
    assert r["MD5OfMessageAttributes"] == attributes_md5(attrs)
    assert r["MD5OfMessageSystemAttributes"] == attributes_md5(
        {"AWSTraceHeader": {"DataType": "String", "StringValue": "Root=1-abc"}})
    assert "SequenceNumber" not in r
    (m,) = receive(sqs, url)
    assert m["Body"] == body and m["MessageId"] == r["MessageId"]
    assert m["MD5OfBody"] == r["MD5OfMessageBody"]
    assert m["MessageAttributes"] == attrs
    assert m["MD5OfMessageAttributes"] == attributes_md5(attrs)
    a = m["Attributes"]
    assert a["ApproximateReceiveCount"] == "1" and a["AWSTraceHeader"] == "Root=1-abc"
    assert a["SentTimestamp"].isdigit() and a["ApproximateFirstReceiveTimestamp"].isdigit()
    assert a["SenderId"] == "AKIDTEST"
    assert "SequenceNumber" not in a and "MessageGroupId" not in a
    sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])  # idempotent
    assert counts(sqs, url) == (0, 0, 0)


def test_attribute_selection_and_subset_md5(sqs: Any) -> None:
    url = make(sqs)
    attrs = {"foo.a": {"DataType": "String", "StringValue": "1"},
             "foo.b": {"DataType": "String", "StringValue": "2"},
             "bar": {"DataType": "Number", "StringValue": "3"}}
    sqs.send_message(QueueUrl=url, MessageBody="x", MessageAttributes=attrs)
    m = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["foo.*"],
                            VisibilityTimeout=0)["Messages"][0]
    subset = {k: v for k, v in attrs.items() if k.startswith("foo.")}
    assert m["MessageAttributes"] == subset
    assert m["MD5OfMessageAttributes"] == attributes_md5(subset)
    assert "Attributes" not in m
    m = sqs.receive_message(QueueUrl=url, VisibilityTimeout=0,
                            AttributeNames=["ApproximateReceiveCount"])["Messages"][0]
    assert "MessageAttributes" not in m and "MD5OfMessageAttributes" not in m
    assert m["Attributes"] == {"ApproximateReceiveCount": "2"}


def test_message_errors(sqs: Any) -> None:
    url = make(sqs)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"MessageBody": ""}, "MissingParameter"),
        ({"MessageBody": "bad \x00 char"}, "InvalidMessageContents"),
        ({"MessageBody": "x" * (1 << 20 + 1)}, "InvalidParameterValue"),
        ({"MessageBody": "x", "DelaySeconds": 901}, "InvalidParameterValue"),
        ({"MessageBody": "x", "MessageAttributes": {
            "AWS.x": {"DataType": "String", "StringValue": "v"}}}, "InvalidParameterValue"),
        ({"MessageBody": "x", "MessageAttributes": {
            "n": {"DataType": "Number", "StringValue": "abc"}}}, "InvalidParameterValue"),
        ({"MessageBody": "x", "MessageAttributes": {
            "n": {"DataType": "Date", "StringValue": "1"}}}, "InvalidParameterValue"),
        ({"MessageBody": "x", "MessageAttributes": {
            f"a{i}": {"DataType": "String", "StringValue": "v"} for i in range(11)}},
         "InvalidParameterValue"),
        ({"MessageBody": "x", "MessageDeduplicationId": "d"}, "InvalidParameterValue"),
    ]
    for kw, expected in cases:
        with pytest.raises(ClientError) as e:
            sqs.send_message(QueueUrl=url, **kw)
        assert code(e) == expected, kw
    for kw, expected in (({"MaxNumberOfMessages": 11}, "InvalidParameterValue"),
                         ({"MaxNumberOfMessages": 0}, "InvalidParameterValue"),
                         ({"WaitTimeSeconds": 21}, "InvalidParameterValue"),
                         ({"VisibilityTimeout": 43201}, "InvalidParameterValue")):
        with pytest.raises(ClientError) as e:
            sqs.receive_message(QueueUrl=url, **kw)
        assert code(e) == expected
    with pytest.raises(ClientError) as e:
        sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=11)
    assert e.value.response["Error"]["Message"] == (
        "Value 11 for parameter MaxNumberOfMessages is invalid. "
        "Reason: Must be between 1 and 10, if provided.")
    with pytest.raises(sqs.exceptions.ReceiptHandleIsInvalid) as e:
        sqs.delete_message(QueueUrl=url, ReceiptHandle="garbage")
    assert e.value.response["Error"]["Message"] == (
        'The input receipt handle "garbage" is not a valid receipt handle.')
    # a genuine handle used on another queue
    other = make(sqs)
    sqs.send_message(QueueUrl=other, MessageBody="x")
    (m,) = receive(sqs, other)
    with pytest.raises(sqs.exceptions.ReceiptHandleIsInvalid):
        sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    # forged: one character of a genuine handle changed
    h = m["ReceiptHandle"]
    forged = h[:10] + ("A" if h[10] != "A" else "B") + h[11:]
    with pytest.raises(sqs.exceptions.ReceiptHandleIsInvalid):
        sqs.delete_message(QueueUrl=other, ReceiptHandle=forged)
    assert counts(sqs, other) == (0, 1, 0)  # nothing was affected
    assert counts(sqs, url) == (0, 0, 0)


def test_max_size(sqs: Any) -> None:
    url = make(sqs, MaximumMessageSize="1024")
    sqs.send_message(QueueUrl=url, MessageBody="x" * 1024)
    with pytest.raises(ClientError) as e:
        sqs.send_message(QueueUrl=url, MessageBody="x" * 1020, MessageAttributes={
            "k": {"DataType": "String", "StringValue": "vv"}})
    assert code(e) == "InvalidParameterValue"
    big = make(sqs)
    r = sqs.send_message(QueueUrl=big, MessageBody="é" * (1 << 19))  # 1 MiB of UTF-8
    (m,) = receive(sqs, big)
    assert m["MD5OfBody"] == r["MD5OfMessageBody"] and len(m["Body"]) == 1 << 19


def test_batches(sqs: Any) -> None:
    url = make(sqs)
    with pytest.raises(sqs.exceptions.EmptyBatchRequest):
        sqs.send_message_batch(QueueUrl=url, Entries=[])
    with pytest.raises(sqs.exceptions.TooManyEntriesInBatchRequest) as e:
        sqs.send_message_batch(QueueUrl=url, Entries=[
            {"Id": str(i), "MessageBody": "x"} for i in range(11)])
    assert code(e) == "AWS.SimpleQueueService.TooManyEntriesInBatchRequest"
    with pytest.raises(sqs.exceptions.BatchEntryIdsNotDistinct):
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": "a", "MessageBody": "x"}] * 2)
    with pytest.raises(sqs.exceptions.InvalidBatchEntryId):
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": "a b", "MessageBody": "x"}])
    with pytest.raises(sqs.exceptions.BatchRequestTooLong):
        sqs.send_message_batch(QueueUrl=url, Entries=[
            {"Id": str(i), "MessageBody": "x" * 200_000} for i in range(6)])
    r = sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": "ok1", "MessageBody": "a"}, {"Id": "bad", "MessageBody": "\x01"},
        {"Id": "ok2", "MessageBody": "b", "DelaySeconds": 0}])
    assert [s["Id"] for s in r["Successful"]] == ["ok1", "ok2"]
    (f,) = r["Failed"]
    assert f["Id"] == "bad" and f["SenderFault"] is True and f["Code"] == "InvalidMessageContents"
    got = receive(sqs, url)
    assert sorted(m["Body"] for m in got) == ["a", "b"]
    entries = [{"Id": f"e{i}", "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)]
    entries.append({"Id": "junk", "ReceiptHandle": "garbage"})
    r = sqs.change_message_visibility_batch(QueueUrl=url, Entries=[
        {**e, "VisibilityTimeout": 100} for e in entries])
    assert sorted(s["Id"] for s in r["Successful"]) == ["e0", "e1"]
    assert r["Failed"][0]["Id"] == "junk" and r["Failed"][0]["Code"] == "ReceiptHandleIsInvalid"
    r = sqs.delete_message_batch(QueueUrl=url, Entries=entries)
    assert sorted(s["Id"] for s in r["Successful"]) == ["e0", "e1"]
    assert r["Failed"][0]["Code"] == "ReceiptHandleIsInvalid"
    assert counts(sqs, url) == (0, 0, 0)


def test_long_poll_returns_when_a_message_arrives(server: Any) -> None:
    sqs = server.client()
    url = make(sqs)
    sender = server.client()

    def send_later() -> None:
        time.sleep(0.5)
        sender.send_message(QueueUrl=url, MessageBody="wake")

    t = threading.Thread(target=send_later)
    start = time.monotonic()
    t.start()
    got = receive(sqs, url, wait=10)
    took = time.monotonic() - start
    t.join()
    assert [m["Body"] for m in got] == ["wake"]
    assert 0.4 < took < 3.0
    start = time.monotonic()
    assert receive(sqs, url, wait=1) == []
    assert 0.9 < time.monotonic() - start < 3.0


def test_queue_wait_time_is_the_default(sqs: Any) -> None:
    url = make(sqs, ReceiveMessageWaitTimeSeconds="1")
    start = time.monotonic()
    assert sqs.receive_message(QueueUrl=url).get("Messages") is None
    assert time.monotonic() - start > 0.9


def test_visibility_timeout_redelivers(sqs: Any) -> None:
    url = make(sqs, VisibilityTimeout="1")
    sqs.send_message(QueueUrl=url, MessageBody="again")
    (m1,) = receive(sqs, url)
    assert receive(sqs, url) == []
    start = time.monotonic()
    (m2,) = receive(sqs, url, wait=5)  # the long poll wakes when the timeout ends
    assert 0.5 < time.monotonic() - start < 3.0
    assert m2["Attributes"]["ApproximateReceiveCount"] == "2"
    assert m2["ReceiptHandle"] != m1["ReceiptHandle"]
    assert m2["Attributes"]["ApproximateFirstReceiveTimestamp"] == \
        m1["Attributes"]["ApproximateFirstReceiveTimestamp"]
    # the older handle no longer deletes (standard queues answer 200 all the same)
    sqs.delete_message(QueueUrl=url, ReceiptHandle=m1["ReceiptHandle"])
    assert counts(sqs, url) == (0, 1, 0)
    sqs.delete_message(QueueUrl=url, ReceiptHandle=m2["ReceiptHandle"])
    assert counts(sqs, url) == (0, 0, 0)


def test_change_visibility(sqs: Any) -> None:
    url = make(sqs)
    sqs.send_message(QueueUrl=url, MessageBody="v")
    (m,) = receive(sqs, url)
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"],
                                  VisibilityTimeout=0)
    (m2,) = receive(sqs, url)
    assert m2["Attributes"]["ApproximateReceiveCount"] == "2"
    with pytest.raises(ClientError) as e:
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m2["ReceiptHandle"],
                                      VisibilityTimeout=43201)
    assert code(e) == "InvalidParameterValue"
    sqs.delete_message(QueueUrl=url, ReceiptHandle=m2["ReceiptHandle"])
    with pytest.raises(ClientError) as e:
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m2["ReceiptHandle"],
                                      VisibilityTimeout=10)
    assert code(e) == "InvalidParameterValue"
    assert "Message does not exist" in e.value.response["Error"]["Message"]


def test_delay(sqs: Any) -> None:
    url = make(sqs)
    sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=1)
    assert counts(sqs, url) == (0, 0, 1)
    assert receive(sqs, url) == []
    start = time.monotonic()
    (m,) = receive(sqs, url, wait=5)
    assert 0.3 < time.monotonic() - start < 3.0 and m["Body"] == "later"


def test_purge(sqs: Any) -> None:
    url = make(sqs)
    sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": str(i), "MessageBody": "x", "DelaySeconds": 30 * (i % 2)} for i in range(6)])
    receive(sqs, url, 1)
    sqs.purge_queue(QueueUrl=url)
    assert counts(sqs, url) == (0, 0, 0)
    with pytest.raises(sqs.exceptions.PurgeQueueInProgress) as e:
        sqs.purge_queue(QueueUrl=url)
    assert status(e) == 403 and code(e) == "AWS.SimpleQueueService.PurgeQueueInProgress"
    sqs.send_message(QueueUrl=url, MessageBody="after")
    assert [m["Body"] for m in receive(sqs, url)] == ["after"]

# ------------------------------------------------------------------ dead letters, moves


def test_dead_letter_queue_and_move_back(sqs: Any) -> None:
    dlq = make(sqs)
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    src = make(sqs, RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq_arn,
                                              "maxReceiveCount": 2}))
    src_arn = sqs.get_queue_attributes(QueueUrl=src, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    assert sqs.list_dead_letter_source_queues(QueueUrl=dlq)["queueUrls"] == [src]
    sqs.send_message(QueueUrl=src, MessageBody="poison", MessageAttributes={
        "k": {"DataType": "String", "StringValue": "v"}})
    for n in (1, 2):
        (m,) = receive(sqs, src, VisibilityTimeout=0)
        assert m["Attributes"]["ApproximateReceiveCount"] == str(n)
    assert receive(sqs, src) == []  # the third receive moved it
    (d,) = receive(sqs, dlq, VisibilityTimeout=0)
    assert d["Body"] == "poison" and d["Attributes"]["DeadLetterQueueSourceArn"] == src_arn
    assert d["MessageAttributes"] == {"k": {"DataType": "String", "StringValue": "v"}}
    assert d["MessageId"] == m["MessageId"]
    with pytest.raises(ClientError) as e:
        sqs.start_message_move_task(SourceArn=src_arn)  # not a dead-letter queue
    assert code(e) == "InvalidParameterValue"
    handle = sqs.start_message_move_task(SourceArn=dlq_arn)["TaskHandle"]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        (task,) = sqs.list_message_move_tasks(SourceArn=dlq_arn)["Results"]
        if task["Status"] == "COMPLETED":
            break
        time.sleep(0.05)
    assert task["Status"] == "COMPLETED" and task["ApproximateNumberOfMessagesMoved"] == 1
    assert task["ApproximateNumberOfMessagesToMove"] == 1 and "TaskHandle" not in task
    assert isinstance(task["StartedTimestamp"], int)
    (back,) = receive(sqs, src)
    assert back["Body"] == "poison" and "DeadLetterQueueSourceArn" not in back["Attributes"]
    assert counts(sqs, dlq) == (0, 0, 0)
    with pytest.raises(sqs.exceptions.ResourceNotFoundException) as e:
        sqs.cancel_message_move_task(TaskHandle="nope")
    assert status(e) == 404
    with pytest.raises(ClientError) as e:
        sqs.cancel_message_move_task(TaskHandle=handle)  # completed
    assert code(e) == "InvalidParameterValue"
    with pytest.raises(sqs.exceptions.ResourceNotFoundException):
        sqs.list_message_move_tasks(SourceArn=src_arn.replace(":q-", ":none-"))


def test_move_task_rate_and_cancel(sqs: Any) -> None:
    dlq = make(sqs)
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    make(sqs, RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1}))
    dest = make(sqs)
    dest_arn = sqs.get_queue_attributes(QueueUrl=dest, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    for i in range(5):
        sqs.send_message_batch(QueueUrl=dlq, Entries=[
            {"Id": str(j), "MessageBody": f"{i}-{j}"} for j in range(10)])
    handle = sqs.start_message_move_task(SourceArn=dlq_arn, DestinationArn=dest_arn,
                                         MaxNumberOfMessagesPerSecond=20)["TaskHandle"]
    with pytest.raises(ClientError):
        sqs.start_message_move_task(SourceArn=dlq_arn)  # one active task per source
    time.sleep(0.6)
    (task,) = sqs.list_message_move_tasks(SourceArn=dlq_arn)["Results"]
    assert task["Status"] == "RUNNING" and task["TaskHandle"] == handle
    assert task["MaxNumberOfMessagesPerSecond"] == 20
    assert 5 <= task["ApproximateNumberOfMessagesMoved"] <= 30  # about 20/s, in steps of 10
    moved = sqs.cancel_message_move_task(TaskHandle=handle)["ApproximateNumberOfMessagesMoved"]
    time.sleep(0.3)
    (task,) = sqs.list_message_move_tasks(SourceArn=dlq_arn)["Results"]
    assert task["Status"] == "CANCELLED"
    vis, _, _ = counts(sqs, dest)
    assert vis >= moved and vis + counts(sqs, dlq)[0] == 50


def test_redrive_allow_policy(sqs: Any) -> None:
    dlq = make(sqs, RedriveAllowPolicy=json.dumps({"redrivePermission": "denyAll"}))
    arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    with pytest.raises(ClientError) as e:
        make(sqs, RedrivePolicy=json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": 3}))
    assert code(e) == "InvalidParameterValue"
    with pytest.raises(ClientError) as e:
        make(sqs, RedrivePolicy=json.dumps({"deadLetterTargetArn": arn + "x",
                                            "maxReceiveCount": 3}))
    assert code(e) == "InvalidParameterValue"
    fifo_dlq = make(sqs, unique() + ".fifo")
    farn = sqs.get_queue_attributes(QueueUrl=fifo_dlq, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    with pytest.raises(ClientError):  # a standard queue cannot use a FIFO dead-letter queue
        make(sqs, RedrivePolicy=json.dumps({"deadLetterTargetArn": farn, "maxReceiveCount": 3}))

# ------------------------------------------------------------------ FIFO


def test_fifo_send_errors(sqs: Any) -> None:
    url = make(sqs, unique() + ".fifo")
    with pytest.raises(ClientError) as e:
        sqs.send_message(QueueUrl=url, MessageBody="x", MessageDeduplicationId="d")
    assert code(e) == "MissingParameter"
    with pytest.raises(ClientError) as e:
        sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g")
    assert code(e) == "InvalidParameterValue"
    with pytest.raises(ClientError) as e:
        sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g",
                         MessageDeduplicationId="d", DelaySeconds=2)
    assert code(e) == "InvalidParameterValue"
    sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g",
                     MessageDeduplicationId="d", DelaySeconds=0)


def test_fifo_order_and_group_locking(server: Any) -> None:
    sqs = server.client()
    url = make(sqs, unique() + ".fifo", ContentBasedDeduplication="true")
    seqs = []
    for i in range(12):
        r = sqs.send_message(QueueUrl=url, MessageBody=f"{'abc'[i % 3]}{i}",
                             MessageGroupId="abc"[i % 3])
        seqs.append(int(r["SequenceNumber"]))
    assert seqs == sorted(seqs) and len(set(seqs)) == 12
    first = receive(sqs, url, 2, VisibilityTimeout=30)
    assert [m["Body"] for m in first] == ["a0", "a3"]  # one group, in order
    assert [m["Attributes"]["MessageGroupId"] for m in first] == ["a", "a"]
    second = receive(sqs, url, 10, VisibilityTimeout=30)
    bodies = [m["Body"] for m in second]
    assert "a6" not in bodies and "a9" not in bodies  # group a is locked
    assert [b for b in bodies if b[0] == "b"] == ["b1", "b4", "b7", "b10"]
    assert [b for b in bodies if b[0] == "c"] == ["c2", "c5", "c8", "c11"]
    sqs.send_message(QueueUrl=url, MessageBody="a12", MessageGroupId="a")
    assert receive(sqs, url) == []  # a new send does not unlock the group
    for m in first:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    assert [m["Body"] for m in receive(sqs, url)] == ["a6", "a9", "a12"]


def test_fifo_redelivery_keeps_order(sqs: Any) -> None:
    url = make(sqs, unique() + ".fifo", ContentBasedDeduplication="true")
    for i in range(4):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{i}", MessageGroupId="g")
    got = receive(sqs, url, 2)
    for m in reversed(got):
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"],
                                      VisibilityTimeout=0)
    assert [m["Body"] for m in receive(sqs, url, 10)] == ["m0", "m1", "m2", "m3"]


def test_fifo_many_consumers_keep_group_order(server: Any) -> None:
    sqs = server.client()
    url = make(sqs, unique() + ".fifo", ContentBasedDeduplication="true")
    groups = [f"g{i}" for i in range(5)]
    for n in range(8):
        sqs.send_message_batch(QueueUrl=url, Entries=[
            {"Id": g, "MessageBody": f"{g}:{n}", "MessageGroupId": g} for g in groups])
    seen: dict[str, list[int]] = {g: [] for g in groups}
    lock = threading.Lock()

    def consume() -> None:
        c = server.client()
        idle = 0
        while idle < 3:
            got = receive(c, url, 3)
            if not got:
                idle += 1
                continue
            idle = 0
            with lock:
                for m in got:
                    g, n = m["Body"].split(":")
                    seen[g].append(int(n))
            c.delete_message_batch(QueueUrl=url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)])

    threads = [threading.Thread(target=consume) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == {g: list(range(8)) for g in groups}


def test_fifo_dedup(sqs: Any) -> None:
    url = make(sqs, unique() + ".fifo")
    r1 = sqs.send_message(QueueUrl=url, MessageBody="one", MessageGroupId="g",
                          MessageDeduplicationId="d1")
    (m,) = receive(sqs, url)
    assert m["Attributes"]["MessageDeduplicationId"] == "d1"
    assert m["Attributes"]["SequenceNumber"] == r1["SequenceNumber"]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    r2 = sqs.send_message(QueueUrl=url, MessageBody="one again", MessageGroupId="g",
                          MessageDeduplicationId="d1")
    assert r2["MessageId"] == r1["MessageId"]  # accepted, not delivered: within 5 minutes
    assert receive(sqs, url) == []
    # scope "queue": the same id in another group is a duplicate too
    sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="other",
                     MessageDeduplicationId="d1")
    assert receive(sqs, url) == []
    # content-based: the SHA-256 of the body
    cb = make(sqs, unique() + ".fifo", ContentBasedDeduplication="true")
    a = sqs.send_message(QueueUrl=cb, MessageBody="same", MessageGroupId="g")
    b = sqs.send_message(QueueUrl=cb, MessageBody="same", MessageGroupId="g")
    assert a["MessageId"] == b["MessageId"]
    (m,) = receive(sqs, cb)
    assert m["Attributes"]["MessageDeduplicationId"] == hashlib.sha256(b"same").hexdigest()
    # scope "messageGroup"
    mg = make(sqs, unique() + ".fifo", DeduplicationScope="messageGroup",
              FifoThroughputLimit="perMessageGroupId")
    for g in ("g1", "g2", "g1"):
        sqs.send_message(QueueUrl=mg, MessageBody=g, MessageGroupId=g,
                         MessageDeduplicationId="same")
    assert sorted(m["Body"] for m in receive(sqs, mg)) == ["g1", "g2"]
    # purge clears the dedup ids
    sqs.purge_queue(QueueUrl=url)
    sqs.send_message(QueueUrl=url, MessageBody="fresh", MessageGroupId="g",
                     MessageDeduplicationId="d1")
    assert [m["Body"] for m in receive(sqs, url)] == ["fresh"]


def test_fifo_expired_handle(sqs: Any) -> None:
    url = make(sqs, unique() + ".fifo", ContentBasedDeduplication="true")
    sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g")
    (m,) = receive(sqs, url, VisibilityTimeout=0)
    with pytest.raises(ClientError) as e:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    assert code(e) == "InvalidParameterValue"
    assert "expired" in e.value.response["Error"]["Message"]
    (m,) = receive(sqs, url)
    sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


def test_receive_request_attempt_id(sqs: Any) -> None:
    url = make(sqs, unique() + ".fifo", ContentBasedDeduplication="true")
    for i in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{i}", MessageGroupId="g")
    a = receive(sqs, url, 2, ReceiveRequestAttemptId="try-1")
    b = receive(sqs, url, 2, ReceiveRequestAttemptId="try-1")
    assert [m["ReceiptHandle"] for m in a] == [m["ReceiptHandle"] for m in b]
    assert [m["Body"] for m in b] == ["m0", "m1"]
    assert receive(sqs, url, 2, ReceiveRequestAttemptId="try-2") == []  # group locked


def test_fair_queue_group_id_on_standard(sqs: Any) -> None:
    url = make(sqs)
    r = sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="tenant-1")
    assert "SequenceNumber" not in r
    (m,) = receive(sqs, url)
    assert m["Attributes"]["MessageGroupId"] == "tenant-1"


def test_a_move_task_needs_another_queue_of_the_same_type(sqs: Any) -> None:
    """The destination of a move is another queue of the source's type: moving a
    standard DLQ's messages into a FIFO queue would leave them without a group, and a
    queue into itself moves nothing.  Either is InvalidParameterValue, nothing moves."""
    def arn(url: str) -> str:
        return str(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"])

    for kind in ("standard", "fifo"):
        suffix = ".fifo" if kind == "fifo" else ""
        dlq = make(sqs, unique() + suffix)
        make(sqs, unique() + suffix, RedrivePolicy=json.dumps(
            {"deadLetterTargetArn": arn(dlq), "maxReceiveCount": 1}))
        other = make(sqs, unique() + ("" if suffix else ".fifo"))
        extra = {"MessageGroupId": "g", "MessageDeduplicationId": "d"} if suffix else {}
        sqs.send_message(QueueUrl=dlq, MessageBody="stay", **extra)
        for dest in (arn(other), arn(dlq)):
            with pytest.raises(ClientError) as e:
                sqs.start_message_move_task(SourceArn=arn(dlq), DestinationArn=dest)
            assert code(e) == "InvalidParameterValue"
        assert sqs.list_message_move_tasks(SourceArn=arn(dlq))["Results"] == []
        assert counts(sqs, dlq)[0] == 1 and counts(sqs, other)[0] == 0
