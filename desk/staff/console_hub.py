"""The staff console's live feed: open console sockets, and the Handoffs events each of them may see.

Service events are pushed to every open console, filtered per person with the same rules as the
API: a ticket event goes to those who see the ticket in their queue (`CurrentUser.can_see`), without
the student's words for those who may not read it (`console_queries.for_reader`); a message event
only to those who may read the transcript (`CurrentUser.can_read`). A socket needs the session
cookie and an Origin equal to the desk's host (`origin_allowed`), so another site cannot open it
with the staff member's cookie; the route is desk/routes/console_socket.py.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from anyio import to_thread
from fastapi import WebSocket

from desk.staff import accounts
from desk.staff.console_queries import TicketMeta, for_reader, ticket_meta
from desk.staff.security import session_user

Send = Callable[[dict[str, Any]], Awaitable[None]]


class StaffHub:
    """Open console sockets and who is behind each; forwards service events to those who may see them.

    The hub remembers each ticket's meta (department, priority, claimer, open) from the events it has seen, so that a
    message event (which names only the ticket) can be filtered, and so that a console which could
    see a ticket before a transfer learns that it left its queue (`ticket_removed`).
    """

    def __init__(self, lookup: Callable[[int], TicketMeta | None]) -> None:
        self._clients: dict[Send, accounts.CurrentUser] = {}
        self._tickets: dict[int, TicketMeta] = {}
        self._lookup = lookup  # sync, runs in a worker thread: the meta of a ticket id

    def join(self, user: accounts.CurrentUser, send: Send) -> None:
        self._clients[send] = user

    def leave(self, send: Send) -> None:
        self._clients.pop(send, None)

    async def _send(self, send: Send, frame: dict[str, Any]) -> None:
        try:
            await send(frame)
        except Exception:  # a closed socket leaves on its own
            self.leave(send)

    async def _meta(self, ticket_id: int) -> TicketMeta | None:
        meta = self._tickets.get(ticket_id)
        if meta is None:
            meta = await to_thread.run_sync(self._lookup, ticket_id)
            if meta is not None:
                self._tickets[ticket_id] = meta
        return meta

    async def publish(self, event: dict[str, Any]) -> None:
        """Handoffs listener: one service event, fanned out to the consoles allowed to see it."""
        kind = event.get("type")
        if kind in ("ticket", "alert") and isinstance(event.get("ticket"), dict):
            ticket = event["ticket"]
            ticket_id = int(ticket["id"])
            before = self._tickets.get(ticket_id)
            now = TicketMeta.of(ticket)
            self._tickets[ticket_id] = now
            if not now.is_open:
                self._tickets.pop(ticket_id, None)
            for send, user in list(self._clients.items()):
                if now.seen_by(user):
                    await self._send(send, {**event, "ticket": for_reader(user, ticket)})
                elif kind == "ticket" and before is not None and before.seen_by(user):
                    await self._send(send, {"type": "ticket_removed", "id": ticket_id})
        elif kind == "message" and event.get("ticket_id") is not None:
            meta = await self._meta(int(event["ticket_id"]))
            if meta is None:
                return
            for send, user in list(self._clients.items()):
                if meta.read_by(user):
                    await self._send(send, event)


def start_hub(state: Any, subscribe: Callable[[Send], None] | None = None) -> StaffHub:
    """Create the console hub and subscribe it to the Handoffs service (call inside the lifespan).

    `subscribe(hub.publish)` connects the hub to the service's events; by default directly, and with
    several desk replicas through the bus (desk/fanout.connect_console), so every desk's consoles see them."""
    hub = StaffHub(lambda ticket_id: ticket_meta(state.sessions, ticket_id))
    # the service schedules the coroutine on the desk's loop
    (subscribe or state.handoffs.add_listener)(hub.publish)
    state.staff_hub = hub
    return hub


def origin_allowed(origin: str | None, host: str | None, public_url: str = "") -> bool:
    """A browser's websocket Origin must be this desk (its Host header, or the configured public URL)."""
    if not origin or not host:
        return False
    netloc = urlsplit(origin).netloc.lower()
    allowed = {host.lower()}
    if public_url:
        allowed.add(urlsplit(public_url).netloc.lower())
    return netloc in allowed


async def socket_user(websocket: WebSocket) -> accounts.CurrentUser | None:
    """The active account behind the socket's session cookie (a session still open), else None."""
    found = await session_user(websocket)
    return found[0] if found is not None else None
