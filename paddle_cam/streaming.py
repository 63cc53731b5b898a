"""Folder runs as a stream: the next page is read while the current one is explained, and pages
are written on a background thread while the next is explained; both queues are bounded, so memory
stays flat whatever the number of pages.

>>> list(prefetch(iter(range(3))))
[0, 1, 2]
>>> with BackgroundWriter() as w:
...     w.submit("a", lambda: 1)
...     [(key, value) for key, value, err in w.drain()]
[('a', 1)]
"""
from __future__ import annotations

import queue
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable, Deque, Iterable, Iterator, Optional, Tuple

_END = object()


def prefetch(items: Iterable[Any], depth: int = 1) -> Iterator[Any]:
    """``items`` produced on a background thread, at most ``depth`` ahead of the consumer; an
    exception of the producer is raised in the consumer at the point it happened."""
    q: "queue.Queue" = queue.Queue(maxsize=max(1, int(depth)))
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        q.put((item, None), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put((_END, None))
        except BaseException as e:  # handed to the consumer, not lost on the thread
            q.put((_END, e))

    t = threading.Thread(target=produce, name="paddle_cam-prefetch", daemon=True)
    t.start()
    try:
        while True:
            item, err = q.get()
            if item is _END:
                if err is not None:
                    raise err
                return
            yield item
    finally:
        stop.set()
        t.join(timeout=5)


class BackgroundWriter:
    """One writer thread with at most ``depth`` jobs in flight: :meth:`submit` waits for the oldest
    when the queue is full, so results never pile up in memory. Finished jobs come back, in order,
    from :meth:`done` (those finished so far) and :meth:`drain` (all), as ``(key, result, error)``."""

    def __init__(self, depth: int = 2):
        self.depth = max(1, int(depth))
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="paddle_cam-writer")
        self._pending: Deque[Tuple[Any, Future]] = deque()
        self._ready: Deque[Tuple[Any, Any, Optional[BaseException]]] = deque()

    def submit(self, key: Any, fn: Callable, *args, **kwargs) -> None:
        while len(self._pending) >= self.depth:
            self._collect(self._pending.popleft())
        self._pending.append((key, self._pool.submit(fn, *args, **kwargs)))

    def _collect(self, item: Tuple[Any, Future]) -> None:
        key, fut = item
        try:
            self._ready.append((key, fut.result(), None))
        except BaseException as e:
            self._ready.append((key, None, e))

    def done(self) -> Iterator[Tuple[Any, Any, Optional[BaseException]]]:
        """Jobs finished so far (in submission order), each once."""
        while self._pending and self._pending[0][1].done():
            self._collect(self._pending.popleft())
        while self._ready:
            yield self._ready.popleft()

    def drain(self) -> Iterator[Tuple[Any, Any, Optional[BaseException]]]:
        """Every job not yet returned, waiting for the unfinished ones."""
        while self._pending:
            self._collect(self._pending.popleft())
        while self._ready:
            yield self._ready.popleft()

    def close(self) -> None:
        """Wait for the jobs in flight (their outputs are complete files) and stop the thread."""
        self._pool.shutdown(wait=True)

    def __enter__(self) -> "BackgroundWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
