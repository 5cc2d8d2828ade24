"""The security group of the settings (`HELPDESK_SECURITY_*`), kept apart so knowledge_base/settings.py stays short.

Staff sessions end after `session_idle_minutes` without a request and `session_max_hours` after login.
`trusted_proxies` lists the reverse proxies whose X-Forwarded-For / X-Forwarded-Proto the desk believes
(IP addresses or networks, comma-separated; empty: none, the peer address is the client). Web chat
websockets are accepted from the public URL's origin and from `allowed_origins` (comma-separated
`https://host[:port]`). The rate limits count per client address (docs/security.md).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class SecuritySettings(BaseSettings):
    """Staff sessions, trusted proxies, allowed origins and rate limits (docs/security.md)."""

    model_config = SettingsConfigDict(env_prefix="HELPDESK_SECURITY_", env_file=".env", extra="ignore")

    session_idle_minutes: float = Field(default=30.0, gt=0)
    session_max_hours: float = Field(default=12.0, gt=0)
    trusted_proxies: str = ""
    allowed_origins: str = ""
    new_chats_per_hour: int = Field(default=30, ge=1)  # POST /api/webchat/session without a cookie, per address
    logins_per_minute: int = Field(default=10, ge=1)  # login attempts per address (failures also throttle per user)

    def proxies(self) -> list[str]:
        """The trusted proxies as a list (empty: trust none)."""
        return [p.strip() for p in self.trusted_proxies.split(",") if p.strip()]

    def origins(self) -> list[str]:
        """The extra allowed origins, normalised (`scheme://host[:port]`, lower case, no trailing slash)."""
        return [o.strip().rstrip("/").lower() for o in self.allowed_origins.split(",") if o.strip()]


def https_on(settings: Any) -> bool:
    """Whether cookies must be Secure and HSTS sent: the public URL is https, or HELPDESK_COOKIE_SECURE is on
    (`settings` is knowledge_base.settings.Settings, which imports this module)."""
    return bool(settings.cookie_secure) or str(settings.public_url).lower().startswith("https://")
