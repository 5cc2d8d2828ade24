"""Test doubles for the handoff tests: a scripted Rasa behind a real RasaClient, a settable clock, staff."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from connectors.base import InboundMessage
from desk.chat.gateway import Gateway
from desk.chat.rasa_client import RasaClient
from desk.chat.transcript import Transcript
from desk.handoff.service import Handoffs
from desk.models import Conversation, HandoffRequest, Message
from desk.settings import Settings
from desk.staff import accounts

BEIJING = ZoneInfo("Asia/Shanghai")
MONDAY_10AM = datetime(2025, 12, 1, 10, 0, tzinfo=BEIJING)  # a workday, inside office hours
FRIDAY_6PM = datetime(2025, 11, 28, 18, 0, tzinfo=BEIJING)  # after the office closed for the weekend
NATIONAL_DAY = datetime(2025, 10, 1, 10, 0, tzinfo=BEIJING)  # a public holiday (a Wednesday)

HANDOFF_ANSWER = "好的，正在为你转接老师。"


def handoff_packet(department: str = "mental_health", reason: str = "request", priority: str = "normal") -> dict:
    return {"department": department, "reason": reason, "priority": priority, "summary": ["我想找心理老师聊聊"]}


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@dataclass
class FakeRasa:
    """Rasa's REST channel, scripted: `转人工` and `/request_human` hand off, anything else gets an answer."""

    received: list[str] = field(default_factory=list)
    packet: dict[str, Any] = field(default_factory=handoff_packet)
    up: bool = True

    def handler(self, request: httpx.Request) -> httpx.Response:
        if not self.up:
            return httpx.Response(503)
        body = json.loads(request.content)
        message = body["message"]
        self.received.append(message)
        if message in ("转人工", "/request_human", "我要投诉"):
            answers = [{"recipient_id": body["sender"], "custom": {"handoff": self.packet}},
                       {"recipient_id": body["sender"], "text": HANDOFF_ANSWER}]  # fmt: skip
        else:
            answers = [{"recipient_id": body["sender"], "text": f"机器人回答：{message}"}]
        return httpx.Response(200, json=answers)


def make_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {"rasa_token": "t" * 32, "secret_key": "s" * 32, "booking_key": "", **overrides}
    return Settings(**values)


class Desk:
    """A gateway with a scripted Rasa, the ticket service and a record of console events."""

    def __init__(self, sessions: sessionmaker, clock: Clock, **settings: Any) -> None:
        self.sessions = sessions
        self.clock = clock
        self.rasa = FakeRasa()
        http = httpx.AsyncClient(transport=httpx.MockTransport(self.rasa.handler))
        self.transcript = Transcript(sessions)
        self.handoffs = Handoffs(sessions, self.transcript, make_settings(**settings), clock=clock)
        self.transcript.add_listener(self.handoffs.on_message)
        rasa = RasaClient("http://rasa.test", "t", 5.0, http)
        self.gateway = Gateway(sessions, rasa, self.handoffs, transcript=self.transcript)
        self.events: list[dict[str, Any]] = []
        self.handoffs.add_listener(self.events.append)
        self._n = 0

    async def say(self, text: str, conv: str = "web:s1", payload: str | None = None) -> list[dict[str, Any]]:
        """The student sends a message; returns the stored replies (what the student sees)."""
        self._n += 1
        channel, sender = conv.split(":", 1)
        msg = InboundMessage(channel=channel, sender=sender, text=text, external_id=f"m{self._n}", payload=payload)
        return (await self.gateway.handle(msg)).replies

    def ticket(self, conv: str = "web:s1") -> HandoffRequest:
        with self.sessions() as session:
            return session.scalars(
                select(HandoffRequest).where(HandoffRequest.conversation_id == conv).order_by(HandoffRequest.id.desc())
            ).first()

    def tickets(self, conv: str = "web:s1") -> list[HandoffRequest]:
        with self.sessions() as session:
            return list(session.scalars(select(HandoffRequest).where(HandoffRequest.conversation_id == conv)))

    def conversation(self, conv: str = "web:s1") -> Conversation:
        with self.sessions() as session:
            return session.get(Conversation, conv)

    def messages(self, conv: str = "web:s1") -> list[Message]:
        with self.sessions() as session:
            return list(session.scalars(select(Message).where(Message.conversation_id == conv).order_by(Message.id)))


def make_staff(sessions: sessionmaker) -> dict[str, accounts.CurrentUser]:
    """An admin, 王老师 of the psychological centre, 李老师 of the campus card centre, 赵老师 of both."""
    people = {}
    with sessions() as session, session.begin():
        for username, name, admin, deps in [
            ("admin", "管理员", True, []),
            ("wang", "王老师", False, ["mental_health"]),
            ("li", "李老师", False, ["campus_card"]),
            ("zhao", "赵老师", False, ["mental_health", "community"]),
        ]:
            user, _ = accounts.create_user(session, username, "password-1234", display_name=name, is_admin=admin,
                                           departments=deps)  # fmt: skip
            people[username] = accounts.CurrentUser.of(user)
    return people
