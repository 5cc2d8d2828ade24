"""Where the knowledge base lives: the one setting knowledge_base and actions need.

`HELPDESK_DATABASE_URL` selects the database (any SQLAlchemy URL); the embedded default is a SQLite
file under the project's var/ folder (or `HELPDESK_VAR_DIR`).
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def var_dir() -> Path:
    """The runtime data folder (var/ in the checkout unless HELPDESK_VAR_DIR says otherwise)."""
    return Path(os.environ.get("HELPDESK_VAR_DIR") or PROJECT_ROOT / "var").resolve()


def database_url() -> str:
    """The configured database URL, or the embedded SQLite default."""
    url = os.environ.get("HELPDESK_DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{var_dir() / 'helpdesk.db'}"


def seed_file() -> Path:
    """The sample university's knowledge base shipped with the project."""
    return PROJECT_ROOT / "knowledge_base" / "seed" / "campus.yml"
