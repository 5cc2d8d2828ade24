"""Where the knowledge base lives: the one setting knowledge_base and actions need.

`HELPDESK_DATABASE_URL` selects the database (any SQLAlchemy URL); the embedded default is a SQLite
file under the project's var/ folder (or `HELPDESK_VAR_DIR`).
"""

from __future__ import annotations

import base64
import json
import os
import secrets
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


SECRET_MAKERS = {
    "rasa_token": lambda: secrets.token_urlsafe(32),
    "secret_key": lambda: secrets.token_urlsafe(32),
    "booking_key": lambda: base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),  # a Fernet key
}


def load_or_create_secrets(folder: Path | None = None) -> dict[str, str]:
    """Generated secrets (Rasa token, cookie key, booking key), created once per installation
    in `<var>/secrets.json` (mode 600)."""
    folder = folder or var_dir()
    path = folder / "secrets.json"
    data: dict[str, str] = {}
    if path.exists():
        data = json.loads(path.read_text(encoding="utf-8"))
    changed = False
    for key, make in SECRET_MAKERS.items():
        if not data.get(key):
            data[key] = make()
            changed = True
    if changed:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh)
        os.replace(tmp, path)
    return data


def booking_key() -> str:
    """The Fernet key for students' contact details: `HELPDESK_BOOKING_KEY`, else the generated one.
    The desk and the action server must use the same key (the supervisor passes it on)."""
    return os.environ.get("HELPDESK_BOOKING_KEY") or load_or_create_secrets()["booking_key"]
