"""The desk's settings: the one settings class of knowledge_base.settings, and the desk's start-up check.

`get_settings()` is the process-wide copy with secrets resolved (generated into var/secrets.json when
not given) and the office hours (HELPDESK_HANDOFF_HOURS) parsed once, so a typo stops the desk at start
with a message that says what is wrong.
"""

from __future__ import annotations

from functools import lru_cache

from knowledge_base.office_hours import parse_hours
from knowledge_base.settings import Settings

__all__ = ["Settings", "get_settings"]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, with secrets resolved."""
    settings = Settings().with_generated_secrets()
    parse_hours(settings.handoff.hours)  # a ScheduleSpecError (a ValueError) says what is wrong
    return settings
