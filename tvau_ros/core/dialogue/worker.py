"""A bounded worker pool: questions are answered off the caller's thread, and a full queue is
refused at once (``Busy``) instead of making callers wait without end.

>>> worker = QueryWorker(workers=1, max_queue=0)
>>> worker.submit(lambda: 6 * 7).result(timeout=5)
42
>>> worker.shutdown()
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor


class Busy(RuntimeError):
    """Every worker is answering and the queue is full."""


class QueryWorker:
    def __init__(self, workers: int = 1, max_queue: int = 4):
        if workers < 1 or max_queue < 0:
            raise ValueError(f"workers must be >= 1 and max_queue >= 0, got {workers} and {max_queue}")
        self.workers, self.max_queue = workers, max_queue
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tvau_query")
        self._lock = threading.Lock()
        self._in_flight = 0
        self.refused = 0

    @property
    def in_flight(self) -> int:
        """Questions being answered or waiting."""
        with self._lock:
            return self._in_flight

    def submit(self, job: Callable[[], object]) -> Future:
        with self._lock:
            if self._in_flight >= self.workers + self.max_queue:
                self.refused += 1
                raise Busy(f"busy: {self._in_flight} questions are being answered or waiting "
                           f"(at most {self.workers + self.max_queue}); ask again shortly")
            self._in_flight += 1
        future = self._pool.submit(job)
        future.add_done_callback(self._done)
        return future

    def _done(self, _future: Future) -> None:
        with self._lock:
            self._in_flight -= 1

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
