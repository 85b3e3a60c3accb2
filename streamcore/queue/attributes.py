"""Queue attributes: names, defaults, ranges and SQS's checks on them.

Every value is a string, as on the wire.  ``check`` validates what
CreateQueue or SetQueueAttributes was given and returns it normalised
(booleans lower-case, policies as compact JSON); the service stores that.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..ascii_numbers import is_digits
from .errors import InvalidAttributeNameError, InvalidAttributeValueError

# (minimum, maximum) of the integer attributes.
RANGES: dict[str, tuple[int, int]] = {
    "DelaySeconds": (0, 900),
    "MaximumMessageSize": (1024, 1_048_576),
    "MessageRetentionPeriod": (60, 1_209_600),
    "ReceiveMessageWaitTimeSeconds": (0, 20),
    "VisibilityTimeout": (0, 43_200),
    "KmsDataKeyReusePeriodSeconds": (60, 86_400),
}

DEFAULTS: dict[str, str] = {
    "DelaySeconds": "0",
    "MaximumMessageSize": "1048576",
    "MessageRetentionPeriod": "345600",
    "ReceiveMessageWaitTimeSeconds": "0",
    "VisibilityTimeout": "30",
    "SqsManagedSseEnabled": "true",
}

FIFO_DEFAULTS: dict[str, str] = {
    "FifoQueue": "true",
    "ContentBasedDeduplication": "false",
    "DeduplicationScope": "queue",
    "FifoThroughputLimit": "perQueue",
}

FIFO_ONLY = frozenset(("ContentBasedDeduplication", "DeduplicationScope", "FifoThroughputLimit"))
WRITABLE = frozenset(RANGES) | FIFO_ONLY | frozenset((
    "Policy", "RedrivePolicy", "RedriveAllowPolicy", "KmsMasterKeyId", "SqsManagedSseEnabled",
))
COMPUTED = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
    "CreatedTimestamp",
    "LastModifiedTimestamp",
    "QueueArn",
)
# Every name GetQueueAttributes knows ("All" aside).
READABLE = WRITABLE | frozenset(COMPUTED) | frozenset(("FifoQueue",))

_CHOICES: dict[str, tuple[str, ...]] = {
    "ContentBasedDeduplication": ("true", "false"),
    "SqsManagedSseEnabled": ("true", "false"),
    "DeduplicationScope": ("messageGroup", "queue"),
    "FifoThroughputLimit": ("perQueue", "perMessageGroupId"),
}


def _bad(name: str, reason: str | None = None) -> InvalidAttributeValueError:
    text = f"Invalid value for the parameter {name}."
    return InvalidAttributeValueError(text if reason is None else f"{text} Reason: {reason}")


def _json_map(name: str, value: str) -> dict[str, Any]:
    try:
        obj = json.loads(value)
    except ValueError:
        obj = None
    if not isinstance(obj, dict):
        raise _bad(name, f"{name} is not a valid JSON map.")
    return obj


def parse_redrive_policy(value: str) -> tuple[str, int]:
    """(deadLetterTargetArn, maxReceiveCount) of a RedrivePolicy value."""
    obj = _json_map("RedrivePolicy", value)
    arn = obj.get("deadLetterTargetArn")
    count = obj.get("maxReceiveCount")
    if not isinstance(arn, str) or not arn.startswith("arn:"):
        raise _bad("RedrivePolicy", "Invalid value for deadLetterTargetArn.")
    if isinstance(count, str) and is_digits(count.strip()):
        count = int(count)
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 1000:
        raise _bad("RedrivePolicy", "Invalid value for maxReceiveCount: must be 1 to 1000.")
    extra = set(obj) - {"deadLetterTargetArn", "maxReceiveCount"}
    if extra:
        raise _bad("RedrivePolicy", f"Unknown key {sorted(extra)[0]}.")
    return arn, count


def parse_redrive_allow_policy(value: str) -> tuple[str, list[str]]:
    """(redrivePermission, sourceQueueArns) of a RedriveAllowPolicy value."""
    obj = _json_map("RedriveAllowPolicy", value)
    permission = obj.get("redrivePermission")
    arns = obj.get("sourceQueueArns", [])
    if permission not in ("allowAll", "denyAll", "byQueue"):
        raise _bad("RedriveAllowPolicy", "Invalid value for redrivePermission.")
    if not isinstance(arns, list) or not all(isinstance(a, str) for a in arns):
        raise _bad("RedriveAllowPolicy", "sourceQueueArns must be a list of ARNs.")
    if permission == "byQueue" and not 1 <= len(arns) <= 10:
        raise _bad("RedriveAllowPolicy",
                   "byQueue needs between 1 and 10 source queue ARNs in sourceQueueArns.")
    if permission != "byQueue" and arns:
        raise _bad("RedriveAllowPolicy",
                   "sourceQueueArns is allowed only when redrivePermission is byQueue.")
    return permission, arns


def check(attributes: Mapping[str, Any], *, fifo: bool, creating: bool) -> dict[str, str]:
    """Validate attributes for CreateQueue (``creating``) or SetQueueAttributes.

    Returns them normalised.  Unknown or read-only names give
    InvalidAttributeName; FIFO-only names on a standard queue too; bad values
    give InvalidAttributeValue.  A RedrivePolicy, Policy or RedriveAllowPolicy
    of "" means "remove" and is returned as "".  FifoQueue is handled by the
    caller at creation (it cannot change later)."""
    out: dict[str, str] = {}
    for name, value in attributes.items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise InvalidAttributeValueError("Attribute names and values must be strings.")
        if name == "FifoQueue":
            if creating:
                continue
            if fifo:
                raise _bad(name, "Modifying queue type is not supported.")
            raise InvalidAttributeNameError(f"Unknown Attribute {name}.")
        if name not in WRITABLE:
            raise InvalidAttributeNameError(f"Unknown Attribute {name}.")
        if name in FIFO_ONLY and not fifo:
            raise InvalidAttributeNameError(
                f"You can specify the {name} only when FifoQueue is set to true.")
        if name in RANGES:
            lo, hi = RANGES[name]
            text = value.strip()
            if not (is_digits(text) and lo <= int(text) <= hi):
                raise _bad(name)
            out[name] = str(int(text))
        elif name in _CHOICES:
            v = value.lower() if _CHOICES[name][0] == "true" else value
            if v not in _CHOICES[name]:
                raise _bad(name)
            out[name] = v
        elif name == "RedrivePolicy":
            if value == "":
                out[name] = ""
            else:
                arn, count = parse_redrive_policy(value)
                out[name] = json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": count},
                                       separators=(",", ":"))
        elif name == "RedriveAllowPolicy":
            if value == "":
                out[name] = ""
            else:
                permission, arns = parse_redrive_allow_policy(value)
                obj: dict[str, Any] = {"redrivePermission": permission}
                if arns:
                    obj["sourceQueueArns"] = arns
                out[name] = json.dumps(obj, separators=(",", ":"))
        elif name == "Policy":
            if value == "":
                out[name] = ""
            else:
                out[name] = json.dumps(_json_map(name, value), separators=(",", ":"))
        else:  # KmsMasterKeyId: stored and echoed
            if len(value) > 2048:
                raise _bad(name)
            out[name] = value
    return out


def check_combination(merged: Mapping[str, str]) -> None:
    """Rules across attributes, checked on the queue's attributes after a change."""
    if (merged.get("FifoThroughputLimit") == "perMessageGroupId"
            and merged.get("DeduplicationScope") == "queue"):
        raise _bad("FifoThroughputLimit",
                   "perMessageGroupId needs DeduplicationScope set to messageGroup.")
