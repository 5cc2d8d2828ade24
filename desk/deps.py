"""Shared FastAPI dependencies (Annotated aliases) over the objects built in the lifespan."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.orm import sessionmaker

from connectors.webchat import RateLimiter, SessionTokens, WebchatHub
from desk.admin import audit
from desk.chat.gateway import Gateway
from desk.handoff.service import Handoffs
from desk.settings import Settings
from desk.staff.accounts import CurrentUser
from desk.staff.appointments_view import StaffAppointments
from knowledge_base.models import utcnow

Clock = Callable[[], datetime]


def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


def get_gateway(request: Request) -> Gateway:
    return request.app.state.gateway


def get_tokens(request: Request) -> SessionTokens:
    return request.app.state.tokens


def get_sessions(request: Request) -> sessionmaker:
    return request.app.state.sessions


def get_handoffs(request: Request) -> Handoffs:
    return request.app.state.handoffs


def get_appointments(request: Request) -> StaffAppointments:
    sessions = request.app.state.sessions

    def audited(user: CurrentUser, code: str, before: dict[str, Any], after: dict[str, Any]) -> None:
        with sessions.begin() as session:  # the booking layer committed the mark in its own transaction
            audit.record(session, user.username, user.id, "booking.mark", "booking", code, before, after)

    return StaffAppointments(sessions, request.app.state.cipher, audited)


def get_clock() -> Clock:
    """The clock of the staff pages (the one clock; tests override this dependency with a frozen one)."""
    return utcnow


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
GatewayDep = Annotated[Gateway, Depends(get_gateway)]
TokensDep = Annotated[SessionTokens, Depends(get_tokens)]
SessionsDep = Annotated[sessionmaker, Depends(get_sessions)]
HandoffsDep = Annotated[Handoffs, Depends(get_handoffs)]
AppointmentsDep = Annotated[StaffAppointments, Depends(get_appointments)]
ClockDep = Annotated[Clock, Depends(get_clock)]
__all__ = [
    "AppointmentsDep",
    "ClockDep",
    "GatewayDep",
    "HandoffsDep",
    "SessionsDep",
    "SettingsDep",
    "TokensDep",
    "RateLimiter",
    "WebchatHub",
]
