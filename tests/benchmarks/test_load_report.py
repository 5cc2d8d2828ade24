"""What `make bench` reports: percentiles, lost and duplicated answers, the memory trend, profile tops."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.load.__main__ import duration, parse_args, think
from benchmarks.load.profile import top
from benchmarks.load.report import table
from benchmarks.load.scenario import _check, saturation
from benchmarks.load.stats import Sample, percentile, summarize, trend


def test_percentiles_interpolate_between_ranks() -> None:
    values = [float(v) for v in range(1, 101)]  # 1..100
    assert percentile(values, 50) == pytest.approx(50.5)
    assert percentile(values, 95) == pytest.approx(95.05)
    assert percentile([0.2], 99) == 0.2
    assert percentile([], 50) is None


def test_a_message_without_an_answer_is_lost_and_one_answered_twice_is_duplicated() -> None:
    samples = [
        Sample("web", "a-1", 0.0, latency=0.1, replies=1, messages=1),
        Sample("web", "a-2", 1.0, latency=0.3, replies=1, messages=2),
        Sample("tg", "7", 2.0, error="timeout"),
        Sample("web", "a-3", 3.0, latency=0.2, replies=2, messages=1),
        Sample("rasa", "r-1", 4.0, latency=0.5, replies=1, messages=0),  # an empty answer
    ]
    summary = summarize(samples, seconds=10.0)
    assert (summary["sent"], summary["answered"], summary["lost"], summary["duplicated"]) == (5, 3, 2, 1)
    assert summary["errors"] == {"timeout": 1}
    assert summary["messages_per_second"] == 0.3
    assert summary["latency_ms"]["p50"] == 200.0


def test_reconciling_with_the_desks_database() -> None:
    changed = {"undelivered": 0, "duplicated": 0, "not stored": 0}
    delivered_once = Sample("tg", "1", 0.0, latency=0.1, replies=1, messages=1)
    _check(delivered_once, expected=1, delivered=1, stored_times=1, changed=changed)
    short = Sample("tg", "2", 0.0, latency=0.1, replies=1, messages=1)
    _check(short, expected=2, delivered=1, stored_times=1, changed=changed)
    twice = Sample("tg", "3", 0.0, latency=0.1, replies=1, messages=1)
    _check(twice, expected=1, delivered=2, stored_times=1, changed=changed)
    missing = Sample("web", "c-4", 0.0, latency=0.1, replies=1, messages=1)
    _check(missing, expected=None, delivered=1, stored_times=1, changed=changed)
    assert [s.answered for s in (delivered_once, short, twice, missing)] == [True, False, True, False]
    assert (short.error, twice.replies, missing.error) == ("undelivered", 2, "not stored")
    assert changed == {"undelivered": 1, "duplicated": 1, "not stored": 1}


def test_the_trend_of_a_growing_and_of_a_flat_series() -> None:
    growing = [(t * 30.0, 100.0 + t * 0.5) for t in range(21)]  # +0.5 MB every 30 s = 60 MB/h
    flat = [(t * 30.0, 100.0 + (t % 2) * 0.2) for t in range(21)]
    grow = trend(growing, window=120.0)
    assert grow["slope_per_hour"] == pytest.approx(60.0)
    assert grow["late_slope_per_hour"] == pytest.approx(60.0)
    assert (grow["first_mean"], grow["last_mean"]) == (101.0, 109.0)
    flat_slope = trend(flat, window=120.0)["slope_per_hour"]
    assert flat_slope is not None and abs(flat_slope) < 1.0
    warming_then_flat = [(t * 30.0, min(100.0 + t * 5.0, 120.0)) for t in range(21)]  # caches fill, then stop
    warm = trend(warming_then_flat, window=120.0)
    assert warm["slope_per_hour"] > 50 and warm["late_slope_per_hour"] == 0.0  # whole run grows, second half flat


def test_saturation_is_the_best_step_within_the_limits() -> None:
    def step(students: int, rate: float, p95: float, ok: bool) -> dict:  # type: ignore[type-arg]
        return {"students": students, "messages_per_second": rate, "latency_ms": {"p95": p95}, "within_limits": ok}

    steps = [step(5, 3.0, 200, True), step(8, 5.0, 400, True), step(12, 5.5, 2500, False)]
    assert saturation(steps) == {"messages_per_second": 5.0, "students": 8, "p95_ms": 400, "peak_offered_students": 12}
    assert saturation([step(5, 3.0, 2500, False)])["messages_per_second"] == 0.0


def test_profile_top_counts_working_frames_only(tmp_path: Path) -> None:
    raw = tmp_path / "desk.txt"
    raw.write_text(
        "process 1;main (app.py:1);handle (desk/chat/gateway.py:10);store (desk/chat/gateway.py:20) 30\n"
        "process 1;main (app.py:1);handle (desk/chat/gateway.py:10);ask (desk/chat/gateway.py:30) 10\n"
        "process 1;_bootstrap (threading.py:973);_worker (concurrent/futures/thread.py:81) 60\n"
    )
    profile = top(raw, rate=10)
    assert (profile["samples"], profile["cpu_seconds"]) == (40, 4.0)
    assert profile["self"][0] == {"frame": "store (desk/chat/gateway.py:20)", "share": 0.75}
    assert {"frame": "handle (desk/chat/gateway.py:10)", "share": 1.0} in profile["inclusive"]
    assert [r["frame"] for r in profile["project"]][0] == "handle (desk/chat/gateway.py:10)"
    assert "main (app.py:1)" not in [r["frame"] for r in profile["project"]]


def test_the_command_line_defaults_are_the_issues_target_scenario() -> None:
    args = parse_args([])
    assert (args.students, args.think, args.duration) == (100, (10.0, 20.0), 300.0)
    quick = parse_args(["--quick"])
    assert (quick.students, quick.duration) == (20, 30.0)
    assert duration("30m") == 1800.0 and duration("90") == 90.0 and think("0.5-2") == (0.5, 2.0)


def test_the_table_shows_loss_latency_and_the_ratio() -> None:
    summary = summarize([Sample("web", "a-1", 0.0, latency=0.25, replies=1, messages=1)], 1.0)
    text = table({"machine": "2 cores", "command": "python -m benchmarks.load --quick",
                  "scenarios": {"desk (web + telegram)": summary}, "gateway_p95_ratio": 1.1})  # fmt: skip
    assert "2 cores" in text and "--quick" in text
    assert "desk (web + telegram)" in text and "250" in text
    assert "gateway p95 / bare Rasa p95 at the same load: 1.10" in text
