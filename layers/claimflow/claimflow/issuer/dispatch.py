"""The threads workflow invocations run on, so the runner can stop waiting at a deadline.

A workflow's invocation is a blocking call (an HTTP request to Lambda): the runner hands each
to a thread and waits on all of them at once, each up to its own deadline.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from queue import SimpleQueue
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from claimflow.issuer.policy import WorkflowRun

__all__ = ["Dispatcher", "Task"]


class Task:
    """One invocation handed to a dispatcher thread. Its result is signalled with a lock the
    task holds until it is done: the cheapest wake-up between threads CPython has (a Future's
    condition variable costs about twice as much, on every workflow of every token)."""

    __slots__ = ("_done", "abandoned", "args", "error", "finished", "function", "result")

    def __init__(self, function: Callable[..., WorkflowRun], args: tuple[Any, ...]) -> None:
        self.function, self.args = function, args
        self.result: WorkflowRun | None = None
        self.error: BaseException | None = None
        self.abandoned = self.finished = False
        self._done = threading.Lock()
        self._done.acquire()

    def run(self) -> None:
        try:
            self.result = self.function(*self.args)
        except BaseException as error:  # handed to the waiting runner, which re-raises it
            self.error = error

    def signal(self) -> None:
        """Wake the runner waiting for this task (after the dispatcher has counted its thread idle)."""
        self._done.release()

    def wait(self, timeout: float) -> bool:
        """Whether the task finished within ``timeout`` seconds."""
        return self._done.acquire(timeout=timeout) if timeout > 0 else self._done.acquire(blocking=False)

    def outcome(self) -> WorkflowRun:
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result


class Dispatcher:
    """The threads workflow invocations run on, so the runner can stop waiting at a deadline.

    Elastic: a task that finds no idle thread gets a new one (up to ``max_threads``), so a burst
    never queues behind busy threads; and when the runner abandons a task (its deadline passed)
    the thread stuck in it leaves once it is done, its place taken at once by a new one. Work a
    request abandoned never reduces the capacity later requests get.
    """

    def __init__(self, *, idle_threads: int = 4, max_threads: int = 256) -> None:
        self._queue: SimpleQueue[Task] = SimpleQueue()
        self._lock = threading.Lock()
        self._idle_target = idle_threads
        self._max_threads = max_threads
        self.threads = 0
        self._idle = 0

    def submit(self, function: Callable[..., WorkflowRun], *args: Any) -> Task:
        task = Task(function, args)
        with self._lock:
            if self._idle == 0 and self.threads < self._max_threads:
                self._spawn()
            else:
                self._idle -= 1  # reserved for this task
        self._queue.put(task)
        return task

    def abandon(self, task: Task) -> None:
        """The runner no longer waits for ``task``: replace the thread stuck in it."""
        with self._lock:
            if not task.finished:
                task.abandoned = True
                self._spawn()
                self._idle += 1

    def _spawn(self) -> None:  # called with the lock held
        self.threads += 1
        threading.Thread(target=self._work, name="claimflow-workflow", daemon=True).start()

    def _work(self) -> None:
        while True:
            task = self._queue.get()
            task.run()
            with self._lock:
                task.finished = True
                leaving = task.abandoned or self._idle >= self._idle_target
                if leaving:
                    self.threads -= 1
                else:
                    self._idle += 1
            # Counted idle before the runner wakes: its next request finds this thread, instead of
            # starting a new one because the bookkeeping had not caught up.
            task.signal()
            if leaving:
                return
