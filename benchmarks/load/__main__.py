"""`python -m benchmarks.load` (`make bench ARGS=...`): the load, saturation and soak measurements.

Default = the target scenario of issue #10: 100 students (a quarter of them on Telegram), each asking
every 10-20 s for 5 minutes, through the desk; then the same students and questions against bare
Rasa's REST channel; then a saturation ramp (students asking every 0.5-2 s, more each step) of both.
`--quick` is a short try (20 students, 30 s, short ramp steps); `--soak 30m` plays the target load for
that long and reports each process's memory trend; there each student leaves after 8 questions and a new
one takes the seat (`--rotate`), as real students' conversations are a few questions long.
Prints a table; writes var/bench/<time>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import platform
import shlex
import sys
from pathlib import Path
from typing import Any

import httpx

from benchmarks.load import messages as questions
from benchmarks.load import profile, report, stack
from benchmarks.load.clients import RasaStudent, Student, TelegramStudent, WebStudent
from benchmarks.load.procs import Sampler
from benchmarks.load.scenario import Load, Played, play, ramp, reconcile, saturation, warm_up
from benchmarks.load.stats import trend
from desk.lifecycle import active
from knowledge_base import clock
from knowledge_base.config import PROJECT_ROOT

logger = logging.getLogger("benchmarks.load")

CHAT_IDS = 700_000_000
WARM_UP = 20  # unmeasured questions (not asked later) before each measured system
PROFILE_RATE = 100  # py-spy samples per second


def duration(text: str) -> float:
    """ "90", "90s", "5m", "1h" -> seconds."""
    units = {"s": 1, "m": 60, "h": 3600}
    if text and text[-1] in units:
        return float(text[:-1]) * units[text[-1]]
    return float(text)


def think(text: str) -> tuple[float, float]:
    low, _, high = text.partition("-")
    return float(low), float(high or low)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.load", description=__doc__.split("\n\n")[0])
    p.add_argument("--students", type=int, default=100, help="students in the target scenario (100)")
    p.add_argument("--think", type=think, default=(10.0, 20.0), help="seconds between answer and next question (10-20)")
    p.add_argument("--duration", type=duration, default=300.0, help="length of the target scenario (5m)")
    p.add_argument("--telegram-share", type=float, default=0.25, help="share of students on Telegram (0.25)")
    p.add_argument("--quick", action="store_true", help="a short try: 20 students, 30 s, 10 s ramp steps")
    p.add_argument("--no-rasa", action="store_true", help="skip the bare-Rasa comparison")
    p.add_argument("--no-saturation", action="store_true", help="skip the saturation ramp")
    p.add_argument("--ramp-think", type=think, default=(0.5, 2.0), help="think time during the ramp (0.5-2)")
    p.add_argument("--ramp-start", type=int, default=5, help="students in the ramp's first step (5)")
    p.add_argument("--ramp-factor", type=float, default=1.5, help="growth of students per step (1.5)")
    p.add_argument("--ramp-max", type=int, default=400, help="most students in a ramp step (400)")
    p.add_argument("--ramp-step", type=duration, default=30.0, help="length of one ramp step (30s)")
    p.add_argument("--p95-limit", type=float, default=2.0, help="saturated once p95 exceeds this many seconds (2)")
    p.add_argument("--error-limit", type=float, default=0.01, help="... or this share is lost/duplicated (0.01)")
    p.add_argument("--soak", type=duration, default=0.0, help="soak for this long (e.g. 30m) instead")
    p.add_argument("--rotate", type=int, default=None,
                   help="questions per conversation, then a new student sits down (0: never; 8 in a soak)")  # fmt: skip
    p.add_argument("--sample-every", type=duration, default=None, help="RSS sampling period (1 s; 30 s in a soak)")
    p.add_argument("--profile", action="store_true", help="py-spy every process during the target scenario")
    p.add_argument("--env", action="append", default=[], metavar="PROCESS:NAME=VALUE",
                   help="extra environment of one process, e.g. actions:OMP_NUM_THREADS=1 (repeatable)")  # fmt: skip
    p.add_argument("--replicas", type=int, default=0,
                   help="N of each process on PostgreSQL + Redis (default: the embedded set-up)")  # fmt: skip
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--model", default=None, help="Rasa model (default: HELPDESK_MODEL, else the newest)")
    p.add_argument("--out", type=Path, default=PROJECT_ROOT / "var" / "bench", help="report folder (var/bench)")
    p.add_argument("--keep", action="store_true", help="keep the stack's work folder (logs, databases)")
    args = p.parse_args(argv)
    if args.quick:
        args.students, args.duration, args.ramp_step = min(args.students, 20), min(args.duration, 30.0), 10.0
    return args


def machine() -> str:
    cpu = "unknown cpu"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, {platform.system()} {platform.release()}"
    )


class Factories:
    """Students for the desk (web chat and Telegram) and for bare Rasa, numbered the same way.

    Each phase of a run has its own conversations (web sessions, Telegram chats, Rasa senders).
    """

    def __init__(self, bench: stack.BenchStack, share: float, run: str) -> None:
        self.bench = bench
        self.share = share
        self.run = run
        self.name = run
        self._phases = 0
        limits = httpx.Limits(max_connections=1000)
        # students are spread over the desks, and bare-Rasa students over the Rasa replicas
        self.desk_https = [httpx.AsyncClient(base_url=u, timeout=30, limits=limits) for u in bench.desk_urls]
        self.rasa_https = [
            httpx.AsyncClient(base_url=u, timeout=30, limits=limits) for u in bench.settings.rasa.replica_urls
        ]

    def phase(self, name: str) -> Factories:
        """Name the conversations of the next phase (and move Telegram chats to a new range)."""
        self._phases += 1
        self.name = f"{self.run}-{name}"
        return self

    def on_telegram(self, i: int) -> bool:
        return int((i + 1) * self.share) > int(i * self.share)

    def desk(self, i: int) -> Student:
        desk = self.desk_https[i % len(self.desk_https)]
        if self.on_telegram(i):
            return TelegramStudent(desk, self.bench.telegram, CHAT_IDS + 100_000 * self._phases + i)
        return WebStudent(str(desk.base_url).rstrip("/"), f"{self.name}-{i}")

    def rasa(self, i: int) -> Student:
        rasa = self.rasa_https[i % len(self.rasa_https)]
        return RasaStudent(rasa, self.bench.settings.rasa.token, f"bench-{self.name}-{i}")

    async def aclose(self) -> None:
        for client in [*self.desk_https, *self.rasa_https]:
            await client.aclose()


async def measured(
    name: str, load: Load, factory: Any, texts: list[str], bench: stack.BenchStack, every: float
) -> tuple[Played, Sampler]:
    """Play `load` while sampling every process."""
    sampler = Sampler(bench.pids, every=every)
    task = asyncio.create_task(sampler.run())
    try:
        played = await play(load, factory, texts)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    sampler.read()
    logger.info("%s: %d messages in %.0f s", name, len(played.samples), played.seconds)
    return played, sampler


def usage_rows(sampler: Sampler, answered: int) -> dict[str, Any]:
    cpu = sampler.cpu_seconds()
    peaks = sampler.peak_rss()
    return {
        name: {
            "peak_rss_mb": peaks.get(name, 0.0),
            "cpu_seconds": cpu.get(name),
            "cpu_ms_per_message": round(cpu[name] * 1000 / answered, 2) if answered and name in cpu else None,
        }
        for name in [*sampler.pids, "bench"]
    }


def sql_rows(before: dict[str, dict[str, int]], after: dict[str, dict[str, int]], answered: int) -> dict[str, Any]:
    """SQL statements and commits per answered message, per process and in all (database round trips)."""
    rows: dict[str, Any] = {}
    total = {"statements": 0, "commits": 0}
    for name, counts in after.items():
        delta = {k: v - before.get(name, {}).get(k, 0) for k, v in counts.items()}
        for k in total:
            total[k] += delta.get(k, 0)
        rows[name] = {k: round(v / answered, 2) if answered else None for k, v in delta.items()}
    rows["all"] = {k: round(v / answered, 2) if answered else None for k, v in total.items()}
    return rows


async def fresh(bench: stack.BenchStack, factory: Any, warm: list[str]) -> None:
    """Before each measured system: a restarted action server (no cache from the run before), warmed up."""
    await asyncio.to_thread(stack.restart, bench, "actions")
    await warm_up(factory, warm, len(warm))


async def bench_run(
    args: argparse.Namespace, bench: stack.BenchStack, texts: list[str], result: dict[str, Any]
) -> None:
    bench.telegram.loop = asyncio.get_running_loop()
    factories = Factories(bench, args.telegram_share, clock.now().strftime("%H%M%S"))
    every = args.sample_every or (30.0 if args.soak else 1.0)
    warm, texts = texts[:WARM_UP], texts[WARM_UP:]
    try:
        if args.soak:
            await fresh(bench, factories.phase("warm-desk").desk, warm)
            rotate = 8 if args.rotate is None else args.rotate  # real students' sessions are a few questions long
            load = Load(args.students, args.think, args.soak, args.seed, rotate)
            played, sampler = await measured("soak", load, factories.phase("soak").desk, texts, bench, every)
            await asyncio.sleep(2)  # the outbox delivers the last answers
            result["reconciled"] = reconcile(played, bench)
            window = min(300.0, args.soak / 3)
            result["scenarios"] = {"desk soak": played.summary()}
            result["processes"] = {"soak": usage_rows(sampler, played.summary()["answered"])}
            result["soak"] = {
                "seconds": played.seconds,
                "questions_per_conversation": rotate,
                "conversations": len(played.students),
                "sample_seconds": every,
                "window_seconds": window,
                "trend": {name: trend(points, window) for name, points in sampler.series.items()},
                "series": sampler.series,
            }
            return
        load = Load(args.students, args.think, args.duration, args.seed, args.rotate or 0)
        await fresh(bench, factories.phase("warm-desk").desk, warm)
        folder = args.out / f"profile-{factories.run}"
        recordings = profile.start(bench.pids, folder, PROFILE_RATE) if args.profile else []
        sql_before = bench.sql_counts()
        played, sampler = await measured("desk", load, factories.phase("desk").desk, texts, bench, every)
        sql_after = bench.sql_counts()
        profile.stop(recordings)
        await asyncio.sleep(2)
        result["reconciled"] = reconcile(played, bench)
        desk = played.summary()
        result["scenarios"] = {"desk (web + telegram)": desk}
        for channel in ("web", "tg"):
            part = Played([s for s in played.samples if s.channel == channel], [], played.seconds)
            result["scenarios"][f"  desk, {channel} only"] = part.summary()
        result["processes"] = {"desk scenario": usage_rows(sampler, desk["answered"])}
        result["sql_per_message"] = sql_rows(sql_before, sql_after, desk["answered"])
        if recordings:
            result["profile"] = {
                "folder": str(folder),
                "answered": desk["answered"],
                "processes": {r.name: profile.top(r.output, rate=PROFILE_RATE) for r in recordings},
            }
        if not args.no_rasa:
            await fresh(bench, factories.phase("warm-rasa").rasa, warm)
            played_rasa, sampler_rasa = await measured("rasa", load, factories.phase("rasa").rasa, texts, bench, every)
            rasa = played_rasa.summary()
            result["scenarios"]["bare Rasa (REST)"] = rasa
            result["processes"]["bare Rasa scenario"] = usage_rows(sampler_rasa, rasa["answered"])
            if desk["latency_ms"]["p95"] and rasa["latency_ms"]["p95"]:
                result["gateway_p95_ratio"] = round(desk["latency_ms"]["p95"] / rasa["latency_ms"]["p95"], 2)
        if not args.no_saturation:
            result["saturation"] = {}
            systems = [("desk", "desk")] + ([] if args.no_rasa else [("bare Rasa", "rasa")])
            for system, kind in systems:
                await fresh(bench, getattr(factories.phase(f"warm-ramp-{kind}"), kind), warm)
                factory = getattr(factories.phase(f"ramp-{kind}"), kind)
                steps = await ramp(args.ramp_start, args.ramp_factor, args.ramp_max, args.ramp_step, args.ramp_think,
                                   factory, texts, args.p95_limit, args.error_limit, args.seed)  # fmt: skip
                result["saturation"][system] = {"steps": steps, "saturation": saturation(steps)}
    finally:
        await factories.aclose()


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    args = parse_args(argv)
    chosen = args.model or os.environ.get("HELPDESK_MODEL")
    model = Path(chosen) if chosen else active.newest_model(PROJECT_ROOT / "var")
    if model is None or not model.exists():
        print("no trained Rasa model: run `make train` (make bench does it)", file=sys.stderr)
        return 2
    command = "python -m benchmarks.load " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
    result: dict[str, Any] = {
        "machine": machine(),
        "command": command,
        "model": model.name,
        "started": clock.now().isoformat(),
        "parameters": {k: str(v) for k, v in vars(args).items()},
    }
    logger.info("starting the stack (model %s)", model.name)
    extra: dict[str, dict[str, str]] = {}
    for item in args.env:
        process, _, assignment = item.partition(":")
        name, _, value = assignment.partition("=")
        extra.setdefault(process, {})[name] = value
    if args.replicas:
        bench = stack.launch_replicas(model, args.replicas, extra_env=extra)
    else:
        bench = stack.launch(model, extra_env=extra)
    try:
        texts = questions.screen(questions.candidates(), bench.rasa_url, bench.settings.rasa.token)
        result["questions"] = len(texts)
        logger.info("%d questions after screening", len(texts))
        asyncio.run(bench_run(args, bench, texts, result))
    finally:
        stack.stop(bench, keep=args.keep)
    path = report.write(result, args.out, clock.now().strftime("%Y%m%d-%H%M%S"))
    print(report.table(result))
    print(f"\nreport: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
