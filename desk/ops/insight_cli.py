"""`helpdesk insight digest` (print or post the weekly digest) and `helpdesk insight bench` (the
dashboard's query timings on a generated year, benchmarks/insight)."""

from __future__ import annotations

import argparse
import subprocess
import sys
from datetime import date, timedelta
from typing import Any

from knowledge_base import clock
from knowledge_base import settings as kb_settings
from knowledge_base.config import PROJECT_ROOT


def cmd_digest(args: argparse.Namespace) -> int:
    """Print last week's digest (or the week of --week); --send posts it to the WeCom robot."""
    from desk.insight.digest import markdown, send_wecom, week_of, weekly
    from knowledge_base.db import make_engine, make_session_factory

    try:
        day = date.fromisoformat(args.week) if args.week else clock.now().date() - timedelta(days=7)
    except ValueError:
        print("--week needs a date, YYYY-MM-DD", file=sys.stderr)
        return 2
    departments = tuple(args.department) if args.department else None
    sessions = make_session_factory(make_engine(kb_settings.database_url()))
    text = markdown(weekly(sessions, week_of(day), departments))
    print(text)
    if args.send:
        webhook = kb_settings.load_settings().insight.wecom_webhook
        if not webhook:
            print("HELPDESK_INSIGHT_WECOM_WEBHOOK is not set: nothing sent", file=sys.stderr)
            return 2
        try:
            send_wecom(webhook, text)
        except Exception as exc:  # the admin sees why, not a traceback
            print(f"not sent: {exc}", file=sys.stderr)
            return 1
        print("sent to the WeCom robot", file=sys.stderr)
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    """Run benchmarks/insight (needs PostgreSQL; it creates and drops its own database)."""
    extra = ["--messages", str(args.messages)] + (["--server", args.server] if args.server else [])
    return subprocess.call([sys.executable, "-m", "benchmarks.insight", *extra], cwd=PROJECT_ROOT)


def register(sub: Any) -> None:
    """Add `insight digest` and `insight bench` to the CLI's subcommands."""
    insight = sub.add_parser("insight", help="insight: weekly digest, dashboard benchmark")
    commands = insight.add_subparsers(dest="insight_command", required=True)
    digest = commands.add_parser("digest", help="print (or --send) a week's digest")
    digest.add_argument("--week", help="a day of the week (default: a week ago)")
    digest.add_argument("--department", action="append", help="only this department (repeatable)")
    digest.add_argument("--send", action="store_true", help="post it to HELPDESK_INSIGHT_WECOM_WEBHOOK")
    digest.set_defaults(func=cmd_digest)
    bench = commands.add_parser("bench", help="time the dashboard's queries on a generated year (PostgreSQL)")
    bench.add_argument("--messages", type=int, default=1_000_000)
    bench.add_argument("--server", help="postgresql+psycopg2://user@host:port (default 127.0.0.1:5432)")
    bench.set_defaults(func=cmd_bench)
