"""Amazon SQS: queue and message operations, the same for the json and the query protocol.

Every acknowledged send is committed before the answer; a receive marks its messages in flight
in the same transaction that selects them. Long polls wait in memory for a send to the queue.
https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/Welcome.html
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from functools import partial
from typing import Any

from sqlalchemy import Connection

from portside.auth.actions import Check
from portside.context import RequestContext
from portside.protocol.errors import AwsError, error
from portside.services.base import ResourcePolicy, Service
from portside.services.sqs import attributes as queue_attributes
from portside.services.sqs import delivery
from portside.services.sqs.access import ACTIONS
from portside.services.sqs.commits import GroupCommit
from portside.services.sqs.encryption import BodySealer, encrypts
from portside.services.sqs.fifo import (
    ATTEMPT_WINDOW,
    DEDUPLICATION_WINDOW,
    Attempt,
    ReceiveAttempts,
    sequence_number,
)
from portside.services.sqs.longpoll import Wakeups
from portside.services.sqs.names import (
    is_fifo_name,
    is_valid_name,
    parse_queue_arn,
    parse_queue_url,
    queue_arn,
    queue_url,
)
from portside.services.sqs.permissions import add_statement, remove_statement
from portside.services.sqs.receipts import Receipt, decode_receipt
from portside.services.sqs.registry import Queue, QueueRegistry
from portside.services.sqs.sending import Outgoing, message_size, prepare
from portside.services.sqs.views import View

MAX_BATCH_ENTRIES = 10
MAX_BATCH_BYTES = 1_048_576  # the sum of the messages of a SendMessageBatch
MAX_LIST_RESULTS = 1000
MAX_TAGS = 50
PURGE_INTERVAL = 60.0  # one PurgeQueue per queue per minute
SWEEP_INTERVAL = 60.0  # how often expired messages and deduplication records are removed
_BATCH_ID = re.compile(r"[A-Za-z0-9_-]{1,80}")


class Sqs(Service):
    name = "sqs"
    actions = ACTIONS
    # The message operations; the queue operations are management events.
    # https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/logging-using-cloudtrail.html
    data_events = frozenset({
        "SendMessage", "SendMessageBatch", "ReceiveMessage", "DeleteMessage",
        "DeleteMessageBatch", "ChangeMessageVisibility", "ChangeMessageVisibilityBatch"})

    def __init__(self, runtime) -> None:
        super().__init__(runtime)
        self.queues = QueueRegistry(runtime.store)
        self.commits = GroupCommit(runtime.store)
        self.wakeups = Wakeups()
        self.attempts = ReceiveAttempts()
        self.bodies = BodySealer(runtime.settings.data_dir, runtime.settings.master_key)

    # -- queues -------------------------------------------------------------------------------

    def create_queue(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        name = request["QueueName"]
        given = request.get("Attributes") or {}
        fifo = given.get("FifoQueue", "").lower() == "true"
        _check_name(name, fifo)
        changes = queue_attributes.normalize(given, fifo=fifo, creating=True)
        changes.pop("FifoQueue", None)
        tags = request.get("tags") or {}
        _check_tags(name, tags)
        self._check_redrive(ctx.region, ctx.account_id,
                            queue_arn(ctx.region, ctx.account_id, name), fifo, changes)
        existing = self.queues.get(ctx.account_id, ctx.region, name)
        if existing is not None:
            different = queue_attributes.differing(existing.attributes, changes)
            if different is not None:
                raise error("QueueNameExists", "A queue already exists with the same name and a "
                            f"different value for attribute {different}")
            return {"QueueUrl": self._url(ctx, existing)}
        now = time.time()
        stored = queue_attributes.apply(queue_attributes.defaults(fifo), changes)
        queue = self.queues.create(Queue(0, ctx.account_id, ctx.region, name, stored, tags,
                                         now, now))
        return {"QueueUrl": self._url(ctx, queue)}

    def get_queue_url(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        account_id = request.get("QueueOwnerAWSAccountId") or ctx.account_id
        queue = self.queues.get(account_id, ctx.region, request["QueueName"])
        if queue is None:
            raise _no_such_queue()
        return {"QueueUrl": self._url(ctx, queue)}

    def list_queues(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        prefix = request.get("QueueNamePrefix") or ""
        queues = [q for q in self.queues.in_region(ctx.account_id, ctx.region)
                  if q.name.startswith(prefix)]
        page, token = _page(queues, request)
        response: dict[str, Any] = {}
        if page:
            response["QueueUrls"] = [self._url(ctx, q) for q in page]
        if token:
            response["NextToken"] = token
        return response

    def list_dead_letter_source_queues(self, ctx: RequestContext,
                                       request: dict[str, Any]) -> dict[str, Any]:
        target = self._queue(ctx, request["QueueUrl"])
        sources = [q for q in self.queues.in_region(target.account_id, target.region)
                   if q.redrive and q.redrive.dead_letter_target_arn == target.arn]
        page, token = _page(sources, request)
        response: dict[str, Any] = {"queueUrls": [self._url(ctx, q) for q in page]}
        if token:
            response["NextToken"] = token
        return response

    def delete_queue(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        queue = self._queue(ctx, request["QueueUrl"])
        self.queues.delete(queue)
        self.wakeups.notify(queue.id)  # its long polls answer, empty
        return {}

    def get_queue_attributes(self, ctx: RequestContext,
                             request: dict[str, Any]) -> dict[str, Any]:
        queue = self._queue(ctx, request["QueueUrl"])
        names = request.get("AttributeNames") or []
        for name in names:
            if name != "All" and name not in queue_attributes.KNOWN:
                raise error("InvalidAttributeName", f"Unknown Attribute {name}.")
        wanted = queue_attributes.KNOWN if "All" in names else frozenset(names)
        found = {n: v for n, v in queue.attributes.items() if n in wanted}
        found.update(self._computed(queue, wanted))
        return {"Attributes": found} if found else {}

    def _computed(self, queue: Queue, wanted: frozenset[str]) -> dict[str, str]:
        values = {"QueueArn": queue.arn, "CreatedTimestamp": str(int(queue.created)),
                  "LastModifiedTimestamp": str(int(queue.last_modified))}
        found = {n: v for n, v in values.items() if n in wanted}
        counters = ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                    "ApproximateNumberOfMessagesDelayed")
        if wanted.intersection(counters):
            with self.runtime.store.begin() as conn:
                counts = delivery.counts(conn, queue, time.time())
            found.update({n: str(c) for n, c in zip(counters, counts, strict=True)
                          if n in wanted})
        return found

    def set_queue_attributes(self, ctx: RequestContext,
                             request: dict[str, Any]) -> dict[str, Any]:
        queue = self._queue(ctx, request["QueueUrl"])
        changes = queue_attributes.normalize(request["Attributes"], fifo=queue.fifo,
                                             creating=False)
        self._check_redrive(queue.region, queue.account_id, queue.arn, queue.fifo, changes)
        self.queues.update(queue, attributes=queue_attributes.apply(queue.attributes, changes),
                           last_modified=time.time())
        return {}

    def _check_redrive(self, region: str, account_id: str, source_arn: str, fifo: bool,
                       changes: dict[str, str]) -> None:
        """A RedrivePolicy must name an existing queue of the same type, account and region
        whose RedriveAllowPolicy admits the source."""
        value = changes.get("RedrivePolicy")
        if not value:
            return
        target_region, ref = parse_queue_arn(  # type: ignore[misc]  # normalize checked it
            queue_attributes.parse_redrive(value).dead_letter_target_arn)
        target = self.queues.get(ref.account_id, target_region, ref.name) \
            if (target_region, ref.account_id) == (region, account_id) else None
        reason = None
        if target is None:
            reason = "Dead letter target does not exist."
        elif target.fifo != fifo:
            reason = "Dead-letter queue must be same type of queue as the source."
        elif not target.redrive_allow.allows(source_arn):
            reason = "Dead letter target's RedriveAllowPolicy does not allow this queue."
        if reason:
            raise error("InvalidParameterValue",
                        f"Value {value} for parameter RedrivePolicy is invalid. Reason: {reason}")

    def add_permission(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        queue = self._queue(ctx, request["QueueUrl"])
        policy = add_statement(queue.attributes.get("Policy"), queue.arn, request["Label"],
                               request["AWSAccountIds"], request["Actions"])
        self._set_policy(queue, policy)
        return {}

    def remove_permission(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        queue = self._queue(ctx, request["QueueUrl"])
        self._set_policy(queue, remove_statement(queue.attributes.get("Policy"), queue.arn,
                                                 request["Label"]))
        return {}

    def _set_policy(self, queue: Queue, policy: str) -> None:
        changes = queue_attributes.normalize({"Policy": policy}, fifo=queue.fifo, creating=False)
        self.queues.update(queue, attributes=queue_attributes.apply(queue.attributes, changes),
                           last_modified=time.time())

    def tag_queue(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        queue = self._queue(ctx, request["QueueUrl"])
        tags = {**queue.tags, **request["Tags"]}
        _check_tags(queue.name, tags)
        self.queues.update(queue, tags=tags)
        return {}

    def untag_queue(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        queue = self._queue(ctx, request["QueueUrl"])
        removed = set(request["TagKeys"])
        self.queues.update(queue, tags={k: v for k, v in queue.tags.items() if k not in removed})
        return {}

    def list_queue_tags(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        queue = self._queue(ctx, request["QueueUrl"])
        return {"Tags": dict(queue.tags)} if queue.tags else {}

    def purge_queue(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        queue = self._queue(ctx, request["QueueUrl"])
        now = time.time()
        if queue.purged is not None and now - queue.purged < PURGE_INTERVAL:
            raise error("PurgeQueueInProgress", f"Only one PurgeQueue operation on {queue.name} "
                        f"is allowed every {int(PURGE_INTERVAL)} seconds.")
        with self.runtime.store.begin() as conn:
            delivery.purge(conn, queue.id)
        self.queues.update(queue, purged=now)
        return {}

    # -- sending ------------------------------------------------------------------------------

    async def send_message(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        queue = self._queue(ctx, request["QueueUrl"])
        now = time.time()
        message = prepare(queue, request, _sender_id(ctx), now, message_size(request))
        await self._enqueue(queue, [message], now)
        return message.answer

    async def send_message_batch(self, ctx: RequestContext,
                                 request: dict[str, Any]) -> dict[str, Any]:
        queue = self._queue(ctx, request["QueueUrl"])
        entries = request["Entries"]
        _check_batch(entries, "SendMessageBatchRequestEntry")
        sizes = [message_size(e) for e in entries]
        total = sum(sizes)
        if total > MAX_BATCH_BYTES:
            raise error("BatchRequestTooLong", f"Batch requests cannot be longer than "
                        f"{MAX_BATCH_BYTES} bytes. You have sent {total} bytes.")
        now = time.time()
        sender_id = _sender_id(ctx)
        messages: list[Outgoing] = []
        failed = []
        for entry, size in zip(entries, sizes, strict=True):
            try:
                message = prepare(queue, entry, sender_id, now, size)
            except AwsError as exc:
                failed.append(_failure(entry["Id"], exc))
                continue
            message.entry_id = entry["Id"]
            messages.append(message)
        await self._enqueue(queue, messages, now)
        return {"Successful": [{"Id": m.entry_id, **m.answer} for m in messages],
                "Failed": failed}

    async def _enqueue(self, queue: Queue, messages: list[Outgoing], now: float) -> None:
        """Store messages, committed before the answer, then wake the queue's long polls. FIFO
        queues answer a duplicate with the message it duplicates, and store it no second time."""
        if not messages:
            return
        if encrypts(queue.attributes):
            for message in messages:
                self.bodies.seal(message.row)
        if queue.fifo:
            await self.commits.run(partial(_enqueue_fifo, queue=queue, messages=messages,
                                           now=now))
        else:
            await self.commits.run(partial(delivery.enqueue, rows=[m.row for m in messages],
                                           want_ids=False))
        self.wakeups.notify(queue.id)

    # -- receiving ----------------------------------------------------------------------------

    async def receive_message(self, ctx: RequestContext,
                              request: dict[str, Any]) -> dict[str, Any]:
        queue = self._queue(ctx, request["QueueUrl"])
        limit = _bounded(request, "MaxNumberOfMessages", 1, 10, "Must be between 1 and 10, "
                         "if provided.")
        visibility = _bounded(request, "VisibilityTimeout", 0, delivery.MAX_VISIBILITY,
                              f"Must be >= 0 and <= {delivery.MAX_VISIBILITY}, if provided.")
        wait = _bounded(request, "WaitTimeSeconds", 0, 20, "Must be >= 0 and <= 20, if "
                        "provided.")
        if wait is None:
            wait = queue.seconds("ReceiveMessageWaitTimeSeconds")
        attempt_id = request.get("ReceiveRequestAttemptId") if queue.fifo else None
        view = View.of(request)
        deadline = time.monotonic() + wait
        while True:
            received, next_visible = await self._receive_now(queue, limit or 1, visibility,
                                                             attempt_id)
            remaining = deadline - time.monotonic()
            if received or remaining <= 0:
                if not received:
                    return {}
                return {"Messages": view.render(queue, received, self.bodies.body)}
            if next_visible is not None:
                remaining = min(remaining, max(next_visible - time.time(), 0.0))
            await self.wakeups.wait(queue.id, remaining)
            current = self.queues.get(*queue.key)
            if current is None or current.id != queue.id:
                return {}  # deleted while we waited
            queue = current

    async def _receive_now(self, queue: Queue, limit: int, visibility: int | None,
                           attempt_id: str | None) -> tuple[list[delivery.Received], float | None]:
        """Receive what is receivable now; when nothing is, also say when something next
        becomes visible (a delay or a visibility timeout ending)."""
        now = time.time()
        seconds = queue.seconds("VisibilityTimeout") if visibility is None else visibility
        attempt = self.attempts.recall(queue.id, attempt_id, now) if attempt_id else None
        dead_letter = self._dead_letter_queue(queue)

        def work(conn: Connection) -> tuple[delivery.Outcome, float | None]:
            retried = delivery.retake(conn, queue, attempt.receipts, attempt.visibility, now) \
                if attempt is not None else None
            if retried is not None:
                return delivery.Outcome(retried, set()), None
            outcome = delivery.receive(conn, queue, dead_letter, limit, seconds, now)
            return outcome, None if outcome.received else delivery.next_visible(conn, queue.id,
                                                                                 now)

        outcome, next_visible = await self.commits.run(work)
        for queue_id in outcome.dead_lettered_to:
            self.wakeups.notify(queue_id)
        if attempt_id and outcome.received:
            receipts = tuple((r.row.id, r.token) for r in outcome.received)
            self.attempts.remember(queue.id, attempt_id,
                                   Attempt(now + ATTEMPT_WINDOW, receipts, seconds))
        return outcome.received, next_visible

    def _dead_letter_queue(self, queue: Queue) -> Queue | None:
        if queue.redrive is None:
            return None
        found = parse_queue_arn(queue.redrive.dead_letter_target_arn)
        if found is None:
            return None
        region, ref = found
        return self.queues.get(ref.account_id, region, ref.name)

    # -- deleting and visibility --------------------------------------------------------------

    async def delete_message(self, ctx: RequestContext,
                             request: dict[str, Any]) -> dict[str, Any]:
        queue = self._queue(ctx, request["QueueUrl"])
        receipt = _receipt(queue, request["ReceiptHandle"])
        failure = (await self._delete(queue, [(receipt, request["ReceiptHandle"])]))[0]
        if failure is not None:
            raise failure
        return {}

    async def delete_message_batch(self, ctx: RequestContext,
                                   request: dict[str, Any]) -> dict[str, Any]:
        queue = self._queue(ctx, request["QueueUrl"])
        entries = request["Entries"]
        _check_batch(entries, "DeleteMessageBatchRequestEntry")
        return await self._batch(entries, partial(self._delete, queue),
                                 lambda entry: (_receipt(queue, entry["ReceiptHandle"]),
                                                entry["ReceiptHandle"]))

    async def _delete(self, queue: Queue,
                      items: Sequence[tuple[Receipt, str]]) -> list[AwsError | None]:
        failures, deleted = await self.commits.run(partial(_delete_received, queue=queue,
                                                           items=items, now=time.time()))
        if deleted and queue.fifo:
            self.wakeups.notify(queue.id)  # the messages' groups are open again
        return failures

    async def change_message_visibility(self, ctx: RequestContext,
                                        request: dict[str, Any]) -> dict[str, Any]:
        queue = self._queue(ctx, request["QueueUrl"])
        item = (_receipt(queue, request["ReceiptHandle"]), request["ReceiptHandle"],
                _visibility(request["VisibilityTimeout"]))
        failure = (await self._change_visibility(queue, [item]))[0]
        if failure is not None:
            raise failure
        return {}

    async def change_message_visibility_batch(self, ctx: RequestContext,
                                              request: dict[str, Any]) -> dict[str, Any]:
        queue = self._queue(ctx, request["QueueUrl"])
        entries = request["Entries"]
        _check_batch(entries, "ChangeMessageVisibilityBatchRequestEntry")
        return await self._batch(entries, partial(self._change_visibility, queue),
                                 lambda entry: (_receipt(queue, entry["ReceiptHandle"]),
                                                entry["ReceiptHandle"],
                                                _visibility(entry.get("VisibilityTimeout") or 0)))

    async def _change_visibility(self, queue: Queue, items: Sequence[tuple[Receipt, str, int]]
                                 ) -> list[AwsError | None]:
        failures = await self.commits.run(partial(_set_visibility, queue=queue, items=items,
                                                  now=time.time()))
        if any(f is None for f in failures):
            self.wakeups.notify(queue.id)
        return failures

    @staticmethod
    async def _batch(entries: list[dict[str, Any]],
                     run: Callable[[list[Any]], Awaitable[list[AwsError | None]]],
                     item_of: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
        """Run a batch of entries as one call; an entry that fails alone is reported in
        Failed while the others go on."""
        failed, valid, ids = [], [], []
        for entry in entries:
            try:
                valid.append(item_of(entry))
                ids.append(entry["Id"])
            except AwsError as exc:
                failed.append(_failure(entry["Id"], exc))
        successful = []
        for entry_id, failure in zip(ids, await run(valid) if valid else [], strict=True):
            if failure is None:
                successful.append({"Id": entry_id})
            else:
                failed.append(_failure(entry_id, failure))
        return {"Successful": successful, "Failed": failed}

    # -- hooks --------------------------------------------------------------------------------

    def authorization_checks(self, ctx: RequestContext, operation: str,
                             params: dict[str, Any]) -> list[Check]:
        checks = super().authorization_checks(ctx, operation, params)
        if operation == "CreateQueue" and params.get("tags"):
            # "To tag a queue on creation, you must have the sqs:CreateQueue and sqs:TagQueue
            # permissions" (CreateQueue API reference).
            checks.append(Check("sqs:TagQueue", checks[0].resource, checks[0].context))
        return checks

    def resource_policy(self, ctx: RequestContext, resource_arn: str) -> ResourcePolicy | None:
        found = parse_queue_arn(resource_arn)
        if found is None:
            return None
        region, ref = found
        queue = self.queues.get(ref.account_id, region, ref.name)
        policy = queue.attributes.get("Policy") if queue else None
        return ResourcePolicy(policy, queue.account_id) if queue and policy else None

    def background(self) -> list[Coroutine[Any, Any, None]]:
        return [self._sweep()]

    async def _sweep(self) -> None:
        """Remove what has expired, now and then; receives skip it in the meantime."""
        while True:
            await asyncio.sleep(SWEEP_INTERVAL)
            now = time.time()
            with self.runtime.store.begin() as conn:
                delivery.delete_expired(conn, self.queues.all(), now)
            self.attempts.forget_expired(now)

    def reset(self) -> None:
        self.queues.reset()
        self.attempts.reset()

    # -- helpers ------------------------------------------------------------------------------

    def _queue(self, ctx: RequestContext, url: str) -> Queue:
        ref = parse_queue_url(url)
        if ref is None:
            raise error("InvalidAddress", f"The address {url} is not valid for this endpoint.")
        queue = self.queues.get(ref.account_id, ctx.region, ref.name)
        if queue is None:
            raise _no_such_queue()
        return queue

    def _url(self, ctx: RequestContext, queue: Queue) -> str:
        settings = self.runtime.settings
        host = ctx.host or f"{settings.host}:{settings.port}"
        return queue_url(host, queue.account_id, queue.name)


def _delete_received(conn: Connection, queue: Queue, items: Sequence[tuple[Receipt, str]],
                     now: float) -> tuple[list[AwsError | None], bool]:
    """Delete received messages; say which handles failed and whether any row went. A standard
    queue takes a stale handle and deletes nothing (DeleteMessage API reference); a FIFO queue
    refuses a handle whose receive is over."""
    if not queue.fifo:
        delivery.delete_received(conn, queue.id, [(r.row_id, r.token) for r, _ in items])
        return [None] * len(items), True
    rows = delivery.rows_by_id(conn, queue.id, [r.row_id for r, _ in items])
    failures: list[AwsError | None] = []
    deletable = []
    for receipt, handle in items:
        row = rows.get(receipt.row_id)
        if row is not None and (row.receipt != receipt.token or row.visible_at <= now):
            failures.append(_expired_handle(handle))
            continue
        failures.append(None)
        if row is not None:
            deletable.append(row.id)
    delivery.delete_rows(conn, deletable)
    return failures, bool(deletable)


def _set_visibility(conn: Connection, queue: Queue, items: Sequence[tuple[Receipt, str, int]],
                    now: float) -> list[AwsError | None]:
    """Set how long received messages stay in flight, counted from now; at most 12 hours
    from their receive."""
    rows = delivery.rows_by_id(conn, queue.id, [r.row_id for r, _, _ in items])
    failures: list[AwsError | None] = []
    changes = []
    for receipt, handle, timeout in items:
        failure = _visibility_failure(rows.get(receipt.row_id), receipt, handle, timeout, now)
        failures.append(failure)
        if failure is None:
            changes.append((receipt.row_id, now + timeout))
    delivery.set_visible_at(conn, changes)
    return failures


def _enqueue_fifo(conn: Connection, queue: Queue, messages: list[Outgoing], now: float) -> None:
    """Store the messages whose deduplication scope was not used in the last five minutes (nor
    earlier in the batch); answer the others with the MessageId and SequenceNumber of the
    message they repeat."""
    known = delivery.recent_duplicates(conn, queue.id, {m.scope for m in messages}, now)
    fresh: list[Outgoing] = []
    repeats: list[Outgoing] = []
    for message in messages:
        if message.scope in known or any(m.scope == message.scope for m in fresh):
            repeats.append(message)
        else:
            fresh.append(message)
    row_ids = delivery.enqueue(conn, [m.row for m in fresh], want_ids=True)
    for message, row_id in zip(fresh, row_ids, strict=True):
        message.answer["SequenceNumber"] = sequence_number(row_id)
        known[message.scope] = (message.answer["MessageId"], row_id)  # type: ignore[index]
    for message in repeats:
        message_id, row_id = known[message.scope]  # type: ignore[index]
        message.answer["MessageId"] = message_id
        message.answer["SequenceNumber"] = sequence_number(row_id)
    delivery.remember_deduplication(
        conn, queue.id, [(m.scope, *known[m.scope]) for m in fresh],  # type: ignore[index]
        now + DEDUPLICATION_WINDOW)


def _check_name(name: str, fifo: bool) -> None:
    if fifo and not (is_fifo_name(name) and is_valid_name(name)):
        raise error("InvalidParameterValue", "The name of a FIFO queue can only include "
                    "alphanumeric characters, hyphens, or underscores, must end with .fifo "
                    "suffix and be 1 to 80 in length.")
    if not fifo and (is_fifo_name(name) or not is_valid_name(name)):
        raise error("InvalidParameterValue", "Can only include alphanumeric characters, "
                    "hyphens, or underscores. 1 to 80 in length")


def _check_tags(queue_name: str, tags: dict[str, str]) -> None:
    """Queue tag quotas: 50 tags, keys of 1 to 128 characters, values of up to 256.
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-queues.html"""
    if len(tags) > MAX_TAGS:
        raise error("InvalidParameterValue", f"Too many tags added for queue {queue_name}.")
    for key, value in tags.items():
        if not 0 < len(key) <= 128 or len(value) > 256:
            raise error("InvalidParameterValue", "Tag keys must be between 1 and 128 characters "
                        "and tag values at most 256 characters in length.")


def _check_batch(entries: list[dict[str, Any]], entry_name: str) -> None:
    if not entries:
        raise error("EmptyBatchRequest",
                    f"There should be at least one {entry_name} in the request.")
    if len(entries) > MAX_BATCH_ENTRIES:
        raise error("TooManyEntriesInBatchRequest", "Maximum number of entries per request are "
                    f"{MAX_BATCH_ENTRIES}. You have sent {len(entries)}.")
    seen: set[str] = set()
    for entry in entries:
        entry_id = entry["Id"]
        if not _BATCH_ID.fullmatch(entry_id):
            raise error("InvalidBatchEntryId", "A batch entry id can only contain alphanumeric "
                        "characters, hyphens and underscores. It can be at most 80 letters long.")
        if entry_id in seen:
            raise error("BatchEntryIdsNotDistinct", f"Id {entry_id} repeated.")
        seen.add(entry_id)


def _failure(entry_id: str, exc: AwsError) -> dict[str, Any]:
    return {"Id": entry_id, "SenderFault": exc.sender_fault, "Code": exc.code,
            "Message": exc.message}


def _page(queues: list[Queue], request: dict[str, Any]) -> tuple[list[Queue], str | None]:
    """A page of queues by name, after NextToken; a token when MaxResults left some out."""
    limit = request.get("MaxResults")
    if limit is not None and not 1 <= limit <= MAX_LIST_RESULTS:
        raise error("InvalidParameterValue", f"Value {limit} for parameter MaxResults is "
                    f"invalid. Reason: MaxResults must be an integer between 1 and "
                    f"{MAX_LIST_RESULTS}.")
    ordered = sorted(queues, key=lambda q: q.name)
    if token := request.get("NextToken"):
        after = _decode_token(token)
        ordered = [q for q in ordered if q.name > after]
    page = ordered[: limit or MAX_LIST_RESULTS]
    more = limit is not None and len(ordered) > limit
    return page, _encode_token(page[-1].name) if more else None


def _encode_token(name: str) -> str:
    return base64.urlsafe_b64encode(f"after:{name}".encode()).decode()


def _decode_token(token: str) -> str:
    try:
        kind, _, name = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
    except (ValueError, UnicodeError, binascii.Error):
        kind, name = "", ""
    if kind != "after":
        raise error("InvalidParameterValue", "Invalid NextToken value.")
    return name


def _bounded(request: dict[str, Any], name: str, low: int, high: int, reason: str) -> int | None:
    value = request.get(name)
    if value is not None and not low <= value <= high:
        raise error("InvalidParameterValue",
                    f"Value {value} for parameter {name} is invalid. Reason: {reason}")
    return value


def _visibility(timeout: int) -> int:
    return _bounded({"VisibilityTimeout": timeout}, "VisibilityTimeout", 0,  # type: ignore
                    delivery.MAX_VISIBILITY,
                    f"Must be >= 0 and <= {delivery.MAX_VISIBILITY}, if provided.")


def _visibility_failure(row: Any, receipt: Receipt, handle: str, timeout: int,
                        now: float) -> AwsError | None:
    """Why a ChangeMessageVisibility cannot apply to this receipt, if it cannot."""
    if row is None:
        return error("InvalidParameterValue", f"Value {handle} for parameter ReceiptHandle is "
                     "invalid. Reason: Message does not exist or is not available for "
                     "visibility timeout change.")
    if row.receipt != receipt.token:
        return _expired_handle(handle)
    if row.visible_at <= now:
        return error("MessageNotInflight", "The message referred to isn't in flight.")
    if now - row.received + timeout > delivery.MAX_VISIBILITY:
        return error("InvalidParameterValue", f"Value {timeout} for parameter VisibilityTimeout "
                     "is invalid. Reason: Total VisibilityTimeout for the message is beyond the "
                     f"limit [{delivery.MAX_VISIBILITY} seconds]")
    return None


def _receipt(queue: Queue, handle: str) -> Receipt:
    receipt = decode_receipt(handle)
    if receipt is None or receipt.queue_id != queue.id:
        raise error("ReceiptHandleIsInvalid",
                    f'The input receipt handle "{handle}" is not a valid receipt handle.')
    return receipt


def _expired_handle(handle: str) -> AwsError:
    return error("InvalidParameterValue", f"Value {handle} for parameter ReceiptHandle is "
                 "invalid. Reason: The receipt handle has expired.")


def _no_such_queue() -> AwsError:
    return error("QueueDoesNotExist", "The specified queue does not exist.")


def _sender_id(ctx: RequestContext) -> str:
    """SenderId: the account for the root, AIDA… for users, AROA…:session for roles."""
    return ctx.principal.user_id or ctx.principal.account_id
