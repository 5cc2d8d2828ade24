"""Stopping background tasks at shutdown without hanging on them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

logger = logging.getLogger(__name__)


async def cancel_and_wait(tasks: Iterable[asyncio.Task[Any] | None], timeout: float = 5.0) -> None:
    """Cancel the tasks and wait at most `timeout` seconds for them to end.

    Python 3.10's `asyncio.wait_for` can swallow a cancellation that races with its inner
    future, so loops also keep a stop flag; this only bounds the wait.
    """
    pending = {t for t in tasks if t is not None and not t.done()}
    for task in pending:
        task.cancel()
    if not pending:
        return
    _done, still = await asyncio.wait(pending, timeout=timeout)
    for task in still:
        logger.warning("task %s did not stop within %.0fs", task.get_name(), timeout)
