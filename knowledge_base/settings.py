"""The settings of every process of the app environment (desk, action server, CLI): one pydantic-settings class.

Each setting is an environment variable `HELPDESK_<NAME>` (or a line of an optional `.env` file), grouped
by job: `settings.rasa.url` is `HELPDESK_RASA_URL`, `settings.booking.key` is `HELPDESK_BOOKING_KEY`,
`settings.database_url` is `HELPDESK_DATABASE_URL` (.env.example lists them all). Keyword arguments take
either the groups (`rasa=RasaSettings(...)`) or the flat names of the variables without the prefix
(`Settings(rasa_token=..., telegram_mode="webhook")`), and `environ()` gives the variables back, so the
supervisor hands its children exactly these settings.

Secrets not given (the Rasa API token, the cookie signing key, the booking key) are generated on first run
into var/secrets.json (knowledge_base.config): restarts keep the Rasa token and sealed contacts readable.

Read elsewhere, on purpose: knowledge_base/clock.py reads HELPDESK_NOW / HELPDESK_NOW_SINCE itself, because
Rasa's time extractor uses it in the Rasa environment (pydantic 1, no pydantic-settings); the Rasa-side
components in bot/ likewise. The desk checks its office hours when it starts (desk/settings.py).
"""

from __future__ import annotations

import os
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from knowledge_base.booking.types import BookingPolicy
from knowledge_base.channel_checks import PLACEHOLDER_SECRETS, channel_problems
from knowledge_base.config import PROJECT_ROOT, load_or_create_secrets
from knowledge_base.security_settings import SecuritySettings

PREFIX = "HELPDESK_"
DENSE_OFF = ("off", "0", "false", "no")


def _config(prefix: str) -> SettingsConfigDict:
    return SettingsConfigDict(env_prefix=prefix, env_file=".env", extra="ignore", populate_by_name=True)


class RasaSettings(BaseSettings):
    """The Rasa server (loopback only) and its conversation store."""

    model_config = _config("HELPDESK_RASA_")

    url: str = "http://127.0.0.1:5005"
    urls: str = ""  # several replicas, comma-separated; a conversation sticks to one (desk/chat/replicas.py)
    port: int = 5005
    token: str = ""
    timeout_seconds: float = 15.0
    tracker_url: str = ""  # Rasa's SQLTrackerStore; empty: SQLite at var/rasa_tracker.db

    @property
    def replica_urls(self) -> list[str]:
        """The Rasa servers the desk talks to: HELPDESK_RASA_URLS, else HELPDESK_RASA_URL alone."""
        urls = [u.strip().rstrip("/") for u in self.urls.split(",") if u.strip()]
        return urls or [self.url.rstrip("/")]


class ActionServerSettings(BaseSettings):
    """The rasa-sdk action server (loopback only)."""

    model_config = _config("HELPDESK_ACTION_SERVER_")

    url: str = "http://127.0.0.1:5055"
    port: int = 5055


class WebchatSettings(BaseSettings):
    """Web chat: messages per window per conversation; the conversation cookie's hours (docs/privacy.md)."""

    model_config = _config("HELPDESK_WEBCHAT_")
    rate_limit: int = 12
    rate_window_seconds: float = 20.0
    cookie_hours: float = Field(default=24.0, gt=0)


class RetentionSettings(BaseSettings):
    """Messages, tickets and trackers are deleted after `days`, checked every `sweep_hours` (docs/privacy.md)."""

    model_config = _config("HELPDESK_RETENTION_")
    days: int = Field(default=180, ge=1)
    sweep_hours: float = Field(default=24.0, gt=0)


class TelegramSettings(BaseSettings):
    """Telegram: off unless configured (README, "Telegram")."""

    model_config = _config("HELPDESK_TELEGRAM_")

    mode: Literal["off", "webhook", "polling"] = "off"
    token: str = ""
    secret: str = ""
    api_base: str = "https://api.telegram.org"
    poll_timeout_seconds: int = 30


