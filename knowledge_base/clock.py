"""The one clock: every process (desk, Rasa components, action server, CLI) reads "now" here.

By default it is the wall clock. Tests, `make eval` and demonstrations set it through the environment,
which every child process inherits, so all processes of one help desk agree on the time:

- `HELPDESK_NOW=2026-12-01T10:00:00+08:00` alone freezes the clock at that instant (a naive value is
  read as Asia/Shanghai);
- with `HELPDESK_NOW_SINCE=<unix time>` as well, the clock runs: it showed HELPDESK_NOW at that real
  moment and advances with the wall clock from there (the e2e stacks use this, so retries, waits and
  reminders still move forward while the date and the hour are fixed).

Pure standard library, so the Rasa environment can import it too.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

TZ = ZoneInfo("Asia/Shanghai")
NOW_VARIABLE = "HELPDESK_NOW"
SINCE_VARIABLE = "HELPDESK_NOW_SINCE"


@lru_cache(maxsize=8)
def _parse(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=TZ)).astimezone(timezone.utc)


def now() -> datetime:
    """Timezone-aware now in UTC (what the database stores)."""
    return read(os.environ)


def read(env: Mapping[str, str]) -> datetime:
    """Now (UTC) as the clock set by the variables in `env` shows it."""
    fixed = env.get(NOW_VARIABLE)
    if not fixed:
        return datetime.now(timezone.utc)
    start = _parse(fixed)
    since = env.get(SINCE_VARIABLE)
    if since:
        return start + timedelta(seconds=time.time() - float(since))
    return start


def local_now() -> datetime:
    """Now in Asia/Shanghai, the university's time zone (office hours, bookings, 明天)."""
    return now().astimezone(TZ)


def environment(at: datetime | str, running: bool = True) -> dict[str, str]:
    """The variables that set every process of a help desk to `at` (ticking from now when `running`)."""
    value = at if isinstance(at, str) else at.isoformat()
    env = {NOW_VARIABLE: value}
    if running:
        env[SINCE_VARIABLE] = repr(time.time())
    return env
