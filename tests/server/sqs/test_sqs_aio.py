"""aiobotocore: many tasks sending and long-polling at once over one server."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqs_harness import unique

aiobotocore_session = pytest.importorskip("aiobotocore.session")
from aiobotocore.config import AioConfig  # noqa: E402


def test_concurrent_send_and_long_poll(server: Any) -> None:
    async def main() -> tuple[list[str], list[str]]:
        session = aiobotocore_session.get_session()
        async with session.create_client(
                "sqs", endpoint_url=server.url, region_name="us-east-1",
                aws_access_key_id="AKIDAIO", aws_secret_access_key="x",
                # more connections than tasks: aiohttp's pool is not fair between waiters
                config=AioConfig(max_pool_connections=64)) as c:
            url = (await c.create_queue(QueueName=unique("aio")))["QueueUrl"]
            expected = [f"m{i}" for i in range(200)]
            received: list[str] = []

            async def consumer() -> None:
                while len(received) < len(expected):
                    r = await c.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                                WaitTimeSeconds=2)
                    msgs = r.get("Messages", [])
                    if msgs:
                        received.extend(m["Body"] for m in msgs)
                        await c.delete_message_batch(QueueUrl=url, Entries=[
                            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                            for i, m in enumerate(msgs)])

            async def producer(k: int) -> None:
                await asyncio.sleep(0.2)  # the consumers are already waiting
                for i in range(k, len(expected), 10):
                    await c.send_message(QueueUrl=url, MessageBody=expected[i])

            consumers = [asyncio.create_task(consumer()) for _ in range(20)]
            await asyncio.gather(*(producer(k) for k in range(10)))
            await asyncio.wait_for(asyncio.gather(*consumers), 60)
            attrs = (await c.get_queue_attributes(QueueUrl=url, AttributeNames=["All"]))
            assert attrs["Attributes"]["ApproximateNumberOfMessages"] == "0"
            assert attrs["Attributes"]["ApproximateNumberOfMessagesNotVisible"] == "0"
            return expected, received

    expected, received = asyncio.run(main())
    assert sorted(received) == sorted(expected)  # each exactly once
