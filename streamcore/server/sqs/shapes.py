"""The input shapes of the 23 SQS actions, and the names the Query protocol
gives their lists and maps; written from the service model (API 2012-11-05).

Both protocols decode a request into the same form: the JSON protocol's
member names and types (blobs as bytes).  ``Struct`` members are scalars
(``STRING``, ``INTEGER``, ``BOOLEAN``, ``BLOB``), ``ListOf`` or ``MapOf``;
``query`` is the flattened element name Query requests use
(``AttributeName.1``, ``Attribute.1.Name``/``.Value``, ...).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

STRING = "string"
INTEGER = "integer"
BOOLEAN = "boolean"
BLOB = "blob"


@dataclass(frozen=True)
class ListOf:
    member: Shape
    query: str  # element name of each member in Query form


@dataclass(frozen=True)
class MapOf:
    value: Shape
    query: str
    key_name: str = "Name"
    value_name: str = "Value"


@dataclass(frozen=True)
class Struct:
    members: dict[str, Shape]
    required: frozenset[str] = field(default_factory=frozenset)
    # Query names differing from the member name (lists and maps).
    query_names: dict[str, tuple[str, ...]] = field(default_factory=dict)


Shape = str | ListOf | MapOf | Struct


def _s(members: dict[str, Shape], required: tuple[str, ...] = (),
       query: Mapping[str, tuple[str, ...]] | None = None) -> Struct:
    return Struct(members, frozenset(required), dict(query or {}))


_ATTRIBUTE_VALUE = _s({
    "StringValue": STRING,
    "BinaryValue": BLOB,
    "StringListValues": ListOf(STRING, "StringListValue"),
    "BinaryListValues": ListOf(BLOB, "BinaryListValue"),
    "DataType": STRING,
}, ("DataType",), {"StringListValues": ("StringListValue",),
                   "BinaryListValues": ("BinaryListValue",)})
_MESSAGE_ATTRIBUTES = MapOf(_ATTRIBUTE_VALUE, "MessageAttribute")
_SYSTEM_ATTRIBUTES = MapOf(_ATTRIBUTE_VALUE, "MessageSystemAttribute")
_QUEUE_ATTRIBUTES = MapOf(STRING, "Attribute")
_TAGS = MapOf(STRING, "Tag", "Key", "Value")

_SEND_FIELDS: dict[str, Shape] = {
    "MessageBody": STRING,
    "DelaySeconds": INTEGER,
    "MessageAttributes": _MESSAGE_ATTRIBUTES,
    "MessageSystemAttributes": _SYSTEM_ATTRIBUTES,
    "MessageDeduplicationId": STRING,
    "MessageGroupId": STRING,
}
_SEND_QUERY = {"MessageAttributes": ("MessageAttribute",),
               "MessageSystemAttributes": ("MessageSystemAttribute",)}

INPUTS: dict[str, Struct] = {
    "AddPermission": _s(
        {"QueueUrl": STRING, "Label": STRING,
         "AWSAccountIds": ListOf(STRING, "AWSAccountId"),
         "Actions": ListOf(STRING, "ActionName")},
        ("QueueUrl", "Label", "AWSAccountIds", "Actions"),
        {"AWSAccountIds": ("AWSAccountId",), "Actions": ("ActionName",)}),
    "CancelMessageMoveTask": _s({"TaskHandle": STRING}, ("TaskHandle",)),
    "ChangeMessageVisibility": _s(
        {"QueueUrl": STRING, "ReceiptHandle": STRING, "VisibilityTimeout": INTEGER},
        ("QueueUrl", "ReceiptHandle", "VisibilityTimeout")),
    "ChangeMessageVisibilityBatch": _s(
        {"QueueUrl": STRING,
         "Entries": ListOf(_s({"Id": STRING, "ReceiptHandle": STRING,
                               "VisibilityTimeout": INTEGER}, ("Id", "ReceiptHandle")),
                           "ChangeMessageVisibilityBatchRequestEntry")},
        ("QueueUrl", "Entries"), {"Entries": ("ChangeMessageVisibilityBatchRequestEntry",)}),
    "CreateQueue": _s(
        {"QueueName": STRING, "Attributes": _QUEUE_ATTRIBUTES, "tags": _TAGS},
        ("QueueName",), {"Attributes": ("Attribute",), "tags": ("Tag", "Tags")}),
    "DeleteMessage": _s({"QueueUrl": STRING, "ReceiptHandle": STRING},
                        ("QueueUrl", "ReceiptHandle")),
    "DeleteMessageBatch": _s(
        {"QueueUrl": STRING,
         "Entries": ListOf(_s({"Id": STRING, "ReceiptHandle": STRING},
                              ("Id", "ReceiptHandle")), "DeleteMessageBatchRequestEntry")},
        ("QueueUrl", "Entries"), {"Entries": ("DeleteMessageBatchRequestEntry",)}),
    "DeleteQueue": _s({"QueueUrl": STRING}, ("QueueUrl",)),
    "GetQueueAttributes": _s(
        {"QueueUrl": STRING, "AttributeNames": ListOf(STRING, "AttributeName")},
        ("QueueUrl",), {"AttributeNames": ("AttributeName",)}),
    "GetQueueUrl": _s({"QueueName": STRING, "QueueOwnerAWSAccountId": STRING}, ("QueueName",)),
    "ListDeadLetterSourceQueues": _s(
        {"QueueUrl": STRING, "NextToken": STRING, "MaxResults": INTEGER}, ("QueueUrl",)),
    "ListMessageMoveTasks": _s({"SourceArn": STRING, "MaxResults": INTEGER}, ("SourceArn",)),
    "ListQueueTags": _s({"QueueUrl": STRING}, ("QueueUrl",)),
    "ListQueues": _s({"QueueNamePrefix": STRING, "NextToken": STRING, "MaxResults": INTEGER}),
    "PurgeQueue": _s({"QueueUrl": STRING}, ("QueueUrl",)),
    "ReceiveMessage": _s(
        {"QueueUrl": STRING,
         "AttributeNames": ListOf(STRING, "AttributeName"),
         "MessageSystemAttributeNames": ListOf(STRING, "MessageSystemAttributeName"),
         "MessageAttributeNames": ListOf(STRING, "MessageAttributeName"),
         "MaxNumberOfMessages": INTEGER, "VisibilityTimeout": INTEGER,
         "WaitTimeSeconds": INTEGER, "ReceiveRequestAttemptId": STRING},
        ("QueueUrl",),
        {"AttributeNames": ("AttributeName",),
         "MessageSystemAttributeNames": ("MessageSystemAttributeName",
                                         "MessageSystemAttributeNames"),
         "MessageAttributeNames": ("MessageAttributeName",)}),
    "RemovePermission": _s({"QueueUrl": STRING, "Label": STRING}, ("QueueUrl", "Label")),
    "SendMessage": _s({"QueueUrl": STRING, **_SEND_FIELDS}, ("QueueUrl", "MessageBody"),
                      _SEND_QUERY),
    "SendMessageBatch": _s(
        {"QueueUrl": STRING,
         "Entries": ListOf(_s({"Id": STRING, **_SEND_FIELDS}, ("Id", "MessageBody"),
                              _SEND_QUERY), "SendMessageBatchRequestEntry")},
        ("QueueUrl", "Entries"), {"Entries": ("SendMessageBatchRequestEntry",)}),
    "SetQueueAttributes": _s({"QueueUrl": STRING, "Attributes": _QUEUE_ATTRIBUTES},
                             ("QueueUrl", "Attributes"), {"Attributes": ("Attribute",)}),
    "StartMessageMoveTask": _s(
        {"SourceArn": STRING, "DestinationArn": STRING, "MaxNumberOfMessagesPerSecond": INTEGER},
        ("SourceArn",)),
    "TagQueue": _s({"QueueUrl": STRING, "Tags": _TAGS}, ("QueueUrl", "Tags"),
                   {"Tags": ("Tag", "Tags")}),
    "UntagQueue": _s({"QueueUrl": STRING, "TagKeys": ListOf(STRING, "TagKey")},
                     ("QueueUrl", "TagKeys"), {"TagKeys": ("TagKey", "TagKeys")}),
}

# Actions that name no queue: a Query request for them sent to a queue URL is refused.
ACCOUNT_ACTIONS = frozenset(("CreateQueue", "GetQueueUrl", "ListQueues", "StartMessageMoveTask",
                             "ListMessageMoveTasks", "CancelMessageMoveTask"))

# Query (XML) responses: the element of each list member, and of each map entry.
XML_LIST_ELEMENTS: dict[str, str] = {
    "QueueUrls": "QueueUrl",
    "queueUrls": "QueueUrl",
    "Messages": "Message",
    "Failed": "BatchResultErrorEntry",
    "Results": "ListMessageMoveTasksResultEntry",
    "StringListValues": "StringListValue",
    "BinaryListValues": "BinaryListValue",
}
XML_MAP_ELEMENTS: dict[str, tuple[str, str, str]] = {
    "Attributes": ("Attribute", "Name", "Value"),
    "MessageAttributes": ("MessageAttribute", "Name", "Value"),
    "Tags": ("Tag", "Key", "Value"),
}
