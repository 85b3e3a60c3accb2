"""``--credentials``: every request's SigV4 signature is checked."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.error import HTTPError

import pytest
from botocore.exceptions import ClientError
from sqs_harness import Server, unique


@pytest.fixture(scope="module")
def secure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    d = tmp_path_factory.mktemp("auth")
    creds = d / "credentials"
    creds.write_text("# access key id, secret\nAKIDGOOD goodsecret\nAKIDOTHER:othersecret\n")
    srv = Server(d / "data", "--credentials", str(creds)).start()
    try:
        yield srv
    finally:
        srv.stop()


def test_good_keys_work(secure: Server) -> None:
    for key, secret in (("AKIDGOOD", "goodsecret"), ("AKIDOTHER", "othersecret")):
        c: Any = secure.client(key=key, secret=secret)
        url = c.create_queue(QueueName=unique())["QueueUrl"]
        c.send_message(QueueUrl=url, MessageBody="signed")
        assert c.receive_message(QueueUrl=url)["Messages"][0]["Body"] == "signed"
    q: Any = secure.client(key="AKIDGOOD", secret="goodsecret", region="eu-central-1")
    assert "/eu-central-1/" in q.create_queue(QueueName=unique())["QueueUrl"]


def test_bad_keys_refused(secure: Server) -> None:
    wrong: Any = secure.client(key="AKIDGOOD", secret="wrong")
    with pytest.raises(ClientError) as e:
        wrong.list_queues()
    assert e.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    unknown: Any = secure.client(key="AKIDNOBODY", secret="x")
    with pytest.raises(ClientError) as e:
        unknown.create_queue(QueueName=unique())
    assert e.value.response["Error"]["Code"] == "InvalidClientTokenId"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    with pytest.raises(HTTPError) as h:  # no signature at all
        urllib.request.urlopen(f"{secure.url}/?Action=ListQueues", timeout=10)
    assert h.value.code == 403 and b"MissingAuthenticationToken" in h.value.read()
    good: Any = secure.client(key="AKIDGOOD", secret="goodsecret")
    assert "QueueUrls" in good.list_queues()  # nothing was created by the refused calls
    names = [u.rsplit("/", 1)[1] for u in good.list_queues()["QueueUrls"]]
    assert len(names) == len(set(names))


def test_tampered_body_refused(secure: Server) -> None:
    c: Any = secure.client(key="AKIDGOOD", secret="goodsecret")
    url = c.create_queue(QueueName=unique())["QueueUrl"]

    def tamper(request: Any, **_: Any) -> None:
        request.body = request.body.replace(b"original", b"tampered")

    c.meta.events.register_last("before-send.sqs.SendMessage", tamper)
    with pytest.raises(ClientError) as e:
        c.send_message(QueueUrl=url, MessageBody="original")
    assert e.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    c.meta.events.unregister("before-send.sqs.SendMessage", tamper)
    assert "Messages" not in c.receive_message(QueueUrl=url)


def test_without_credentials_any_key_is_accepted_and_said_loudly(server: Server) -> None:
    c: Any = server.client(key="anything", secret="whatever")
    assert c.list_queues()["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert "accepts any credentials" in Path(server.log).read_text()
