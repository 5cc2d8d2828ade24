"""Playing a scenario: N students, each asking, waiting for the answer, thinking, asking again.

The same seed gives every system the same students, questions and think times, so the desk and bare
Rasa answer the same messages at the same offered load. `ramp` raises the number of students step by
step until the p95 latency or the share of unanswered messages passes its limit (saturation).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from benchmarks.load.clients import Student
from benchmarks.load.stack import BenchStack
from benchmarks.load.stats import Sample, summarize

logger = logging.getLogger(__name__)

StudentFactory = Callable[[int], Student]


@dataclass
class Load:
    """Who asks how often, for how long."""

    students: int
    think: tuple[float, float]  # seconds between an answer and the next question
    seconds: float
    seed: int = 7
    rotate: int = 0  # questions per conversation: then the student leaves and a new one takes the seat (0: never)


@dataclass
class Played:
    """What one run of a scenario produced."""

    samples: list[Sample] = field(default_factory=list)
    students: list[Student] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        result = summarize(self.samples, self.seconds)
        result["stray"] = sum(s.stray for s in self.students)
        return result


async def _student(
    seat: int, load: Load, factory: StudentFactory, messages: list[str], end: float, played: Played
) -> None:
    rng = random.Random(load.seed * 100_003 + seat)
    student = played.students[seat]
    asked = generation = 0
    await asyncio.sleep(rng.uniform(0, load.think[1]))  # arrivals spread over one think time
    while time.monotonic() < end:
        if load.rotate and asked == load.rotate:  # a new student in this seat (a new conversation)
            await student.close()
            generation += 1
            student = factory(seat + load.students * generation)
            played.students.append(student)
            await student.open()
            asked = 0
        played.samples.append(await student.ask(rng.choice(messages)))
        asked += 1
        pause = rng.uniform(*load.think)
        await asyncio.sleep(min(pause, max(0.0, end - time.monotonic())))


async def play(load: Load, factory: StudentFactory, messages: list[str]) -> Played:
    """Open every student's connection, then let them talk for `load.seconds`."""
    students = [factory(i) for i in range(load.students)]
    for chunk in range(0, len(students), 20):  # sessions are opened before the clock starts
        await asyncio.gather(*(s.open() for s in students[chunk : chunk + 20]))
    played = Played(students=students)
    start = time.monotonic()
    end = start + load.seconds
    await asyncio.gather(*(_student(i, load, factory, messages, end, played) for i in range(load.students)))
    played.seconds = time.monotonic() - start
    await asyncio.gather(*(s.close() for s in played.students), return_exceptions=True)
    return played


async def warm_up(factory: StudentFactory, messages: list[str], count: int) -> None:
    """Ask `count` questions one after another, unmeasured: caches and lazy imports are filled first."""
    student = factory(0)
    await student.open()
    try:
        for text in messages[:count]:
            await student.ask(text)
    finally:
        await student.close()


def reconcile(played: Played, stack: BenchStack) -> dict[str, int]:
    """Check the desk's side: each message stored once, its stored answers delivered exactly once.

    A sample whose channel delivered fewer answers than the desk stored becomes lost ("undelivered"), one
    that delivered more (or was echoed twice) becomes duplicated. Returns the counts it changed.
    """
    from benchmarks.load.clients import TelegramStudent, WebStudent

    changed = {"undelivered": 0, "duplicated": 0, "not stored": 0}
    by_id = {s.message_id: s for s in played.samples}
    for channel in ("web", "tg"):
        stored = stack.replies_per_message(channel)
        for student in played.students:
            if isinstance(student, WebStudent) and channel == "web":
                for client_id, echoes in student.echoes.items():
                    sample = by_id.get(client_id)
                    if sample is None:
                        continue
                    expected = stored.get(f"{student.conversation_id}/{client_id}")
                    _check(sample, expected, sample.messages, echoes, changed)
            if isinstance(student, TelegramStudent) and channel == "tg":
                sends = stack.telegram.sends.get(student.chat_id, [])
                mine = sorted((s for s in played.samples if s.channel == "tg" and s.message_id in student.asked),
                              key=lambda s: s.sent_at)  # fmt: skip
                for k, sample in enumerate(mine):
                    until = mine[k + 1].sent_at if k + 1 < len(mine) else float("inf")
                    delivered = sum(1 for at, _ in sends if sample.sent_at <= at < until)
                    expected = stored.get(f"tg:{student.chat_id}/{sample.message_id}")
                    _check(sample, expected, delivered, 1, changed)
    return changed


def _check(sample: Sample, expected: int | None, delivered: int, stored_times: int, changed: dict[str, int]) -> None:
    if expected is None:
        if sample.error is None:
            sample.error = "not stored"
            changed["not stored"] += 1
        return
    if delivered < expected and sample.error is None:
        sample.error = "undelivered"
        changed["undelivered"] += 1
    elif delivered > expected or stored_times > 1:
        sample.replies = max(sample.replies, 2)
        changed["duplicated"] += 1


def _numbered_from(factory: StudentFactory, offset: int) -> StudentFactory:
    """Students numbered after those of the earlier steps (each step has new conversations)."""

    def make(i: int) -> Student:
        return factory(offset + i)

    return make


async def ramp(
    start: int,
    factor: float,
    limit: int,
    step_seconds: float,
    think: tuple[float, float],
    factory: StudentFactory,
    messages: list[str],
    p95_limit: float,
    error_limit: float,
    seed: int,
) -> list[dict[str, Any]]:
    """Raise the number of students step by step until p95 or errors pass their limits."""
    steps: list[dict[str, Any]] = []
    students = start
    offset = 0
    while students <= limit:
        load = Load(students, think, step_seconds, seed + len(steps))
        played = await play(load, _numbered_from(factory, offset), messages)
        offset += students
        summary = played.summary()
        summary["students"] = students
        p95 = (summary["latency_ms"]["p95"] or float("inf")) / 1000.0
        failed = summary["lost"] + summary["duplicated"]
        summary["within_limits"] = p95 <= p95_limit and failed <= error_limit * max(1, summary["sent"])
        steps.append(summary)
        logger.info("ramp step: %d students, %.1f msg/s, p95 %.3f s", students, summary["messages_per_second"], p95)
        if not summary["within_limits"]:
            break
        students = max(students + 1, round(students * factor))
    return steps


def saturation(steps: list[dict[str, Any]]) -> dict[str, Any]:
    """The highest throughput reached within the limits, and at how many students."""
    good = [s for s in steps if s["within_limits"]]
    best = max(good, key=lambda s: s["messages_per_second"]) if good else None
    return {
        "messages_per_second": best["messages_per_second"] if best else 0.0,
        "students": best["students"] if best else 0,
        "p95_ms": best["latency_ms"]["p95"] if best else None,
        "peak_offered_students": steps[-1]["students"] if steps else 0,
    }