class WechatSettings(BaseSettings):
    """The WeChat Official Account: on when the token is set (README, "WeChat Official Account")."""

    model_config = _config("HELPDESK_WECHAT_")

    token: str = ""
    appid: str = ""
    appsecret: str = ""
    aes_key: str = ""
    api_base: str = "https://api.weixin.qq.com"
    passive_seconds: float = 4.0

    @property
    def enabled(self) -> bool:
        return bool(self.token)


class OutboxSettings(BaseSettings):
    """Delivery to Telegram and WeChat: attempts before a message is marked failed, first retry delay."""

    model_config = _config("HELPDESK_OUTBOX_")

    max_attempts: int = 8
    retry_base_seconds: float = 2.0


class HandoffSettings(BaseSettings):
    """Human handoff (docs/handoff.md): office hours on Chinese workdays, idle minutes before a chat returns."""

    model_config = _config("HELPDESK_HANDOFF_")

    hours: str = "mon-fri: 08:30-11:30, 14:00-17:30"
    idle_minutes: float = 10.0
    sweep_seconds: float = 30.0


class BookingSettings(BaseSettings):
    """Appointments: the key sealing students' contact details and the booking limits (docs/booking.md)."""

    model_config = _config("HELPDESK_BOOKING_")

    # Fernet key; shared by the desk and the action server, must never change (lookups hash with it)
    key: str = ""
    horizon_days: int = 14
    min_notice_minutes: int = 30
    max_open: int = 5
    reminder_lead_minutes: int = Field(default=120, ge=1)  # the desk's reminders and the booking core

    def policy(self) -> BookingPolicy:
        """The booking limits these settings give."""
        return BookingPolicy(
            horizon_days=self.horizon_days,
            min_notice=timedelta(minutes=self.min_notice_minutes),
            max_open_per_student=self.max_open,
            reminder_lead=timedelta(minutes=self.reminder_lead_minutes),
        )


class ReminderSettings(BaseSettings):
    """How often the desk looks for due appointment reminders (desk/delivery/reminders.py)."""

    model_config = _config("HELPDESK_REMINDER_")

    poll_seconds: float = Field(default=30.0, gt=0)


class SupervisorSettings(BaseSettings):
    """`helpdesk run` (docs/operations.md): a child that exits is restarted after a back-off doubling from
    backoff_seconds up to backoff_max_seconds; after restart_limit exits within restart_window_minutes it
    is given up (a log line naming it, /healthz 503)."""

    model_config = _config("HELPDESK_SUPERVISOR_")

    restart_limit: int = Field(default=5, ge=1)
    restart_window_minutes: float = Field(default=10.0, gt=0)
    backoff_seconds: float = Field(default=1.0, ge=0)
    backoff_max_seconds: float = Field(default=30.0, ge=0)


class PendingSettings(BaseSettings):
    """Messages kept while Rasa or the action server is down (desk/chat/pending.py): how often the desk
    checks that both are back, and how many tries a kept message gets before the student is told."""

    model_config = _config("HELPDESK_PENDING_")

    poll_seconds: float = Field(default=2.0, gt=0)
    max_attempts: int = Field(default=3, ge=1)
    # a student message left with no answer at all (the desk was killed while Rasa was thinking) is
    # adopted once it is older than this (longer than any live handling: see desk/chat/pending.py)
    adopt_after_seconds: float = Field(default=45.0, gt=0)
    adopt_within_minutes: float = Field(default=30.0, gt=0)


class RetrievalSettings(BaseSettings):
    """Dense FAQ retrieval (knowledge_base/faq/dense.py): on unless HELPDESK_DENSE=off; its embedding cache."""

    model_config = _config(PREFIX)

    dense: bool = Field(default=True, validation_alias=AliasChoices("dense", "HELPDESK_DENSE"))
    # empty: <var>/embeddings
    embeddings_dir: Path | None = Field(
        default=None, validation_alias=AliasChoices("embeddings_dir", "HELPDESK_EMBEDDINGS_DIR")
    )

    @field_validator("dense", mode="before")
    @classmethod
    def _on_unless_off(cls, value: Any) -> bool:
        return str(value).strip().lower() not in DENSE_OFF

    @field_validator("embeddings_dir", mode="before")
    @classmethod
    def _empty_is_default(cls, value: Any) -> Any:
        return value or None


