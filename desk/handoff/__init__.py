"""Handoff to a person: one service, one state (docs/handoff.md is the contract).

Where to change what:

- what a student's words do to their handoff — 不用了 while queued, the satisfaction survey (a rating,
  a comment, 跳过), queue reminders, silence while a person has the chat: **desk/handoff/student.py**
  (one file: the words and what follows from them);
- how a ticket may move (bot → queued → human → bot/closed, + cancelled, returned, message) and which
  conversation state each status means: states.py, the one transition table; `advance` writes the
  ticket's status and the conversation's state together;
- the tickets' SQL: store.py (the student's side: open, cancel, survey, the sweeps) and
  staff_store.py (the console's side: queue, claim, reply, note, transfer, close, canned replies);
  shared reading and the errors: tickets.py;
- the service the gateway receives in its constructor and the console routes call: service.py
  (`Handoffs`), typed for the gateway by ports.py (`HandoffDesk`; it reaches students through a
  `StudentLine`, desk/chat/transcript.py);
- the Chinese wording: texts.py; office hours: office_hours.py;
- who takes a request and how urgently (crisis, complaint, request, not_understood):
  knowledge_base/handoff_policy.py, shared with the actions.
"""
