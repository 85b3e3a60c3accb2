"""The aws CLI (``awscli`` from PyPI) through ``--endpoint-url``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest
from sqs_harness import unique

pytest.importorskip("awscli")


def aws(server: Any, *args: str) -> Any:
    env = dict(os.environ, AWS_ACCESS_KEY_ID="AKIDCLI", AWS_SECRET_ACCESS_KEY="cli-secret",
               AWS_DEFAULT_REGION="us-east-1", AWS_CONFIG_FILE=os.devnull,
               AWS_SHARED_CREDENTIALS_FILE=os.devnull, AWS_PAGER="")
    p = subprocess.run([sys.executable, "-m", "awscli", "sqs", *args, "--endpoint-url",
                        server.url, "--output", "json"],
                       capture_output=True, text=True, env=env, timeout=120)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout) if p.stdout.strip() else None


def test_cli_flow(server: Any) -> None:
    name = unique("cli")
    url = aws(server, "create-queue", "--queue-name", name,
              "--attributes", "VisibilityTimeout=60")["QueueUrl"]
    assert url.endswith(f"/{name}")
    sent = aws(server, "send-message", "--queue-url", url, "--message-body", "from the cli",
               "--message-attributes",
               json.dumps({"k": {"DataType": "String", "StringValue": "v"}}))
    assert sent["MD5OfMessageBody"] and sent["MessageId"]
    got = aws(server, "receive-message", "--queue-url", url, "--attribute-names", "All",
              "--message-attribute-names", "All", "--max-number-of-messages", "10")
    (m,) = got["Messages"]
    assert m["Body"] == "from the cli" and m["MessageAttributes"]["k"]["StringValue"] == "v"
    attrs = aws(server, "get-queue-attributes", "--queue-url", url, "--attribute-names",
                "All")["Attributes"]
    assert attrs["VisibilityTimeout"] == "60"
    assert attrs["ApproximateNumberOfMessagesNotVisible"] == "1"
    aws(server, "delete-message", "--queue-url", url, "--receipt-handle", m["ReceiptHandle"])
    attrs = aws(server, "get-queue-attributes", "--queue-url", url, "--attribute-names",
                "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible")
    assert attrs["Attributes"] == {"ApproximateNumberOfMessages": "0",
                                   "ApproximateNumberOfMessagesNotVisible": "0"}
    assert url in aws(server, "list-queues", "--queue-name-prefix", "cli-")["QueueUrls"]
    aws(server, "delete-queue", "--queue-url", url)
