"""What ``fetch`` and ``secure_fetch`` return: the seed's ``{ data }`` plus status and headers,
and, inside an ``async`` workflow, a fetch already on its way.

The seed's ``fetch`` returns a promise: ``await Promise.all([fetch(a), fetch(b)])`` runs both at
once. Here a fetch called while an event loop runs in the thread (an ``async`` workflow) starts
at once on a worker thread and returns a result still in flight; awaiting it (alone, or
together under ``asyncio.gather``) waits for it, so fetches awaited together overlap and take
as long as the slowest. Reading it without ``await`` (``fetch(url).data``) waits too, and a
plain ``def`` workflow's fetch runs where it is called, as before.
"""

from __future__ import annotations

import contextvars
import sys
import threading
from collections.abc import Callable, Generator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from claimflow.errors import FetchStatusError

__all__ = ["FetchResult", "dispatch"]

#: Fetches one async workflow may have in flight at once (more wait for a free worker).
MAX_CONCURRENT_FETCHES = 16

_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def _workers() -> ThreadPoolExecutor:
    """One pool per container, made on the first concurrent fetch."""
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=MAX_CONCURRENT_FETCHES, thread_name_prefix="claimflow-fetch")
        return _executor


def _in_async_workflow() -> bool:
    asyncio = sys.modules.get("asyncio")  # not imported: no loop can be running (sync workflows never import it)
    if asyncio is None:
        return False
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def dispatch(send: Callable[[], FetchResult]) -> FetchResult:
    """Run ``send`` now; inside an async workflow, start it now on a worker (with the
    invocation's context) and return the result in flight."""
    if not _in_async_workflow():
        return send()
    context = contextvars.copy_context()
    return FetchResult.in_flight(_workers().submit(context.run, send))


class FetchResult:
    """The seed's ``{ data }``, plus the status, the headers and the URL that answered.

    Awaitable (``await fetch(...)``; ``asyncio.gather`` over several) and subscriptable with the
    seed's keys, so ``(await fetch(url, options))["data"]`` ports unchanged. A result still in
    flight waits when read; a failed fetch raises its error where it is awaited or read.
    """

    __slots__ = ("_data", "_future", "_headers", "_status", "_url")

    def __init__(self, data: Any, status: int, headers: Mapping[str, str] | None = None, url: str = "") -> None:
        self._data = data
        self._status = status
        self._headers: Mapping[str, str] = dict(headers or {})
        self._url = url
        self._future: Future[FetchResult] | None = None

    @classmethod
    def in_flight(cls, future: Future[FetchResult]) -> FetchResult:
        """The result of a fetch still running (``future`` settles it)."""
        result = cls(None, 0)
        result._future = future
        return result

    def _settled(self) -> FetchResult:
        future = self._future
        if future is not None:
            done = future.result()  # raises the fetch's error, every time it is read
            self._data, self._status, self._headers, self._url = done._data, done._status, done._headers, done._url
            self._future = None
        return self

    @property
    def data(self) -> Any:
        return self._settled()._data

    @property
    def status(self) -> int:
        return self._settled()._status

    @property
    def headers(self) -> Mapping[str, str]:
        return self._settled()._headers

    @property
    def url(self) -> str:
        return self._settled()._url

    @property
    def ok(self) -> bool:
        """Whether the status is below 400."""
        return self.status < 400

    def raise_for_status(self) -> FetchResult:
        """Raise ``FetchStatusError`` on a 4xx or 5xx status; return the result otherwise."""
        if not self.ok:
            raise FetchStatusError(self.url, self.status, self.data)
        return self

    def __getitem__(self, key: str) -> Any:
        if key not in ("data", "status", "headers"):
            raise KeyError(f"a fetch result has 'data', 'status' and 'headers', not {key!r}")
        return getattr(self, key)

    def __await__(self) -> Generator[Any, None, FetchResult]:
        future = self._future
        if future is not None and not future.done():
            import asyncio  # an async workflow runs: it is imported already

            yield from asyncio.wrap_future(future).__await__()
        return self._settled()

    def __repr__(self) -> str:
        if self._future is not None and not self._future.done():
            return "FetchResult(<in flight>)"
        if self._future is not None and self._future.exception() is not None:
            return f"FetchResult(<failed: {type(self._future.exception()).__name__}>)"
        settled = self._settled()
        return f"FetchResult(status={settled._status}, url={settled._url!r}, data={settled._data!r})"
