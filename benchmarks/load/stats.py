"""Numbers for the report: latency percentiles, throughput, and the growth trend of a memory series."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100) by linear interpolation between closest ranks; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass
class Sample:
    """One student message and what came back for it."""

    channel: str  # "web", "tg" or "rasa"
    message_id: str  # the web chat's client_id, the Telegram update_id, or the REST call's number
    sent_at: float  # monotonic seconds
    latency: float | None = None  # seconds until the answer was complete (web, rasa) or first arrived (tg)
    replies: int = 0  # reply batches received for this message (exactly one is right)
    messages: int = 0  # bot messages in the reply
    error: str | None = None

    @property
    def answered(self) -> bool:
        return self.error is None and self.replies >= 1 and self.messages >= 1


def summarize(samples: Sequence[Sample], seconds: float) -> dict[str, Any]:
    """Throughput, latency percentiles (ms) and the reconciliation of one scenario's samples."""
    latencies = [s.latency for s in samples if s.answered and s.latency is not None]
    lost = sum(1 for s in samples if not s.answered)
    duplicated = sum(1 for s in samples if s.replies > 1)
    errors: dict[str, int] = {}
    for s in samples:
        if s.error:
            errors[s.error] = errors.get(s.error, 0) + 1

    def ms(value: float | None) -> float | None:
        return None if value is None else round(value * 1000.0, 1)

    return {
        "sent": len(samples),
        "answered": len(samples) - lost,
        "lost": lost,
        "duplicated": duplicated,
        "errors": errors,
        "seconds": round(seconds, 1),
        "messages_per_second": round(len(latencies) / seconds, 2) if seconds > 0 else 0.0,
        "latency_ms": {
            "p50": ms(percentile(latencies, 50)),
            "p95": ms(percentile(latencies, 95)),
            "p99": ms(percentile(latencies, 99)),
            "max": ms(max(latencies) if latencies else None),
        },
    }


def trend(points: Sequence[tuple[float, float]], window: float) -> dict[str, float | None]:
    """Growth of a series of (seconds, value): least-squares slope per hour (over the whole run and over
    its second half, where caches filled at the start no longer count), first and last `window` means."""
    if not points:
        return {"slope_per_hour": None, "late_slope_per_hour": None, "first_mean": None, "last_mean": None}
    t0, t_end = points[0][0], points[-1][0]
    first = [v for t, v in points if t - t0 <= window]
    last = [v for t, v in points if t_end - t <= window]
    late = [(t, v) for t, v in points if t >= (t0 + t_end) / 2]
    return {
        "slope_per_hour": _slope(points),
        "late_slope_per_hour": _slope(late),
        "first_mean": round(sum(first) / len(first), 2),
        "last_mean": round(sum(last) / len(last), 2),
    }


def _slope(points: Sequence[tuple[float, float]]) -> float | None:
    """Least-squares slope of value over time, per hour; None for fewer than two distinct times."""
    if len(points) < 2:
        return None
    mean_t = sum(t for t, _ in points) / len(points)
    mean_v = sum(v for _, v in points) / len(points)
    var_t = sum((t - mean_t) ** 2 for t, _ in points)
    if var_t == 0:
        return None
    return round(sum((t - mean_t) * (v - mean_v) for t, v in points) / var_t * 3600.0, 2)
