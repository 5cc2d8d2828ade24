"""The one transition table of a ticket, and the conversation state that follows from it.

    (none)            -- open -->         queued (desk open or urgent) | message (desk closed)
    message           -- desk_opened -->  queued   (the desk opened, or the ticket became urgent)
    queued            -- desk_closed -->  message  (closing time, not urgent)
    queued | message  -- claim -->        claimed
    open              -- transfer -->     queued | message in the other department (unclaimed)
    queued | message  -- cancel -->       cancelled  (the student said 不用了)
    open              -- close -->        closed   (a rating is asked when a person had the chat)
    claimed           -- time_out -->     returned (the student waited too long for staff)

The conversation's state is never set by hand: `CONVERSATION_STATE` derives it from the ticket's status
(queued -> queued, claimed -> human, anything else -> bot), and `advance` writes the ticket's status,
its open key and the conversation's state (and survey) together, so the two cannot disagree. Every
change is one conditional UPDATE (`WHERE status IN <the event's sources>`), so of two processes racing
on a ticket exactly one moves it. The satisfaction survey after a chat is the conversation's `awaiting`:
`rating:<id>` -> `comment:<id>` -> none (`SURVEY_STEPS`).
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from desk.models import (
    OPEN_TICKET_STATUSES,
    STATE_BOT,
    STATE_HUMAN,
    STATE_QUEUED,
    TICKET_CANCELLED,
    TICKET_CLAIMED,
    TICKET_CLOSED,
    TICKET_MESSAGE,
    TICKET_QUEUED,
    TICKET_RETURNED,
    UNCLAIMED_STATUSES,
    Conversation,
    HandoffRequest,
)
from knowledge_base.handoff_policy import PRIORITY_URGENT
from knowledge_base.names import channel_of

WAITING = "waiting"  # a target: queued while the desk is open (or the ticket is urgent), else message

OPEN = "open"
DESK_OPENED = "desk_opened"
DESK_CLOSED = "desk_closed"
CLAIM = "claim"
TRANSFER = "transfer"
CANCEL = "cancel"
CLOSE = "close"
TIME_OUT = "time_out"

# event -> (the statuses it may leave, the status it reaches)
TRANSITIONS: dict[str, tuple[tuple[str | None, ...], str]] = {
    OPEN: ((None,), WAITING),
    DESK_OPENED: ((TICKET_MESSAGE,), TICKET_QUEUED),
    DESK_CLOSED: ((TICKET_QUEUED,), TICKET_MESSAGE),
    CLAIM: (UNCLAIMED_STATUSES, TICKET_CLAIMED),
    TRANSFER: (OPEN_TICKET_STATUSES, WAITING),
    CANCEL: (UNCLAIMED_STATUSES, TICKET_CANCELLED),
    CLOSE: (OPEN_TICKET_STATUSES, TICKET_CLOSED),
    TIME_OUT: ((TICKET_CLAIMED,), TICKET_RETURNED),
}
# The conversation's state for a ticket status (no open ticket: the bot has the chat).
CONVERSATION_STATE = {TICKET_QUEUED: STATE_QUEUED, TICKET_CLAIMED: STATE_HUMAN}

SURVEY_RATING = "rating"
SURVEY_COMMENT = "comment"
# survey step -> the next one (None: the survey is over)
SURVEY_STEPS: dict[str, str | None] = {SURVEY_RATING: SURVEY_COMMENT, SURVEY_COMMENT: None}


def conversation_state(status: str | None) -> str:
    """bot | queued | human for a ticket status (None: no ticket)."""
    return CONVERSATION_STATE.get(status or "", STATE_BOT)


def target(event: str, *, desk_open: bool, urgent: bool) -> str:
    """The status an event leads to (WAITING resolved by office hours; urgent tickets always queue)."""
    reached = TRANSITIONS[event][1]
    if reached == WAITING:
        return TICKET_QUEUED if urgent or desk_open else TICKET_MESSAGE
    return reached


def allowed(event: str, status: str | None) -> bool:
    """Whether the event may move a ticket in this status."""
    return status in TRANSITIONS[event][0]


def conversation(session: Session, conversation_id: str) -> Conversation:
    """The conversation row, created in the bot state when the desk has not seen it yet."""
    conv = session.get(Conversation, conversation_id)
    if conv is None:
        conv = Conversation(id=conversation_id, channel=channel_of(conversation_id), state=STATE_BOT)
        session.add(conv)
        session.flush()
    return conv


def settle(session: Session, ticket: HandoffRequest, survey: str | None = None) -> None:
    """Write the conversation's state from the ticket's status (and start a survey step if given)."""
    conv = conversation(session, ticket.conversation_id)
    conv.state = conversation_state(ticket.status)
    if survey is not None:
        conv.awaiting = f"{survey}:{ticket.id}"


def advance(
    session: Session,
    ticket: HandoffRequest,
    event: str,
    *,
    desk_open: bool = True,
    guard: Any = None,
    survey: str | None = None,
    **values: Any,
) -> bool:
    """Move an existing ticket by `event`, setting the other column `values` too.

    One conditional UPDATE: False when the ticket is no longer in a status the event leaves (or
    `guard`, an extra WHERE clause, fails), i.e. another process got there first. On success the
    open key follows the status and the conversation's state is written with it; `survey` starts
    that survey step for the ticket.
    """
    sources, _ = TRANSITIONS[event]
    status = target(event, desk_open=desk_open, urgent=ticket.priority == PRIORITY_URGENT)
    where = [HandoffRequest.id == ticket.id, HandoffRequest.status.in_([s for s in sources if s is not None])]
    if guard is not None:
        where.append(guard)
    open_key = ticket.conversation_id if status in OPEN_TICKET_STATUSES else None
    session.flush()  # pending changes of the ticket first: the refresh below reloads it
    result = session.execute(
        update(HandoffRequest)
        .where(*where)
        .values(status=status, open_key=open_key, **values)
        .execution_options(synchronize_session=False)
    )
    done = cast(CursorResult[Any], result).rowcount
    session.refresh(ticket)
    if done != 1:
        return False
    settle(session, ticket, survey)
    return True


def next_survey(awaiting: str | None) -> tuple[str | None, int | None]:
    """The pending survey step and its ticket id from `conversations.awaiting` ("rating:12")."""
    kind, _, ref = (awaiting or "").partition(":")
    if kind not in SURVEY_STEPS:
        return None, None
    return kind, int(ref) if ref.isdigit() else None


def survey_step(session: Session, conversation_id: str, ticket_id: int | None, done: str | None) -> None:
    """After the survey step `done` (None: the survey is dropped), the next one or none."""
    step = SURVEY_STEPS.get(done) if done else None
    conversation(session, conversation_id).awaiting = f"{step}:{ticket_id}" if step and ticket_id else None
