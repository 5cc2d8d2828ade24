"""Several Rasa replicas: each conversation sticks to one of them, the next on the ring takes over when it is down.

Rasa's open-source lock store serialises the messages of a conversation inside one Rasa process only,
so two replicas answering the same conversation at once could each load the tracker, answer, and save
over each other. The desk therefore sends every message of a conversation to the same replica, chosen by
consistent hashing of the sender id (`HashRing`): each replica owns many points ("virtual nodes") on a
ring of 64-bit hashes and a sender goes to the owner of the first point after its own hash. Adding or
removing a replica moves only the senders whose point changes owner, about 1/n of them, so the other
conversations keep their replica (tests/desk/test_replicas_ring.py measures it).

When the chosen replica cannot be reached (refused or dropped connection, `RasaUnreachable`), the
message goes to the next replica on the ring, and that replica is skipped for `cooldown` seconds; the
trackers live in the shared SQLTrackerStore (PostgreSQL), so the next replica continues the
conversation where the first one left it. A timeout or an empty answer is not failed over: the first
replica may still be working on the message (or the action server is down, which every replica shares),
and the gateway keeps the message instead (desk/chat/pending.py).
"""

from __future__ import annotations

import bisect
import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx

from desk.chat.rasa_client import BotClient, RasaClient, RasaUnavailable, RasaUnreachable

logger = logging.getLogger(__name__)

VIRTUAL_NODES = 160
COOLDOWN_SECONDS = 5.0


def _point(key: str) -> int:
    return int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(), "big")


class HashRing:
    """Consistent hashing of keys (sender ids) onto nodes (replica URLs)."""

    def __init__(self, nodes: Sequence[str], virtual_nodes: int = VIRTUAL_NODES) -> None:
        if not nodes:
            raise ValueError("a hash ring needs at least one node")
        if len(set(nodes)) != len(nodes):
            raise ValueError("the nodes of a hash ring must be distinct")
        self.nodes = list(nodes)
        ring = sorted((_point(f"{node}#{i}"), node) for node in self.nodes for i in range(virtual_nodes))
        self._points = [p for p, _ in ring]
        self._owners = [n for _, n in ring]

    def order(self, key: str) -> list[str]:
        """Every node once, in ring order from the key's point: the owner first, then the fail-overs."""
        start = bisect.bisect(self._points, _point(key)) % len(self._points)
        seen: list[str] = []
        for i in range(len(self._owners)):
            node = self._owners[(start + i) % len(self._owners)]
            if node not in seen:
                seen.append(node)
                if len(seen) == len(self.nodes):
                    break
        return seen

    def node(self, key: str) -> str:
        """The node that owns the key."""
        return self.order(key)[0]


class RasaReplicas:
    """A `BotClient` over several Rasa servers (the same model, token and tracker store)."""

    def __init__(
        self,
        clients: dict[str, RasaClient],
        cooldown: float = COOLDOWN_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.clients = clients
        self.ring = HashRing(list(clients))
        self._cooldown = cooldown
        self._clock = clock
        self._down_until: dict[str, float] = {}

    def _candidates(self, sender: str) -> list[str]:
        """The ring order for the sender, replicas known to be down moved to the end (still tried last)."""
        now = self._clock()
        order = self.ring.order(sender)
        return [u for u in order if self._down_until.get(u, 0.0) <= now] + [
            u for u in order if self._down_until.get(u, 0.0) > now
        ]

    def _mark_down(self, url: str) -> None:
        self._down_until[url] = self._clock() + self._cooldown

    async def send(self, sender: str, message: str, metadata: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """The conversation's replica answers; the next one on the ring when it cannot be reached."""
        last: RasaUnavailable | None = None
        for index, url in enumerate(self._candidates(sender)):
            try:
                answers = await self.clients[url].send(sender, message, metadata)
            except RasaUnreachable as exc:
                self._mark_down(url)
                logger.warning(
                    "Rasa replica %d of %d unreachable (%s); trying the next", index + 1, len(self.clients), exc
                )
                last = exc
                continue
            self._down_until.pop(url, None)
            return answers
        assert last is not None
        raise last

    async def status(self) -> dict[str, Any]:
        """The status of the first replica that is up, with how many are up; RasaUnavailable when none is."""
        up: dict[str, Any] | None = None
        count = 0
        errors: list[str] = []
        for client in self.clients.values():
            try:
                status = await client.status()
            except RasaUnavailable as exc:
                errors.append(str(exc))
                continue
            count += 1
            up = up or status
        if up is None:
            raise RasaUnavailable(f"no Rasa replica up ({'; '.join(errors)})")
        return {**up, "replicas_up": count, "replicas": len(self.clients)}

    async def aclose(self) -> None:
        for client in self.clients.values():
            await client.aclose()


def bot_client(urls: Sequence[str], token: str, timeout: float, http: httpx.AsyncClient) -> BotClient:
    """One RasaClient for one URL (the embedded default), RasaReplicas for several."""
    if len(urls) == 1:
        return RasaClient(urls[0], token, timeout, http)
    return RasaReplicas({url: RasaClient(url, token, timeout, http) for url in urls})
