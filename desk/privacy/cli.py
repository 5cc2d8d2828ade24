"""`helpdesk student export|erase` and `helpdesk retention run` (docs/privacy.md).

The export is JSON on standard output (or `--out FILE`, created mode 600); erasure and retention print
the row counts. Each writes an audit row naming the operating-system user (`cli:<user>`), never the
student's data. The Rasa tracker store is the one the desk configures (HELPDESK_RASA_TRACKER_URL or
var/rasa_tracker.db), so run these with the desk's environment.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any


def _context() -> tuple[Any, Any, Any]:
    from desk.privacy.students import StudentData
    from desk.privacy.tracker import TrackerEvents, tracker_url
    from desk.settings import get_settings
    from knowledge_base.db import make_engine, make_session_factory
    from knowledge_base.privacy import ContactCipher

    settings = get_settings()
    sessions = make_session_factory(make_engine(settings.database_url))
    cipher = ContactCipher(settings.booking.key)
    tracker = TrackerEvents(tracker_url(settings))
    return settings, StudentData(sessions, cipher, tracker), (sessions, cipher, tracker)


def _subject(args: argparse.Namespace) -> Any:
    from desk.privacy.students import Subject

    return Subject.of(conversation=args.conversation, phone=args.phone)


def cmd_student_export(args: argparse.Namespace) -> int:
    """Everything the desk holds about one student, as JSON."""
    from desk.privacy import audit
    from desk.privacy.students import StudentNotFound
    from knowledge_base.models import utcnow

    try:
        subject = _subject(args)
        _, students, _ = _context()
        data = students.export(subject, actor=audit.cli_actor(), now=utcnow())
    except ValueError as exc:
        print(f"not exported: {exc}", file=sys.stderr)
        return 2
    except StudentNotFound:
        print("not exported: nothing is stored about this student", file=sys.stderr)
        return 1
    text = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    if args.out:
        path = Path(args.out)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        print(f"exported {len(data['conversations'])} conversation(s), {len(data['bookings'])} booking(s) to {path}")
    else:
        sys.stdout.write(text)
    return 0


def cmd_student_erase(args: argparse.Namespace) -> int:
    """Delete every row that names one student (statistics kept anonymised)."""
    from desk.privacy import audit
    from desk.privacy.students import StudentNotFound
    from knowledge_base.models import utcnow

    try:
        subject = _subject(args)
    except ValueError as exc:
        print(f"not erased: {exc}", file=sys.stderr)
        return 2
    if not args.yes and sys.stdin.isatty():
        answer = input(f"erase everything stored about this student ({subject.kind})? this cannot be undone [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("nothing erased")
            return 1
    _, students, _ = _context()
    try:
        counts = students.erase(subject, actor=audit.cli_actor(), now=utcnow())
    except StudentNotFound:
        print("not erased: nothing is stored about this student", file=sys.stderr)
        return 1
    print("erased: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return 0


def cmd_retention_run(args: argparse.Namespace) -> int:
    """Delete or anonymise what is older than the retention period, once."""
    from desk.privacy import audit
    from desk.privacy.retention import Retention
    from knowledge_base.models import utcnow

    settings, _, (sessions, cipher, tracker) = _context()
    days = args.days or settings.retention.days
    counts = Retention(sessions, cipher, tracker, days).run(utcnow(), actor=audit.cli_actor())
    print(f"retention ({days} days): " + (", ".join(f"{k} {v}" for k, v in counts.items() if v) or "nothing to do"))
    return 0


def register(sub: Any) -> None:
    """Add `student` and `retention` to the `helpdesk` command line."""
    student = sub.add_parser("student", help="one student's data (PIPL): export or erase")
    actions = student.add_subparsers(dest="student_command", required=True)
    for name, func, text in (
        ("export", cmd_student_export, "everything stored about a student, as JSON"),
        ("erase", cmd_student_erase, "delete every row that names a student (statistics kept)"),
    ):
        cmd = actions.add_parser(name, help=text)
        who = cmd.add_mutually_exclusive_group(required=True)
        who.add_argument("--conversation", help="conversation id: web:<uuid>, tg:<chat id>, wx:<openid>")
        who.add_argument("--phone", help="the phone number the student gave when booking")
        if name == "export":
            cmd.add_argument("--out", help="write the JSON here (mode 600) instead of standard output")
        else:
            cmd.add_argument("--yes", action="store_true", help="do not ask for confirmation")
        cmd.set_defaults(func=func)
    retention = sub.add_parser("retention", help="delete data older than HELPDESK_RETENTION_DAYS")
    retention_actions = retention.add_subparsers(dest="retention_command", required=True)
    run = retention_actions.add_parser("run", help="run the retention job once (the desk also runs it daily)")
    run.add_argument("--days", type=int, help="override HELPDESK_RETENTION_DAYS for this run")
    run.set_defaults(func=cmd_retention_run)
