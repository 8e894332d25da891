"""The webhook deliverer: posts the outbox (tickets and alerts) in background threads.

Sensors and ``finalize_run`` only record what to send (``integrations_pipeline/db/outbox.py``)
and call :func:`start_deliverer`, which returns at once: no scheduler tick waits on a webhook.
Bounded: a dispatcher thread hands at most ``queue_size`` due payloads to ``workers``
threads. Each attempt is one POST under a total deadline; a failed one is tried again after
an exponential backoff, until it is delivered. At least once: the claim on a row lasts longer
than any attempt can, and a deliverer that died after its POST has its claim expire, so the
payload is posted again with the same ``Idempotency-Key`` (the ticket's or alert's id).
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import threading
import time
from dataclasses import dataclass

from integrations_pipeline.db import outbox
from integrations_pipeline.db.engine import database_url, engine
from integrations_pipeline.http.webhook import DELIVERED, WEBHOOK_DEADLINE_SECONDS, WEBHOOK_ENV, post_webhook

_log = logging.getLogger(__name__)

WORKERS = 4
QUEUE_SIZE = 100
POLL_SECONDS = 2.0
BACKOFF_SECONDS = 5.0
MAX_BACKOFF_SECONDS = 900.0


@dataclass(frozen=True)
class DeliveryPolicy:
    """How the deliverer posts: the deadline of one attempt, the claim, the backoff."""

    deadline: float = WEBHOOK_DEADLINE_SECONDS
    backoff: float = BACKOFF_SECONDS
    max_backoff: float = MAX_BACKOFF_SECONDS
    claim: float | None = None  # seconds; by default far longer than an attempt can take

    @property
    def lease(self) -> float:
        # Longer than one attempt can take (the deadline cuts it), so a live deliverer never
        # loses its claim mid-post; a dead one's expires and the row is posted again.
        return self.claim if self.claim is not None else 6 * self.deadline + 1

    def retry_in(self, attempts: int) -> float:
        return float(min(self.max_backoff, self.backoff * 2 ** max(0, attempts - 1)))


def deliver_one(id: str, url: str | None = None, policy: DeliveryPolicy = DeliveryPolicy()) -> str | None:
    """Claim payload ``id``, post it once and record the outcome; None if it was not ours to
    post (delivered, not due, or another deliverer holds it)."""
    bound = engine(url)
    row = outbox.claim(bound, id, policy.lease)
    if row is None:
        return None
    result = post_webhook(row.payload, idempotency_key=row.id, deadline=policy.deadline)
    delivered = result.startswith(DELIVERED)
    outbox.finish(bound, id, row.attempts, result, None if delivered else policy.retry_in(row.attempts))
    if not delivered:
        _log.warning("webhook delivery of %s %s failed (attempt %d): %s", row.kind, id, row.attempts, result)
    return result


def deliver_due(
    url: str | None = None, limit: int = QUEUE_SIZE, policy: DeliveryPolicy = DeliveryPolicy()
) -> list[str]:
    """One pass in the calling thread: post what is due now (tests, a flush at the end)."""
    if not os.environ.get(WEBHOOK_ENV):
        return []
    results = [deliver_one(i, url, policy) for i in outbox.due(engine(url), limit)]
    return [r for r in results if r is not None]


class Deliverer:
    """A dispatcher thread and ``workers`` threads posting the outbox of database ``url``."""

    def __init__(
        self,
        url: str | None = None,
        *,
        workers: int = WORKERS,
        queue_size: int = QUEUE_SIZE,
        poll: float = POLL_SECONDS,
        policy: DeliveryPolicy = DeliveryPolicy(),
    ) -> None:
        self.url, self.poll, self.policy = url, poll, policy
        self._queue: queue.Queue[str] = queue.Queue(maxsize=queue_size)
        self._held: set[str] = set()  # queued or being posted by this deliverer
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._dispatch, name="webhook-dispatcher", daemon=True)]
        self._threads += [
            threading.Thread(target=self._work, name=f"webhook-worker-{n}", daemon=True)
            for n in range(workers)
        ]

    def start(self) -> Deliverer:
        for thread in self._threads:
            thread.start()
        return self

    def wake(self) -> None:
        """Look at the outbox now rather than at the next poll."""
        self._wake.set()

    def drain(self, timeout: float) -> None:
        """Wait up to ``timeout`` until nothing due is left unposted (an in-process run's
        alert, before its process exits)."""
        end = time.monotonic() + timeout
        while os.environ.get(WEBHOOK_ENV) and self.alive and time.monotonic() < end:
            with self._lock:
                held = bool(self._held)
            try:
                if not held and not outbox.due(engine(self.url), 1):
                    return
            except Exception:  # the database is gone: nothing more to do here
                return
            self.wake()
            time.sleep(0.05)

    def stop(self, timeout: float | None = None) -> None:
        """Stop taking work; wait up to ``timeout`` for the posts under way."""
        self._stop.set()
        self._wake.set()
        deadline = time.monotonic() + (self.policy.deadline + 1 if timeout is None else timeout)
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    @property
    def alive(self) -> bool:
        return not self._stop.is_set() and all(t.is_alive() for t in self._threads)

    def _dispatch(self) -> None:
        while not self._stop.is_set():
            if not os.environ.get(WEBHOOK_ENV):
                self._stop.set()  # nothing to post to: start_deliverer starts another if set again
                break
            try:
                self._fill()
            except Exception as error:  # the database may be away for a while: try again later
                _log.warning("webhook deliverer: cannot read the outbox: %s", error)
            self._wake.wait(self.poll)
            self._wake.clear()

    def _fill(self) -> None:
        room = self._queue.maxsize - self._queue.qsize()
        if room <= 0:
            return
        with self._lock:
            held = set(self._held)
        for id in outbox.due(engine(self.url), room, held):
            with self._lock:
                self._held.add(id)
            self._queue.put(id)

    def _work(self) -> None:
        while not self._stop.is_set():
            try:
                id = self._queue.get(timeout=self.poll)
            except queue.Empty:
                continue
            try:
                deliver_one(id, self.url, self.policy)
            except Exception:  # the row stays due; its claim expires
                _log.exception("webhook deliverer: delivering %s failed", id)
            finally:
                with self._lock:
                    self._held.discard(id)


# What start_deliverer's deliverers use (tests shorten it).
POLICY = DeliveryPolicy()
_DELIVERERS: dict[str, Deliverer] = {}
_DELIVERERS_LOCK = threading.Lock()


def start_deliverer(url: str | None = None) -> Deliverer | None:
    """This process's deliverer for database ``url``, started if need be, and woken. Returns
    at once; None when no webhook is configured."""
    if not os.environ.get(WEBHOOK_ENV):
        return None
    key = url or database_url()
    with _DELIVERERS_LOCK:
        deliverer = _DELIVERERS.get(key)
        if deliverer is None or not deliverer.alive:
            # One deliverer per process: one for another database (tests switch) stops.
            for other in _DELIVERERS.values():
                other.stop(timeout=0)
            _DELIVERERS.clear()
            deliverer = _DELIVERERS[key] = Deliverer(key, policy=POLICY).start()
    deliverer.wake()
    return deliverer


def stop_deliverers(timeout: float | None = None, drain: bool = False) -> None:
    """Stop this process's deliverers; with ``drain``, post what is due first (at exit: an
    in-process run's ticket or alert goes out before the command ends, within the deadline).
    What is left waits in the outbox for another process's deliverer."""
    with _DELIVERERS_LOCK:
        running = list(_DELIVERERS.values())
        _DELIVERERS.clear()
    for deliverer in running:
        if drain:
            deliverer.drain(deliverer.policy.deadline + 1)
        deliverer.stop(timeout)


atexit.register(stop_deliverers, drain=True)
