"""Every table of the help desk on one metadata (knowledge_base.db.Base): import this module before
`Base.metadata.create_all` or Alembic's autogenerate, so no table is missing because its module was not
imported yet. A test (tests/test_layout.py) checks that every module defining a table is listed here."""

from __future__ import annotations

import desk.admin.models
import desk.insight.models
import desk.lifecycle.models
import desk.models
import desk.staff.access_log
import desk.staff.accounts
import desk.staff.sessions
import knowledge_base.booking.models
import knowledge_base.models
from knowledge_base.db import Base

MODULES = (
    desk.admin.models,
    desk.insight.models,
    desk.lifecycle.models,
    desk.models,
    desk.staff.access_log,
    desk.staff.accounts,
    desk.staff.sessions,
    knowledge_base.booking.models,
    knowledge_base.models,
)
metadata = Base.metadata
