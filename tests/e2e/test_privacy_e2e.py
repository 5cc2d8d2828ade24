"""End to end: what a student types into the booking form is stored nowhere in clear, and can be exported
and erased (docs/privacy.md).

Real Rasa (with the desk's RedactingTrackerStore), action server and desk processes (tests/stack.py). The
test reads the bytes of the stack's real files: the desk's SQLite database (with its WAL), Rasa's tracker
store and every log under var/log.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from desk.models import HandoffRequest, Message
from desk.ops import supervisor
from knowledge_base.booking.models import Booking
from knowledge_base.config import load_or_create_secrets
from knowledge_base.privacy import ContactCipher
from tests.e2e.conftest import ChatClient
from tests.stack import Stack

pytestmark = pytest.mark.e2e

# values no other test types, so a find is this test's leak
NAME, NUMBER, PHONE = "司马青云", "2023987654", "13987654321"


def stored_files(stack: Stack) -> dict[Path, bytes]:
    """Every database file (with -wal / -journal) and every log of the stack."""
    var = stack.settings.var_dir
    paths = [*var.glob("*.db*"), *(var / "log").glob("*.log")]
    assert any(p.name == "rasa_tracker.db" for p in paths) and any(p.name == "helpdesk.db" for p in paths)
    return {p: p.read_bytes() for p in paths if p.is_file()}


def leaks(stack: Stack, *values: str) -> list[str]:
    return [f"{value} in {path.name}" for path, data in stored_files(stack).items() for value in values
            if value.encode() in data]  # fmt: skip


def helpdesk(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, HELPDESK_DATABASE_URL=stack.db_url, HELPDESK_VAR_DIR=str(stack.settings.var_dir))
    return subprocess.run([supervisor.venv_bin("app", "helpdesk"), *args], env=env, capture_output=True,
                          text=True, timeout=120)  # fmt: skip


def button(replies: list[dict[str, Any]], title: str) -> dict[str, str]:
    return next(b for r in replies for b in r.get("buttons") or [] if b["title"] == title)


async def test_booking_contact_is_masked_everywhere_then_exported_and_erased(chat: ChatClient, stack: Stack) -> None:
    await chat.ask("我想预约心理咨询")
    [ask_name] = await chat.ask("下周四下午三点")
    assert ask_name["text"].endswith("请问你的姓名是？"), ask_name["text"]
    assert [r["text"] for r in await chat.ask(NAME)] == ["请输入你的学号："]
    assert [r["text"] for r in await chat.ask(NUMBER)] == ["请输入你的手机号（11位）："]
    saved, summary = await chat.ask(PHONE)
    assert "联系人：司***，学号 20******54，手机 139****4321" in summary["text"]  # the form had the real values
    confirm = button([summary], "确认预约")
    [done] = await chat.ask(confirm["title"], payload=confirm["payload"])
    assert done["text"].startswith("预约成功！"), done["text"]
    await chat.ask(f"我的手机号是{PHONE}，学号{NUMBER}，有事打我电话")
    handoff = await chat.ask("转人工")
    assert any("老师" in r["text"] for r in handoff)

    with stack.sessions()() as session:
        typed = session.scalars(
            select(Message.text).where(Message.conversation_id == chat.conversation_id, Message.role == "student")
        ).all()
        ticket = session.scalars(
            select(HandoffRequest).where(HandoffRequest.conversation_id == chat.conversation_id)
        ).one()
        [booking] = session.scalars(select(Booking).where(Booking.starts_at > stack.now(), Booking.status == "booked"))
    assert "司***" in typed and "20******54" in typed and "139****4321" in typed
    assert any("139****4321" in line for line in ticket.packet["summary"]), ticket.packet["summary"]
    assert not leaks(stack, NAME, NUMBER, PHONE)  # no database file, tracker, packet or log holds them in clear

    # the booking still holds the real contact, sealed with the booking key
    key = load_or_create_secrets(stack.settings.var_dir)["booking_key"]
    contacts = [ContactCipher(key).open(b.contact)[0] for b in [booking]]
    assert (contacts[0].name, contacts[0].student_number, contacts[0].phone) == (NAME, NUMBER, PHONE)

    exported = helpdesk(stack, "student", "export", "--phone", PHONE)
    assert exported.returncode == 0, exported.stderr
    data = json.loads(exported.stdout)
    [conversation] = data["conversations"]
    assert conversation["id"] == chat.conversation_id
    assert any(m["text"] == "司***" for m in conversation["messages"])
    assert conversation["tickets"] and conversation["rasa_tracker_events"]
    user_texts = [e.get("text") for e in conversation["rasa_tracker_events"] if e.get("event") == "user"]
    assert "司***" in user_texts and NAME not in json.dumps(conversation["rasa_tracker_events"], ensure_ascii=False)
    assert {"name": NAME, "student_number": NUMBER, "phone": PHONE} in [b["contact"] for b in data["bookings"]]

    erased = helpdesk(stack, "student", "erase", "--phone", PHONE, "--yes")
    assert erased.returncode == 0, erased.stderr
    assert re.search(r"conversations 1\b", erased.stdout) and re.search(r"tracker_events [1-9]", erased.stdout)
    assert not leaks(stack, NAME, NUMBER, PHONE, chat.conversation_id, "司***")  # no row names them any more
    again = helpdesk(stack, "student", "export", "--phone", PHONE)
    assert again.returncode == 1 and "nothing is stored" in again.stderr
