"""Shared FastAPI dependencies (Annotated aliases) over the objects built in the lifespan."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import sessionmaker

from connectors.webchat import RateLimiter, SessionTokens, WebchatHub
from desk.chat.gateway import Gateway
from desk.settings import Settings


def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


def get_gateway(request: Request) -> Gateway:
    return request.app.state.gateway


def get_tokens(request: Request) -> SessionTokens:
    return request.app.state.tokens


def get_sessions(request: Request) -> sessionmaker:
    return request.app.state.sessions


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
GatewayDep = Annotated[Gateway, Depends(get_gateway)]
TokensDep = Annotated[SessionTokens, Depends(get_tokens)]
SessionsDep = Annotated[sessionmaker, Depends(get_sessions)]
__all__ = ["SettingsDep", "GatewayDep", "TokensDep", "SessionsDep", "RateLimiter", "WebchatHub"]
