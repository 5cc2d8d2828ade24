"""HTTP protections of every desk response: trusted proxies, security headers, allowed web chat origins,
and an access log without query strings.

- The client address is the peer's, unless the peer is one of HELPDESK_SECURITY_TRUSTED_PROXIES: then
  uvicorn's own ProxyHeadersMiddleware takes it from X-Forwarded-For (the first address from the right
  that is not a trusted proxy). X-Forwarded-For from anyone else is ignored, so a client cannot pick
  the address its limits are counted on, and a proxy's address is never the key.
- Every HTTP response carries a Content-Security-Policy suited to the desk's pages (scripts only from
  /static, inline styles allowed), X-Content-Type-Options, Referrer-Policy and frame protection (the
  web chat page may be framed by the allowed origins, staff pages by no one); HSTS when https.
- uvicorn's access log line keeps the path but drops the query string (WeChat's openid travels in it).
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from fastapi import FastAPI
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from knowledge_base.security_settings import https_on
from knowledge_base.settings import Settings

HSTS = "max-age=31536000"
BASE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
)
WEBCHAT_PAGES = ("/",)  # pages a university portal may frame (HELPDESK_SECURITY_ALLOWED_ORIGINS)


def origin_of(url: str) -> str:
    """`scheme://host[:port]` of a URL, lower case ('' when it has none)."""
    parts = urlsplit(url.strip())
    return f"{parts.scheme}://{parts.netloc}".lower() if parts.scheme and parts.netloc else ""


def allowed_origins(settings: Settings) -> set[str]:
    """The origins the web chat accepts: the public URL's, and HELPDESK_SECURITY_ALLOWED_ORIGINS."""
    allowed = set(settings.security.origins())
    if settings.public_url:
        allowed.add(origin_of(settings.public_url))
    return allowed


def webchat_origin_allowed(conn: HTTPConnection, settings: Settings) -> bool:
    """A web chat websocket's Origin: the desk's own (its Host), the public URL's or an allowed one.
    A missing Origin is a non-browser client (browsers always send it on websockets); it is let in,
    since it cannot ride on a student's browser cookie (docs/security.md)."""
    origin = conn.headers.get("origin")
    if origin is None:
        return True
    normalised = origin_of(origin)
    host = (conn.headers.get("host") or "").lower()
    if host and urlsplit(normalised).netloc == host:
        return True
    return normalised in allowed_origins(settings)


def client_address(conn: HTTPConnection) -> str:
    """The client's address (after the trusted proxies), the key of per-address limits."""
    return conn.client.host if conn.client else "unknown"


class SecurityHeaders:
    """Pure ASGI middleware adding the security headers to every HTTP response."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        framers = " ".join(sorted(allowed_origins(settings)))
        self.staff = self._headers(settings, f"{BASE_CSP}frame-ancestors 'none'", b"DENY")
        self.webchat = self._headers(settings, f"{BASE_CSP}frame-ancestors 'self' {framers}".rstrip(), b"SAMEORIGIN")

    @staticmethod
    def _headers(settings: Settings, csp: str, frame: bytes) -> list[tuple[bytes, bytes]]:
        headers = [
            (b"content-security-policy", csp.encode()),
            (b"x-frame-options", frame),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"same-origin"),
        ]
        if https_on(settings):
            headers.append((b"strict-transport-security", HSTS.encode()))
        return headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = self.webchat if scope.get("path") in WEBCHAT_PAGES else self.staff

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                message = {
                    **message,
                    "headers": [*message.get("headers", []), *(h for h in extra if h[0] not in names)],
                }
            await send(message)

        await self.app(scope, receive, send_with_headers)


class DropQueryString(logging.Filter):
    """uvicorn.access records: the path without its query string (`GET /wechat?openid=...` -> `GET /wechat`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str) and "?" in args[2]:
            record.args = (*args[:2], args[2].split("?", 1)[0], *args[3:])
        return True


def install(app: FastAPI, settings: Settings) -> None:
    """Add the security headers and trusted-proxy handling to the app; filter uvicorn's access log."""
    app.add_middleware(SecurityHeaders, settings=settings)
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.security.proxies())  # outermost
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, DropQueryString) for f in access.filters):
        access.addFilter(DropQueryString())


def uvicorn_proxy_args(settings: Settings) -> list[str]:
    """uvicorn's flags for the same trusted proxies (`helpdesk run` starts the desk with them)."""
    proxies = settings.security.proxies()
    return ["--proxy-headers", "--forwarded-allow-ips", ",".join(proxies)] if proxies else ["--no-proxy-headers"]
