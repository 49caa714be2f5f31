"""Run the synchronous ask pipeline in a worker thread and read its events asynchronously.

Cancelling the reader (the client went away) stops the pipeline at its next event: the
generator is closed, which stops llama.cpp's generation (its stream closes on GeneratorExit).
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any, AsyncIterator, Callable, Iterator

__all__ = ["stream_in_thread"]

_END = object()


async def stream_in_thread(make: Callable[[], Iterator[Any]]) -> AsyncIterator[Any]:
    """Yield the items of ``make()`` (run in a thread) as they come; exceptions re-raised."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Any] = asyncio.Queue()
    stop = threading.Event()

    def put(item: Any) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, item)

    def work() -> None:
        events = None
        try:
            events = make()
            for event in events:
                if stop.is_set():
                    break
                put(("item", event))
        except BaseException as exc:  # re-raised in the reader
            put(("error", exc))
        finally:
            if events is not None and hasattr(events, "close"):
                events.close()
            put(("end", _END))

    worker = threading.Thread(target=work, name="fiable-ask", daemon=True)
    worker.start()
    try:
        while True:
            kind, payload = await queue.get()
            if kind == "item":
                yield payload
            elif kind == "error":
                raise payload
            else:
                return
    finally:
        stop.set()
        # wait for the pipeline to wind down (it checks ``stop`` at each event), without
        # blocking the event loop
        await asyncio.get_running_loop().run_in_executor(None, worker.join)
