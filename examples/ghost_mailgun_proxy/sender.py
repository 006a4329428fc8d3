"""The background sender: every stored batch, one message per recipient, through ``AsyncSesClient``.

Each recipient goes through the database on its way out:

1. skipped if its address is suppressed (a ``failed`` event with 605, or 607 for a complaint, for Ghost);
2. claimed (``pending`` → ``sending``, with the attempt number and the send id it is tagged with, committed)
   before the request leaves;
3. settled after SES answers: ``sent`` with SES's message id, ``failed`` if SES refused it, or back to
   ``pending`` when SES asked to come back later (throttling or a transient failure after sesflow's own
   retries: the message certainly was not sent).

A recipient whose request may have left without its answer being recorded (found ``sending`` when the proxy
starts, or no answer came back) is the question :mod:`.reconcile` answers. In the ``exactly-once`` mode it
is held ``unconfirmed``, reported to nobody, until an SES event with its tag settles it (the event worker
does that) or, after ``send_event_window`` seconds without one, it is sent again. Without ``Send`` events it
is given up (``at-most-once``: ``unknown``, reported to nobody) or sent again at once (``at-least-once``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from sesflow.sending import AsyncSesClient, SendingError, SendOutcomeUnknown, SesError, ValidationError

from .compose import compose
from .crashpoints import crash_point
from .mailgun import Batch, Recipient
from .mapping import refused_row, suppressed_row, testmode_rows
from .reconcile import DeliveryMode, doubt_state, resend_due, send_id, send_tag
from .settings import Settings
from .store import Store, message_info

__all__ = ["BatchSender"]

log = logging.getLogger("ghost_mailgun_proxy.sender")

_RETRY_DELAYS = (5.0, 15.0, 60.0, 300.0, 600.0)
# While the event worker has not caught up with its queue, how often a batch looks again.
_NOT_READY_POLL = 1.0


class BatchSender:
    """Sends the batches of ``store`` through ``ses`` (an open :class:`~sesflow.sending.AsyncSesClient`).

    :meth:`start` resumes what a previous process left; :meth:`submit` starts a new batch; :meth:`stop` lets
    sends in flight finish for ``settings.shutdown_grace`` seconds, then cancels them (they stay ``sending``
    and are handled by the next :meth:`start`). ``mode`` says what happens to a send whose outcome is
    unknown; ``events_ready`` says since when the event worker has been caught up with its queue (None: not
    now), and :meth:`notify` is what the worker calls when it settles a recipient.
    """

    def __init__(
        self,
        store: Store,
        ses: AsyncSesClient,
        settings: Settings,
        *,
        mode: DeliveryMode = "at-most-once",
        events_ready: Callable[[], float | None] = lambda: None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._ses = ses
        self._settings = settings
        self.mode: DeliveryMode = mode
        self._events_ready = events_ready
        self._clock = clock
        self._slots = asyncio.Semaphore(settings.send_concurrency)
        self._batches: dict[str, asyncio.Task[None]] = {}
        self._sends: set[asyncio.Task[bool]] = set()
        self._stopping = asyncio.Event()
        self._wake: dict[str, asyncio.Event] = {}

    async def start(self) -> None:
        """Settle the recipients a stopped process left in flight, and resume every unfinished batch."""
        touched: set[str] = set()
        for batch_id, recipient, state in await self._store.run(
            self._store.interrupted, doubt_state(self.mode)
        ):
            touched.add(batch_id)
            if state == "unconfirmed":
                log.warning(
                    "%s of %s was in flight when the proxy stopped: waiting for its Send event "
                    "(sent again only if none comes within %g s)",
                    recipient.address,
                    batch_id,
                    self._settings.send_event_window,
                )
            elif state == "pending":
                log.warning(
                    "resending %s of %s: it was in flight when the proxy stopped", recipient.address, batch_id
                )
            else:
                log.warning(
                    "not resending %s of %s: it was in flight when the proxy stopped and SES may have it",
                    recipient.address,
                    batch_id,
                )
        for batch_id in touched:
            await self._store.run(self._store.finish_batch, batch_id)
        for batch_id in await self._store.run(self._store.unfinished_batches):
            log.info("resuming batch %s", batch_id)
            self.submit(batch_id)

    def submit(self, batch_id: str) -> None:
        """Start sending a stored batch (no-op if it is already being sent or the sender is stopping)."""
        if self._stopping.is_set() or batch_id in self._batches:
            return
        task = asyncio.create_task(self._run_batch(batch_id), name=f"ghost-batch-{batch_id}")
        self._batches[batch_id] = task
        task.add_done_callback(lambda _: self._batches.pop(batch_id, None))

    def notify(self, batch_id: str) -> None:
        """A recipient of ``batch_id`` was settled by an SES event: let the batch look again."""
        wake = self._wake.get(batch_id)
        if wake is not None:
            wake.set()

    async def wait_batch(self, batch_id: str) -> None:
        """Wait until ``batch_id`` is no longer being sent (finished, or stopped with the sender)."""
        task = self._batches.get(batch_id)
        if task is not None:
            await asyncio.gather(task, return_exceptions=True)

    async def wait_idle(self) -> None:
        """Wait until no batch is being sent (scheduled ones included)."""
        while self._batches:
            await asyncio.gather(*list(self._batches.values()), return_exceptions=True)

    async def stop(self) -> None:
        """Stop: no new sends; sends in flight get ``shutdown_grace`` seconds, then all is cancelled."""
        self._stopping.set()
        if self._sends:
            _, pending = await asyncio.wait(set(self._sends), timeout=self._settings.shutdown_grace)
            for send in pending:
                send.cancel()
        batches = list(self._batches.values())
        for batch in batches:
            batch.cancel()
        await asyncio.gather(*batches, *self._sends, return_exceptions=True)

    # ------------------------------------------------------------------------------------------- the run

    async def _sleep(self, seconds: float, wake: asyncio.Event | None = None) -> bool:
        """Sleep (until ``wake`` is set, if given), or return False at once when the sender stops."""
        waits = [asyncio.ensure_future(self._stopping.wait())]
        if wake is not None:
            waits.append(asyncio.ensure_future(wake.wait()))
        try:
            await asyncio.wait(waits, timeout=max(0.0, seconds), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in waits:
                waiting.cancel()
        return not self._stopping.is_set()

    async def _run_batch(self, batch_id: str) -> None:
        wake = self._wake.setdefault(batch_id, asyncio.Event())
        try:
            batch, configuration_set = await self._store.run(self._store.batch, batch_id)
            if batch.deliver_at is not None and batch.deliver_at > self._clock():
                log.info("batch %s is scheduled for %s", batch_id, batch.deliver_at)
                if not await self._sleep(batch.deliver_at - self._clock()):
                    return
            attempt = 0
            while not self._stopping.is_set():
                recipients = await self._store.run(self._store.pending, batch_id)
                if recipients:
                    if not await self._send_all(batch, configuration_set, recipients):
                        attempt = 0
                        continue
                    delay = _RETRY_DELAYS[min(attempt, len(_RETRY_DELAYS) - 1)]
                    attempt += 1
                    log.warning(
                        "batch %s: some sends must be retried; trying again in %.0f s", batch_id, delay
                    )
                    if not await self._sleep(delay):
                        return
                    continue
                wake.clear()
                doubts = await self._store.run(self._store.doubts, batch_id)
                if not doubts:
                    break
                due, wait = resend_due(
                    doubts,
                    ready_at=self._events_ready(),
                    window=self._settings.send_event_window,
                    now=self._clock(),
                )
                for doubt in due:
                    if await self._store.run(self._store.expire, batch_id, doubt):
                        log.warning(
                            "sending recipient %d of %s again: no SES event for attempt %d within %g s",
                            doubt.index,
                            batch_id,
                            doubt.attempt,
                            self._settings.send_event_window,
                        )
                if due:
                    continue
                if not await self._sleep(_NOT_READY_POLL if wait is None else wait, wake):
                    return
            if await self._store.run(self._store.finish_batch, batch_id):
                log.info("batch %s finished", batch_id)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception(
                "batch %s stopped on an unexpected error; it resumes when the proxy restarts", batch_id
            )
        finally:
            self._wake.pop(batch_id, None)

    async def _send_all(self, batch: Batch, configuration_set: str, recipients: list[Recipient]) -> bool:
        """Send to every recipient (``send_concurrency`` at a time); True if any must be retried later."""
        retry = False
        running: set[asyncio.Task[bool]] = set()
        for recipient in recipients:
            if self._stopping.is_set():
                break
            await self._slots.acquire()
            if self._stopping.is_set():
                self._slots.release()
                break
            task = asyncio.create_task(self._send_one(batch, configuration_set, recipient))
            running.add(task)
            self._sends.add(task)
            task.add_done_callback(self._sends.discard)
            task.add_done_callback(lambda _: self._slots.release())
        for outcome in await asyncio.gather(*running, return_exceptions=True):
            if isinstance(outcome, asyncio.CancelledError):
                raise outcome
            if isinstance(outcome, BaseException):
                log.error("a send of batch %s failed unexpectedly: %r", batch.id, outcome)
                retry = True
            elif outcome:
                retry = True
        return retry

    async def _in_doubt(self, batch: Batch, recipient: Recipient, why: str) -> None:
        """The request may have left and no answer is known: what :attr:`mode` says to do."""
        state = doubt_state(self.mode)
        changed = await self._store.run(self._store.doubt, batch.id, recipient.index, state, why)
        if not changed:
            return  # an SES event settled it meanwhile
        if self.mode == "exactly-once":
            log.warning(
                "no answer from SES for %s of %s (%s): waiting for its Send event",
                recipient.address,
                batch.id,
                why,
            )
        elif self.mode == "at-least-once":
            log.warning(
                "no answer from SES for %s of %s (%s): sending it again", recipient.address, batch.id, why
            )
        else:
            log.error(
                "no answer from SES for %s of %s (%s): not sending it again", recipient.address, batch.id, why
            )

    async def _send_one(self, batch: Batch, configuration_set: str, recipient: Recipient) -> bool:
        """Send to one recipient; True when it must be tried again later."""
        store = self._store
        info = message_info(batch, recipient)
        kind = await store.run(store.suppression_of, recipient.address)
        if kind is not None:
            row = suppressed_row(info, recipient.address, kind, self._clock(), recipient.index)
            await store.run(store.settle, batch.id, recipient.index, "skipped", detail=kind, rows=[row])
            return False
        if batch.testmode:
            rows = testmode_rows(info, recipient.address, self._clock(), recipient.index)
            await store.run(store.settle, batch.id, recipient.index, "testmode", rows=rows)
            return False
        attempt = await store.run(store.claim, batch.id, recipient.index)
        if attempt is None:
            return False  # already handled (by another run of this batch, or settled by an SES event)
        try:
            message = compose(
                batch,
                recipient,
                configuration_set=configuration_set,
                unsubscribe_mailto=self._settings.unsubscribe_mailto,
                send_tag=send_tag(send_id(batch.id, recipient.index), attempt),
            )
        except ValidationError as exc:
            row = refused_row(
                info, recipient.address, self._clock(), recipient.index, "InvalidMessage", str(exc)
            )
            await store.run(store.settle, batch.id, recipient.index, "failed", detail=str(exc), rows=[row])
            return False
        crash_point("intent-recorded")
        try:
            result = await self._ses.send(message)
        except SendOutcomeUnknown as exc:
            await self._in_doubt(batch, recipient, str(exc))
            return False
        except SesError as exc:
            if exc.retryable or exc.stops_bulk:
                log.warning(
                    "SES cannot take %s of %s now (%s); retrying later", recipient.address, batch.id, exc
                )
                await store.run(store.release, batch.id, recipient.index)
                return True
            code = exc.code or type(exc).__name__
            row = refused_row(info, recipient.address, self._clock(), recipient.index, code, exc.ses_message)
            await store.run(store.settle, batch.id, recipient.index, "failed", detail=str(exc), rows=[row])
            return False
        except SendingError as exc:
            row = refused_row(
                info, recipient.address, self._clock(), recipient.index, type(exc).__name__, str(exc)
            )
            await store.run(store.settle, batch.id, recipient.index, "failed", detail=str(exc), rows=[row])
            return False
        except Exception as exc:
            # Whether the request left is unknown: the same question as for an interrupted send.
            log.exception("sending to %s of %s failed unexpectedly", recipient.address, batch.id)
            await self._in_doubt(batch, recipient, repr(exc))
            return False
        crash_point("answer-received")
        found = await store.run(store.record_sent, batch.id, recipient.index, result.message_id)
        if found.outcome == "duplicate":
            log.error(
                "%s of %s got the message twice: SES accepted %s after an earlier attempt was settled",
                recipient.address,
                batch.id,
                result.message_id,
            )
        return False
