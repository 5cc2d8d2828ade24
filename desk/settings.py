"""Settings of the desk app, from the environment (prefix HELPDESK_) and an optional .env file.

Secrets that are not given (the Rasa API token, the cookie signing key, the booking key) are generated on first run
and kept in var/secrets.json (mode 600), so restarts keep sessions and the Rasa token stable.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from knowledge_base import config as kb_config
from knowledge_base.config import load_or_create_secrets

PLACEHOLDER_SECRETS = {"changeme", "change-me", "secret", "changethis", ""}
TELEGRAM_SECRET = re.compile(r"^[A-Za-z0-9_-]{16,256}$")


def channel_problems(s: Settings) -> list[str]:
    """What is missing or unsafe in the Telegram and WeChat settings (empty when fine or off)."""
    problems: list[str] = []
    if s.telegram_mode != "off" and not s.telegram_token:
        problems.append("HELPDESK_TELEGRAM_TOKEN is required when HELPDESK_TELEGRAM_MODE is not off")
    if s.telegram_mode == "webhook" and not TELEGRAM_SECRET.match(s.telegram_secret):
        problems.append("the Telegram webhook needs HELPDESK_TELEGRAM_SECRET: 16 to 256 characters of A-Z a-z 0-9 _ -")
    if s.wechat_token:
        if not (s.wechat_appid and s.wechat_appsecret):
            problems.append("HELPDESK_WECHAT_TOKEN needs HELPDESK_WECHAT_APPID and HELPDESK_WECHAT_APPSECRET")
        if s.wechat_aes_key and len(s.wechat_aes_key) != 43:
            problems.append("HELPDESK_WECHAT_AES_KEY (EncodingAESKey) must be 43 characters")
    for name in ("telegram_secret", "wechat_token", "wechat_appsecret"):
        if getattr(s, name) and getattr(s, name).lower() in PLACEHOLDER_SECRETS:
            problems.append(f"HELPDESK_{name.upper()} is a placeholder")
    return problems


class Settings(BaseSettings):
    """All configuration of the desk process (and of `helpdesk run`)."""

    model_config = SettingsConfigDict(env_prefix="HELPDESK_", env_file=".env", extra="ignore")

    var_dir: Path = Field(default_factory=kb_config.var_dir)
    database_url: str = Field(default_factory=kb_config.database_url)
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str = ""
    rasa_url: str = "http://127.0.0.1:5005"
    rasa_port: int = 5005
    rasa_token: str = ""
    rasa_timeout_seconds: float = 15.0
    action_server_url: str = "http://127.0.0.1:5055"
    action_server_port: int = 5055
    secret_key: str = ""
    # Fernet key sealing students' contact details; shared with the action server, must never change
    booking_key: str = ""
    cookie_secure: bool = False
    university_name: str = "示例大学"
    webchat_rate_limit: int = 12
    webchat_rate_window_seconds: float = 20.0
    # Channels: off unless configured (README, "Telegram and WeChat").
    telegram_mode: Literal["off", "webhook", "polling"] = "off"
    telegram_token: str = ""
    telegram_secret: str = ""
    telegram_api_base: str = "https://api.telegram.org"
    telegram_poll_timeout_seconds: int = 30
    wechat_token: str = ""
    wechat_appid: str = ""
    wechat_appsecret: str = ""
    wechat_aes_key: str = ""
    wechat_api_base: str = "https://api.weixin.qq.com"
    wechat_passive_seconds: float = 4.0
    outbox_max_attempts: int = 8
    outbox_retry_base_seconds: float = 2.0
    # Human handoff (docs/handoff.md): office hours on Chinese workdays, idle minutes before a chat returns
    handoff_hours: str = "mon-fri: 08:30-11:30, 14:00-17:30"
    handoff_idle_minutes: float = 10.0
    handoff_sweep_seconds: float = 30.0
    # Appointment reminders (desk/delivery/reminders.py): the lead is the setting the booking core reads too
    booking_reminder_lead_minutes: int = Field(default=120, ge=1)
    reminder_poll_seconds: float = Field(default=30.0, gt=0)
    # Supervision (`helpdesk run`, docs/operations.md): a child that exits is restarted after a back-off
    # doubling from supervisor_backoff_seconds; after supervisor_restart_limit exits within
    # supervisor_restart_window_minutes it is given up (log line, /healthz 503 naming it).
    supervisor_restart_limit: int = Field(default=5, ge=1)
    supervisor_restart_window_minutes: float = Field(default=10.0, gt=0)
    supervisor_backoff_seconds: float = Field(default=1.0, ge=0)
    supervisor_backoff_max_seconds: float = Field(default=30.0, ge=0)
    desk_drain_seconds: int = Field(default=15, ge=1)  # SIGTERM: in-flight requests finish within this
    # While Rasa or the action server is down (desk/chat/pending.py): kept messages are re-sent when both are up
    pending_poll_seconds: float = Field(default=2.0, gt=0)
    pending_max_attempts: int = Field(default=3, ge=1)

    @field_validator("rasa_token", "secret_key")
    @classmethod
    def _no_placeholder(cls, value: str) -> str:
        if value and value.lower() in PLACEHOLDER_SECRETS:
            raise ValueError("replace the placeholder secret with a real random value (or leave it empty)")
        return value

    @field_validator("handoff_hours")
    @classmethod
    def _office_hours(cls, value: str) -> str:
        from desk.handoff.office_hours import parse_hours

        parse_hours(value)  # a ScheduleSpecError (a ValueError) says what is wrong
        return value

    @model_validator(mode="after")
    def _channels_complete(self) -> Settings:
        problems = channel_problems(self)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def wechat_enabled(self) -> bool:
        return bool(self.wechat_token)

    def with_generated_secrets(self) -> Settings:
        """A copy where missing secrets are filled from var/secrets.json (created if needed)."""
        if self.rasa_token and self.secret_key and self.booking_key:
            return self
        generated = load_or_create_secrets(self.var_dir)
        return self.model_copy(
            update={
                "rasa_token": self.rasa_token or generated["rasa_token"],
                "secret_key": self.secret_key or generated["secret_key"],
                "booking_key": self.booking_key or generated["booking_key"],
            }
        )

    @property
    def base_url(self) -> str:
        return self.public_url.rstrip("/") or f"http://{self.host}:{self.port}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, with secrets resolved."""
    return Settings().with_generated_secrets()
