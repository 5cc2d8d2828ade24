"""The bench's output: a plain-text table for the terminal and the JSON report under var/bench/."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def scenario_rows(name: str, summary: dict[str, Any]) -> str:
    lat = summary["latency_ms"]
    return (
        f"  {name:<22}{summary['sent']:>7}{summary['lost']:>6}{summary['duplicated']:>6}{summary.get('stray', 0):>6}"
        f"{summary['messages_per_second']:>8.2f}{_ms(lat['p50']):>8}{_ms(lat['p95']):>8}{_ms(lat['p99']):>8}"
    )


def table(report: dict[str, Any]) -> str:
    """Everything a reader needs to compare two runs, as lines of text."""
    out = [f"machine: {report['machine']}", f"command: {report['command']}", ""]
    scenarios = report.get("scenarios", {})
    if scenarios:
        out.append(f"  {'scenario':<22}{'sent':>7}{'lost':>6}{'dup':>6}{'stray':>6}{'msg/s':>8}"
                   f"{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}")  # fmt: skip
        for name, summary in scenarios.items():
            out.append(scenario_rows(name, summary))
    ratio = report.get("gateway_p95_ratio")
    if ratio is not None:
        out.append(f"\n  gateway p95 / bare Rasa p95 at the same load: {ratio:.2f}")
    for name, usage in report.get("processes", {}).items():
        out.append(f"\n  processes during {name}:")
        for proc, row in usage.items():
            cpu = row.get("cpu_ms_per_message")
            out.append(f"    {proc:<10} peak RSS {row['peak_rss_mb']:>8.1f} MB   CPU "
                       f"{'-' if cpu is None else f'{cpu:.1f}':>7} ms/message")  # fmt: skip
    sql = report.get("sql_per_message")
    if sql:
        out.append("\n  database round trips per answered message (SQL statements / commits, SQLAlchemy events):")
        for proc, row in sql.items():
            out.append(f"    {proc:<10} {row.get('statements')} statements, {row.get('commits')} commits")
    sat = report.get("saturation")
    if sat:
        out.append("\n  saturation (ramp until p95 or errors pass the limit):")
        for system, data in sat.items():
            steps = ", ".join(f"{s['students']}:{s['messages_per_second']:.1f}/{_ms(s['latency_ms']['p95'])}"
                              for s in data["steps"])  # fmt: skip
            best = data["saturation"]
            out.append(f"    {system:<10} {best['messages_per_second']:>6.1f} msg/s at {best['students']} students"
                       f" (p95 {_ms(best['p95_ms'])} ms)   steps students:msg/s/p95 = {steps}")  # fmt: skip
    soak = report.get("soak")
    if soak:
        out.append(f"\n  soak {soak['seconds']:.0f} s, RSS sampled every {soak['sample_seconds']:.0f} s "
                   f"(window {soak['window_seconds']:.0f} s):")  # fmt: skip
        for proc, trend in soak["trend"].items():
            out.append(f"    {proc:<10} first {trend['first_mean']} MB  last {trend['last_mean']} MB  slope "
                       f"{trend['slope_per_hour']} MB/h (second half {trend['late_slope_per_hour']} MB/h)")  # fmt: skip
    profile = report.get("profile")
    if profile:
        out.append(f"\n  profile (py-spy, {profile['folder']}), top self time per process:")
        for proc, data in profile["processes"].items():
            heads = "; ".join(f"{r['share']:.0%} {r['frame']}" for r in data["self"][:3])
            out.append(f"    {proc:<10} {data['samples']} samples: {heads}")
    return "\n".join(out)


def write(report: dict[str, Any], folder: Path, stamp: str) -> Path:
    """Write the report as var/bench/<stamp>.json and var/bench/latest.json; return the first."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stamp}.json"
    text = json.dumps(report, ensure_ascii=False, indent=1)
    path.write_text(text, encoding="utf-8")
    (folder / "latest.json").write_text(text, encoding="utf-8")
    return path
