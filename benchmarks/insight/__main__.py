"""`python -m benchmarks.insight`: the dashboard's chart queries on a generated year (1 million messages).

Creates a fresh PostgreSQL database (default server 127.0.0.1:5432, `--server` to change), builds the
schema and the sample university, loads a year of generated traffic (benchmarks/insight/generate.py),
rolls the year up (desk/insight/rollup.py; timed once), times each chart query (the median of `--runs`
runs after one warm-up) for an admin's whole-year view and for one department, prints the table, and
drops the database.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import date

from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

import desk.tables  # noqa: F401  (registers every table on the shared metadata)
from benchmarks.insight.generate import generate
from desk.insight import rollup
from desk.insight.queries import CHARTS
from desk.insight.scope import Filters
from knowledge_base import repository
from knowledge_base.config import seed_file
from knowledge_base.db import Base
from knowledge_base.kbfile import load_kb_file

YEAR = (date(2025, 12, 1), date(2026, 11, 30))
TODAY = date(2026, 12, 1)  # the year before it is rolled up (desk/insight/rollup.py)


def _time(engine, name: str, filters: Filters, runs: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for n in range(runs + 1):
        with Session(engine) as session:
            started = time.perf_counter()
            CHARTS[name](session, filters)
            if n:  # the first run warms the caches
                times.append(time.perf_counter() - started)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.insight", description=__doc__)
    parser.add_argument("--server", default="postgresql+psycopg2://postgres@127.0.0.1:5432")
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    name = f"insight_bench_{os.getpid()}"
    admin = create_engine(f"{args.server}/test", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = create_engine(f"{args.server}/{name}")
    try:
        Base.metadata.create_all(engine)
        with Session(engine) as session, session.begin():
            repository.import_kb(session, load_kb_file(seed_file()), changed_by="bench")
        started = time.perf_counter()
        counts = generate(engine, args.messages)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
        print(f"generated {counts} in {time.perf_counter() - started:.0f} s", flush=True)
        started = time.perf_counter()
        with Session(engine) as session, session.begin():
            days = rollup.prepare(session, Filters(*YEAR, today=TODAY))
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))
            rows = conn.execute(text("SELECT count(*) FROM insight_daily")).scalar_one()
        print(f"rolled up {days} days into {rows} rows in {time.perf_counter() - started:.1f} s (once)", flush=True)
        with Session(engine) as session:
            department = session.execute(text("SELECT department_id FROM messages WHERE department_id IS NOT NULL "
                                               "GROUP BY 1 ORDER BY count(*) DESC LIMIT 1")).scalar_one()  # fmt: skip
        views = {
            "admin, whole year": Filters(*YEAR, today=TODAY),
            f"staff of {department}, whole year": Filters(*YEAR, departments=(department,), today=TODAY),
        }
        print(f"{'chart':<18} " + " ".join(f"{v:>32}" for v in views))
        worst = 0.0
        for chart in CHARTS:
            cells = []
            for filters in views.values():
                seconds = _time(engine, chart, filters, args.runs)
                worst = max(worst, seconds)
                cells.append(f"{seconds * 1000:>29.0f} ms")
            print(f"{chart:<18} " + " ".join(cells), flush=True)
        print(f"slowest chart query: {worst * 1000:.0f} ms (target: 1000 ms)")
        return 0 if worst <= 1.0 else 1
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    sys.exit(main())