class InsightSettings(BaseSettings):
    """Insight (docs/insight.md): the weekly digest's WeCom group robot (empty: off); related entries after answers."""

    model_config = _config("HELPDESK_INSIGHT_")
    wecom_webhook: str = ""  # https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=...
    related: bool = False  # after an FAQ answer, suggest two related entries (desk/insight/related.py)


GROUPS: dict[str, type[BaseSettings]] = {
    "rasa": RasaSettings,
    "action_server": ActionServerSettings,
    "webchat": WebchatSettings,
    "telegram": TelegramSettings,
    "wechat": WechatSettings,
    "outbox": OutboxSettings,
    "handoff": HandoffSettings,
    "booking": BookingSettings,
    "reminder": ReminderSettings,
    "retrieval": RetrievalSettings,
    "supervisor": SupervisorSettings,
    "pending": PendingSettings,
    "retention": RetentionSettings,
    "insight": InsightSettings,
    "security": SecuritySettings,
}


def env_name(group: type[BaseSettings], field: str) -> str:
    """The environment variable of a field of a group (`HELPDESK_RASA_URL` for rasa.url)."""
    alias = group.model_fields[field].validation_alias
    if isinstance(alias, AliasChoices):
        return str(alias.choices[-1])
    return f"{group.model_config.get('env_prefix', '')}{field}".upper()


# flat keyword name (the variable without HELPDESK_, lower case) -> (group, field)
FLAT_NAMES: dict[str, tuple[str, str]] = {
    env_name(cls, field).removeprefix(PREFIX).lower(): (group, field)
    for group, cls in GROUPS.items()
    for field in cls.model_fields
}


