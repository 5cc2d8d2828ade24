"""Conversation affinity to Rasa replicas: consistent hashing and fail-over (desk/chat/replicas.py)."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import httpx
import pytest

from desk.chat.rasa_client import RasaClient, RasaUnavailable, RasaUnreachable
from desk.chat.replicas import HashRing, RasaReplicas, bot_client
from knowledge_base.settings import Settings

SENDERS = [f"web:{i:05d}-student" for i in range(20_000)]
URLS = [f"http://rasa-{i}:5005" for i in range(1, 6)]


def owners(ring: HashRing) -> dict[str, str]:
    return {s: ring.node(s) for s in SENDERS}


def test_the_senders_spread_evenly_over_the_replicas() -> None:
    counts = Counter(owners(HashRing(URLS[:4])).values())
    assert set(counts) == set(URLS[:4])
    for n in counts.values():  # each about 1/4 of 20,000 = 5,000
        assert 0.8 * 5000 < n < 1.2 * 5000, counts


@pytest.mark.parametrize("n", [2, 3, 4])
def test_adding_a_replica_moves_only_its_share(n: int) -> None:
    before = owners(HashRing(URLS[:n]))
    after = owners(HashRing(URLS[: n + 1]))
    moved = [s for s in SENDERS if before[s] != after[s]]
    share = len(moved) / len(SENDERS)
    assert abs(share - 1 / (n + 1)) < 0.05, share  # close to 1/(n+1): the new replica's share
    assert all(after[s] == URLS[n] for s in moved)  # and every moved conversation went to the new one


@pytest.mark.parametrize("n", [3, 4, 5])
def test_removing_a_replica_moves_only_its_conversations(n: int) -> None:
    before = owners(HashRing(URLS[:n]))
    gone = URLS[1]
    after = owners(HashRing([u for u in URLS[:n] if u != gone]))
    moved = {s for s in SENDERS if before[s] != after[s]}
    assert moved == {s for s in SENDERS if before[s] == gone}
    assert abs(len(moved) / len(SENDERS) - 1 / n) < 0.05


def test_the_fail_over_order_is_the_ring_after_the_owner() -> None:
    ring = HashRing(URLS[:3])
    for sender in SENDERS[:200]:
        order = ring.order(sender)
        assert sorted(order) == sorted(URLS[:3]) and order[0] == ring.node(sender)
        # without the owner, the sender goes where the fail-over order says
        assert HashRing([u for u in URLS[:3] if u != order[0]]).node(sender) == order[1]


def test_a_ring_refuses_no_nodes_and_duplicates() -> None:
    with pytest.raises(ValueError):
        HashRing([])
    with pytest.raises(ValueError):
        HashRing(["a", "a"])


class Replica:
    """A scripted Rasa REST channel: answers with its own name, or refuses connections when down."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.down = False
        self.slow = False
        self.received: list[str] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("refused", request=request)
        if self.slow:
            raise httpx.ReadTimeout("slow", request=request)
        if request.url.path == "/status":
            return httpx.Response(200, json={"model_file": f"{self.name}.tar.gz"})
        sender = json.loads(request.content)["sender"]
        self.received.append(sender)
        return httpx.Response(200, json=[{"recipient_id": sender, "text": f"answer from {self.name}"}])


def replicas(names: list[str]) -> tuple[RasaReplicas, dict[str, Replica], list[float]]:
    now = [0.0]
    fakes = {f"http://{n}:5005": Replica(n) for n in names}
    clients = {
        url: RasaClient(url, "t", 2.0, httpx.AsyncClient(transport=httpx.MockTransport(fake.handler)))
        for url, fake in fakes.items()
    }
    return RasaReplicas(clients, cooldown=5.0, clock=lambda: now[0]), fakes, now


async def test_a_conversation_stays_on_its_replica_and_fails_over_to_the_next() -> None:
    bot, fakes, now = replicas(["a", "b", "c"])
    sender = "web:affinity"
    order = bot.ring.order(sender)
    owner, second = fakes[order[0]], fakes[order[1]]
    for _ in range(3):
        answers = await bot.send(sender, "你好")
        assert answers[0]["text"] == f"answer from {owner.name}"
    assert owner.received == [sender] * 3 and not second.received
    owner.down = True
    answers = await bot.send(sender, "还在吗")
    assert answers[0]["text"] == f"answer from {second.name}"
    owner.down = False
    answers = await bot.send(sender, "你好")  # within the cooldown the owner is tried last
    assert answers[0]["text"] == f"answer from {second.name}"
    now[0] += 6.0
    answers = await bot.send(sender, "你好")  # after it, the conversation goes home
    assert answers[0]["text"] == f"answer from {owner.name}"


async def test_a_timeout_is_not_failed_over_and_all_down_is_unavailable() -> None:
    bot, fakes, _ = replicas(["a", "b"])
    sender = "web:slow"
    owner, other = (fakes[u] for u in bot.ring.order(sender))
    owner.slow = True
    with pytest.raises(RasaUnavailable) as slow:
        await bot.send(sender, "你好")
    assert not isinstance(slow.value, RasaUnreachable) and not other.received  # never answered twice
    owner.slow, owner.down, other.down = False, True, True
    with pytest.raises(RasaUnreachable):
        await bot.send(sender, "你好")
    with pytest.raises(RasaUnavailable):
        await bot.status()
    other.down = False
    status: dict[str, Any] = await bot.status()
    assert (status["replicas_up"], status["replicas"]) == (1, 2)


def test_the_setting_lists_the_replicas_and_one_url_is_one_plain_client() -> None:
    settings = Settings(rasa_urls=" http://r1:5005/, http://r2:5005 ", rasa_token="t" * 32, secret_key="s" * 32)
    assert settings.rasa.replica_urls == ["http://r1:5005", "http://r2:5005"]
    assert Settings(rasa_url="http://one:5005/").rasa.replica_urls == ["http://one:5005"]
    http = httpx.AsyncClient()
    assert isinstance(bot_client(["http://one:5005"], "t", 1.0, http), RasaClient)
    assert isinstance(bot_client(settings.rasa.replica_urls, "t", 1.0, http), RasaReplicas)
