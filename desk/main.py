"""The FastAPI application: built by `create_app`, objects wired in the lifespan."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import httpx
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from connectors.webchat import RateLimiter, SessionTokens, WebchatHub
from desk.admin import table_admin
from desk.admin.table_admin import AuditedView
from desk.channels import start_channels
from desk.chat.gateway import Gateway
from desk.chat.pending import PendingReplies, health_probe
from desk.chat.replicas import bot_client
from desk.chat.transcript import Transcript
from desk.delivery.reminders import ReminderWorker
from desk.errors import register as register_error_handlers
from desk.fanout import connect_console, connect_webchat
from desk.fanout.bus import RedisBus, make_bus
from desk.guard import http as guard_http
from desk.guard.limits import make_counters
from desk.handoff.service import Handoffs
from desk.insight.chat import InsightChat
from desk.lifecycle.service import ModelLifecycle
from desk.privacy.retention import Retention, RetentionWorker
from desk.privacy.students import StudentData
from desk.privacy.tracker import TrackerEvents, tracker_url
from desk.routes import (
    admin_data_api,
    admin_faq_api,
    admin_model_api,
    admin_pages,
    admin_schedule_api,
    admin_staff_api,
    appointments_api,
    appointments_pages,
    console_api,
    console_pages,
    console_socket,
    health,
    insight_clusters,
    insight_dashboard,
    insight_digest,
    insight_menu,
    insight_surveys,
    privacy_admin,
    staff,
    staff_account,
    telegram,
    webchat,
    wechat,
)
from desk.settings import Settings, get_settings
from desk.staff.console_hub import start_hub
from knowledge_base.booking.reminders import Reminders
from knowledge_base.db import make_engine, make_session_factory
from knowledge_base.models import utcnow
from knowledge_base.privacy import ContactCipher
from knowledge_base.redaction import install_log_redaction

logger = logging.getLogger(__name__)
STATIC_DIR = Path(__file__).resolve().parent / "static"
VERSION = "0.1.0"


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the desk app for the given settings (the environment's by default)."""
    settings = (settings or get_settings()).with_generated_secrets()
    install_log_redaction()  # no phone or student number in clear in the desk's logs (knowledge_base/redaction.py)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.database_url)
        http = httpx.AsyncClient(timeout=httpx.Timeout(settings.rasa.timeout_seconds, connect=3.0))
        app.state.settings = settings
        app.state.engine = engine
        app.state.sessions = make_session_factory(engine)
        tables.configure(bind=engine)  # the /admin/db table editors
        AuditedView.desk_sessions = app.state.sessions
        app.state.http = http
        # one Rasa server, or several with each conversation on one of them (desk/chat/replicas.py)
        app.state.rasa = bot_client(
            settings.rasa.replica_urls, settings.rasa.token, settings.rasa.timeout_seconds, http
        )
        app.state.tokens = SessionTokens(settings.secret_key, int(settings.webchat.cookie_hours * 3600))
        app.state.hub = WebchatHub()
        app.state.limiter = RateLimiter(settings.webchat.rate_limit, settings.webchat.rate_window_seconds)
        app.state.counters = make_counters(settings.redis_url, settings.redis_prefix)  # per-address limits
        # events for sockets go through the bus: in-process, or Redis pub/sub to every desk replica (desk/fanout)
        app.state.bus = bus = make_bus(settings.redis_url, settings.redis_prefix)
        transcript = Transcript(app.state.sessions)  # every message out: stored, then to these listeners
        connect_webchat(bus, transcript, app.state.hub)
        app.state.handoffs = Handoffs(app.state.sessions, transcript, settings)
        transcript.add_listener(app.state.handoffs.on_message)  # a ticket's messages reach the console
        gateway = Gateway(app.state.sessions, app.state.rasa, app.state.handoffs, transcript=transcript)
        app.state.gateway = gateway
        # the staff console's websocket hub listens to the tickets, of every desk
        start_hub(app.state, lambda publish: connect_console(bus, app.state.handoffs, publish))
        await bus.start()
        sweeper = asyncio.create_task(app.state.handoffs.sweep_forever(settings.handoff.sweep_seconds))
        redis = bus.redis if isinstance(bus, RedisBus) else None  # WeChat's nonces and token, shared
        app.state.channels = await start_channels(settings, gateway, app.state.sessions, http, redis)
        app.state.cipher = ContactCipher(settings.booking.key)
        app.state.reminders = ReminderWorker(
            Reminders(app.state.sessions, app.state.cipher, timedelta(minutes=settings.booking.reminder_lead_minutes)),
            gateway,
            poll_seconds=settings.reminder.poll_seconds,
        )
        app.state.reminders.start()
        app.state.pending = PendingReplies(
            app.state.sessions,
            gateway,
            app.state.rasa,
            health_probe(app.state.rasa, http, settings.action_server.url),
            poll_seconds=settings.pending.poll_seconds,
            max_attempts=settings.pending.max_attempts,
            cipher=app.state.cipher,
            adopt_after_seconds=settings.pending.adopt_after_seconds,
            adopt_within_minutes=settings.pending.adopt_within_minutes,
        )
        gateway.attach_pending(app.state.pending)
        # surveys in the chat (需求调研) and related entries after answers
        gateway.insight = InsightChat(app.state.sessions, app.state.cipher, settings.insight.related)
        app.state.pending.start()
        app.state.rasa_tracker = TrackerEvents(tracker_url(settings))
        app.state.students = StudentData(app.state.sessions, app.state.cipher, app.state.rasa_tracker)
        retention = Retention(app.state.sessions, app.state.cipher, app.state.rasa_tracker, settings.retention.days)
        app.state.retention = RetentionWorker(retention, utcnow, settings.retention.sweep_hours * 3600)
        app.state.retention.start()
        app.state.models = ModelLifecycle(app.state.sessions, settings, http)  # the model page (desk/lifecycle)
        try:
            yield
        finally:
            await app.state.retention.stop()
            await app.state.pending.stop()
            sweeper.cancel()
            await app.state.reminders.stop()
            await app.state.channels.stop()
            await bus.stop()
            await http.aclose()
            await app.state.counters.close()
            engine.dispose()
            app.state.rasa_tracker.dispose()

    app = FastAPI(title="Campus help desk", version=VERSION, lifespan=lifespan)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(webchat.router)
    app.include_router(health.router)
    app.include_router(telegram.router)
    app.include_router(wechat.router)
    app.include_router(staff.router)
    app.include_router(staff_account.router)
    app.include_router(console_pages.router)
    app.include_router(console_api.router)
    app.include_router(console_socket.router)
    app.include_router(appointments_pages.router)
    app.include_router(appointments_api.router)
    app.include_router(privacy_admin.router)
    app.include_router(insight_dashboard.router)
    app.include_router(insight_clusters.router)
    app.include_router(insight_surveys.router)
    app.include_router(insight_digest.router)
    app.include_router(insight_menu.router)
    app.include_router(admin_faq_api.router)
    app.include_router(admin_data_api.router)
    app.include_router(admin_model_api.router)
    app.include_router(admin_schedule_api.router)
    app.include_router(admin_staff_api.router)
    app.include_router(admin_pages.router)
    register_error_handlers(app)
    tables = table_admin.mount(app, settings.secret_key)
    guard_http.install(app, settings)  # trusted proxies, security headers, no query strings in the access log
    return app
