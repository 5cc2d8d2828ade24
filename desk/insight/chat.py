"""Insight's part in a conversation, for the gateway: before the bot (a survey answer, a clicked
suggestion) and after a bot answer (related entries, then a survey question)."""

from __future__ import annotations

from typing import Any

from anyio import to_thread
from sqlalchemy.orm import sessionmaker

from desk.insight import related
from desk.insight.surveys import Surveys
from knowledge_base.privacy import ContactCipher


class InsightChat:
    """What the gateway calls around Rasa (desk/chat/gateway.py)."""

    def __init__(self, sessions: sessionmaker, cipher: ContactCipher | None = None, related_on: bool = False) -> None:
        self._sessions = sessions
        self.surveys = Surveys(sessions, cipher)
        self._related = related_on

    async def before(self, cid: str, text: str, payload: str) -> list[dict[str, Any]] | None:
        """The replies when the message answers a survey; None when the bot should answer it."""
        if self._related and payload and not payload.startswith("/"):
            await to_thread.run_sync(related.clicked, self._sessions, cid, payload)
        return await self.surveys.answer(cid, text, payload)

    async def reads_decision(self) -> bool:
        """Whether `after` reads the answered message's decision from the database (related entries
        are on, or surveys are not quiet): the gateway then stores the decision before calling it."""
        return self._related or not await self.surveys.quiet()

    async def after(self, cid: str, message_id: int | None) -> list[dict[str, Any]]:
        """Messages to add after a bot answer: related entries (when on), else a survey question."""
        if self._related:
            offered = await to_thread.run_sync(related.offer, self._sessions, cid, message_id)
            if offered:
                return offered
        return await self.surveys.ask_after(cid)
