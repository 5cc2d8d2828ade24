"""Where the project lives and its generated secrets (var/secrets.json).

The settings themselves (database URL, var/ folder, keys, ...) are knowledge_base.settings.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def seed_file() -> Path:
    """The sample university's knowledge base shipped with the project."""
    return PROJECT_ROOT / "knowledge_base" / "seed" / "campus.yml"


SECRET_MAKERS = {
    "rasa_token": lambda: secrets.token_urlsafe(32),
    "secret_key": lambda: secrets.token_urlsafe(32),
    "booking_key": lambda: base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),  # a Fernet key
}


def load_or_create_secrets(folder: Path) -> dict[str, str]:
    """Generated secrets (Rasa token, cookie key, booking key), created once per installation
    in `<var>/secrets.json` (mode 600)."""
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
