"""One asyncio lock per conversation, forgotten as soon as nobody holds or waits for it.

The gateway handles the messages of one conversation one at a time. A lock per conversation ever seen
would grow with every student for as long as the desk runs; here an entry lives only while a message
of that conversation is being handled or waiting, so the table shrinks back when the desk is idle.
"""

from __future__ import annotations

import asyncio
from types import TracebackType


class ConversationLock:
    """An async context manager around one conversation's lock that counts its holders and waiters."""

    def __init__(self, owner: ConversationLocks, key: str) -> None:
        self._owner = owner
        self._key = key
        self._lock = asyncio.Lock()
        self._users = 0

    async def __aenter__(self) -> None:
        self._users += 1  # before the first await: the entry cannot be dropped while we wait
        try:
            await self._lock.acquire()
        except BaseException:
            self._leave()
            raise

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._lock.release()
        self._leave()

    def locked(self) -> bool:
        return self._lock.locked()

    def _leave(self) -> None:
        self._users -= 1
        if self._users == 0:
            self._owner.forget(self._key, self)


class ConversationLocks:
    """The live conversation locks, by conversation id."""

    def __init__(self) -> None:
        self._locks: dict[str, ConversationLock] = {}

    def __len__(self) -> int:
        return len(self._locks)

    def __call__(self, key: str) -> ConversationLock:
        """The lock of `key` (use it as `async with locks(key):`)."""
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = ConversationLock(self, key)
        return lock

    def busy(self, key: str) -> bool:
        """Whether a message of `key` is being handled or waits its turn in this process."""
        return key in self._locks

    def forget(self, key: str, lock: ConversationLock) -> None:
        if self._locks.get(key) is lock:
            del self._locks[key]