class Settings(BaseSettings):
    """All configuration of the desk, the action server and `helpdesk` (the CLI and `helpdesk run`)."""

    model_config = SettingsConfigDict(env_prefix=PREFIX, env_file=".env", extra="ignore")

    var_dir: Path = PROJECT_ROOT / "var"  # runtime data: databases, secrets, models, logs, embeddings
    database_url: str = ""  # any SQLAlchemy URL; empty: SQLite at <var>/helpdesk.db
    redis_url: str = ""  # Redis for what replicas share (docs/deployment.md); empty: in-process; keys: redis_prefix
    redis_prefix: str = "helpdesk"
    model: Path | None = None  # the Rasa model `helpdesk run` serves; empty: the newest under <var>/models
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str = ""
    secret_key: str = ""  # signs the web chat and staff cookies
    cookie_secure: bool = False  # staff and web chat cookies are Secure anyway when public_url is https
    university_name: str = "示例大学"
    desk_drain_seconds: int = Field(default=15, ge=1)  # SIGTERM: the desk's in-flight requests finish within this

    rasa: RasaSettings = Field(default_factory=RasaSettings)
    action_server: ActionServerSettings = Field(default_factory=ActionServerSettings)
    webchat: WebchatSettings = Field(default_factory=WebchatSettings)
    telegram: TelegramSettings = Field(default_factory=TelegramSettings)
    wechat: WechatSettings = Field(default_factory=WechatSettings)
    outbox: OutboxSettings = Field(default_factory=OutboxSettings)
    handoff: HandoffSettings = Field(default_factory=HandoffSettings)
    booking: BookingSettings = Field(default_factory=BookingSettings)
    reminder: ReminderSettings = Field(default_factory=ReminderSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    supervisor: SupervisorSettings = Field(default_factory=SupervisorSettings)
    pending: PendingSettings = Field(default_factory=PendingSettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    insight: InsightSettings = Field(default_factory=InsightSettings)
    security: SecuritySettings = Field(default_factory=SecuritySettings)

    @model_validator(mode="before")
    @classmethod
    def _flat_names(cls, data: Any) -> Any:
        """`rasa_token=...` sets rasa.token; a group given as a dict still reads the environment for the rest."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        flat: dict[str, dict[str, Any]] = {}
        for key in [k for k in data if k in FLAT_NAMES]:
            group, field = FLAT_NAMES[key]
            flat.setdefault(group, {})[field] = data.pop(key)
        for group, group_cls in GROUPS.items():
            given = data.get(group)
            if isinstance(given, BaseModel) and group not in flat:
                continue
            values = given.model_dump() if isinstance(given, BaseModel) else dict(given or {})
            if given is not None or group in flat:
                data[group] = group_cls(**{**values, **flat.get(group, {})})
        return data

    @field_validator("var_dir", mode="before")
    @classmethod
    def _var_dir(cls, value: Any) -> Path:
        return Path(value or PROJECT_ROOT / "var").resolve()

    @field_validator("model", mode="before")
    @classmethod
    def _no_model(cls, value: Any) -> Any:
        return value or None

    @field_validator("secret_key")
    @classmethod
    def _no_placeholder(cls, value: str) -> str:
        if value and value.lower() in PLACEHOLDER_SECRETS:
            raise ValueError("replace the placeholder secret with a real random value (or leave it empty)")
        return value

    @model_validator(mode="after")
    def _complete(self) -> Settings:
        if self.rasa.token and self.rasa.token.lower() in PLACEHOLDER_SECRETS:
            raise ValueError("HELPDESK_RASA_TOKEN: replace the placeholder secret with a real random value")
        problems = channel_problems(self)
        if problems:
            raise ValueError("; ".join(problems))
        if not self.database_url:
            self.database_url = f"sqlite:///{self.var_dir / 'helpdesk.db'}"
        return self

    @property
    def embeddings_dir(self) -> Path:
        """Where FAQ embeddings are cached: HELPDESK_EMBEDDINGS_DIR, else <var>/embeddings."""
        return self.retrieval.embeddings_dir or self.var_dir / "embeddings"

    @property
    def base_url(self) -> str:
        return self.public_url.rstrip("/") or f"http://{self.host}:{self.port}"

    def updated(self, **changes: Any) -> Settings:
        """A copy with some settings changed (flat names or groups), validated again."""
        return type(self)(**{**self.model_dump(), **changes})

    def with_generated_secrets(self) -> Settings:
        """A copy where missing secrets are filled from var/secrets.json (created if needed)."""
        if self.rasa.token and self.secret_key and self.booking.key:
            return self
        generated = load_or_create_secrets(self.var_dir)
        return self.updated(
            rasa_token=self.rasa.token or generated["rasa_token"],
            secret_key=self.secret_key or generated["secret_key"],
            booking_key=self.booking.key or generated["booking_key"],
        )

    def environ(self) -> dict[str, str]:
        """The settings as HELPDESK_* environment variables (for the processes `helpdesk run` starts)."""
        out: dict[str, str] = {}
        for name, value in self:
            if name in GROUPS:
                for field, inner in value:
                    if inner is not None:
                        out[env_name(GROUPS[name], field)] = str(inner)
            elif value is not None:
                out[f"{PREFIX}{name.upper()}"] = str(value)
        return out


@lru_cache(maxsize=8)
def _from(environ: tuple[tuple[str, str], ...]) -> Settings:
    return Settings()


def load_settings() -> Settings:
    """The settings the environment gives now (cached while the HELPDESK_* variables stay the same)."""
    return _from(tuple(sorted((k, v) for k, v in os.environ.items() if k.upper().startswith(PREFIX))))


def var_dir() -> Path:
    """The runtime data folder (var/ in the checkout unless HELPDESK_VAR_DIR says otherwise)."""
    return load_settings().var_dir


def database_url() -> str:
    """The configured database URL, or the embedded SQLite default."""
    return load_settings().database_url


def booking_key() -> str:
    """The Fernet key for students' contact details: `HELPDESK_BOOKING_KEY`, else the generated one.
    The desk and the action server must use the same key (the supervisor passes it on)."""
    settings = load_settings()
    return settings.booking.key or load_or_create_secrets(settings.var_dir)["booking_key"]
