"""Re-handle the events that exhausted their retries: `remediate redrive QUEUE_URL`.

Two kinds of message land in the dead-letter queue, and both are understood:

- from an EventBridge rule's target (delivery failed after the rule's retry policy): the
  body is the event itself;
- from a Lambda function's asynchronous on-failure destination (the function raised on
  every attempt, e.g. the state table was unreachable): the body is Lambda's invocation
  record, whose `requestPayload` is the event.

Each event goes through the same pipeline as the Lambda. Its message is deleted only
after it was handled: any outcome but `failed`. A failed one stays and is made visible
again at the end of the run, so the next redrive sees it at once; so does a message that
is not an event at all (a person must look at it: it is reported `failed` with the
reason, never dropped). An event already handled comes back `duplicate` and is deleted.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from chalicelib.aws import translate
from chalicelib.context import Context
from chalicelib.errors import AutoremediateError, ConfigurationError, InvalidEvent
from chalicelib.log import logger
from chalicelib.outcome import Outcome

# long enough that a message is not received twice in one run (a run handles each in
# well under the Lambda timeout), short enough that an interrupted run frees them soon
VISIBILITY_SECONDS = 300
_REGION = re.compile(r"^https?://sqs[.-]([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/")
_QUEUE_URL = re.compile(r"^https?://[^/\s]+/\d{12}/[\w-]{1,80}(?:\.fifo)?$")


@dataclass(frozen=True)
class Redriven:
    message_id: str
    report: dict[str, Any]
    deleted: bool

    def to_json(self) -> dict[str, Any]:
        return {"message_id": self.message_id, **self.report, "deleted": self.deleted}


def event_of(body: str) -> dict[str, Any]:
    """The EventBridge event a dead-letter message carries (see the module docstring).

    Raises:
        InvalidEvent: the body is neither an event nor a Lambda invocation record.
    """
    from chalicelib.finding import parse

    data = parse(body.encode("utf-8"))
    if "requestContext" in data and "requestPayload" in data:  # Lambda's on-failure record
        payload = data["requestPayload"]
        if not isinstance(payload, dict):
            raise InvalidEvent("the invocation record's requestPayload is not an event")
        return payload
    return data


def redrive(ctx: Context, queue_url: str) -> Iterator[Redriven]:
    """Handle every message in the queue once; yields one result per message."""
    from chalicelib.outcome import report
    from chalicelib.pipeline import handle

    if not _QUEUE_URL.match(queue_url):
        raise ConfigurationError(f"not an SQS queue URL: {queue_url!r} (expected "
                                 "https://sqs.REGION.amazonaws.com/ACCOUNT/NAME)")
    match = _REGION.match(queue_url)
    sqs = ctx.aws.home_client("sqs", match.group(1) if match else None)
    ctx.store.ensure_table()
    kept: list[str] = []
    try:
        while True:
            with translate(f"receiving from {queue_url}"):
                messages = sqs.receive_message(
                    QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                    VisibilityTimeout=VISIBILITY_SECONDS).get("Messages", [])
            if not messages:
                return
            for message in messages:
                message_id = message["MessageId"]
                try:
                    event = event_of(message.get("Body", ""))
                    results = handle(event, ctx)
                    out = report(results[0].event_id, results)
                    failed = any(r.outcome is Outcome.FAILED for r in results)
                except (InvalidEvent, AutoremediateError) as exc:
                    out = {"event_id": None, "outcome": Outcome.FAILED,
                           "reason": f"{type(exc).__name__}: {' '.join(str(exc).split())}"}
                    failed = True
                if failed:
                    kept.append(message["ReceiptHandle"])
                else:
                    with translate(f"deleting a handled message from {queue_url}"):
                        sqs.delete_message(QueueUrl=queue_url,
                                           ReceiptHandle=message["ReceiptHandle"])
                logger.info("redriven", extra={"message_id": message_id,
                                               "outcome": out.get("outcome"),
                                               "deleted": not failed})
                yield Redriven(message_id, out, deleted=not failed)
    finally:
        _release(sqs, queue_url, kept)


def _release(sqs: Any, queue_url: str, handles: list[str]) -> None:
    """Make the messages we keep visible again now, not after VISIBILITY_SECONDS."""
    for start in range(0, len(handles), 10):
        entries = [{"Id": str(i), "ReceiptHandle": h, "VisibilityTimeout": 0}
                   for i, h in enumerate(handles[start:start + 10])]
        try:
            with translate(f"releasing kept messages in {queue_url}"):
                sqs.change_message_visibility_batch(QueueUrl=queue_url, Entries=entries)
        except AutoremediateError as exc:  # they become visible when the timeout passes
            logger.warning("could not release kept messages",
                           extra={"error": type(exc).__name__, "count": len(entries)})
