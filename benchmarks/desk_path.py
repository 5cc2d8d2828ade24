"""The desk's own cost per answered web-chat message, without Rasa: CPU ms, SQL statements, commits.

`python -m benchmarks.desk_path [--messages 300]` builds the desk app on a fresh seeded SQLite file,
answers through a scripted Rasa (an httpx mock transport: one text answer and the action server's
decision message, as a FAQ answer looks), sends the messages over one web-chat socket after 20 warm-up
messages and prints what the desk process spent per message. It needs no running Rasa, so a change to the
gateway can be compared before/after in a minute, and the counts do not depend on the machine's load
(the CPU figure does, a little). The full stack is `python -m benchmarks.load`.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import event, select

import desk.tables  # noqa: F401  (registers every table on the shared metadata)
from desk.main import create_app
from desk.settings import Settings
from knowledge_base import repository
from knowledge_base.config import seed_file
from knowledge_base.db import Base, make_engine, make_session_factory
from knowledge_base.kbfile import load_kb_file
from knowledge_base.models import Faq

WARM_UP = 20


def _database(folder: Path) -> tuple[str, str]:
    """A seeded database file; its URL and a published FAQ entry's id."""
    url = f"sqlite:///{folder / 'helpdesk.db'}"
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    sessions = make_session_factory(engine)
    with sessions() as session, session.begin():
        repository.import_kb(session, load_kb_file(seed_file()), changed_by="bench")
    with sessions() as session:
        faq_id = session.scalars(select(Faq.id).where(Faq.published.is_(True)).order_by(Faq.id)).first()
    engine.dispose()
    return url, str(faq_id)


def run(messages: int, warm_up: int = WARM_UP) -> dict[str, float]:
    """Send `messages` questions after `warm_up` others; the desk's cost per message."""
    with tempfile.TemporaryDirectory() as tmp:
        url, faq_id = _database(Path(tmp))

        def rasa(request: httpx.Request) -> httpx.Response:
            sender = json.loads(request.content)["sender"]
            decision = {"recipient_id": sender, "custom": {"decision": {"kind": "faq_answer", "faq_id": faq_id}}}
            return httpx.Response(200, json=[{"recipient_id": sender, "text": "答案"}, decision])

        settings = Settings(var_dir=Path(tmp), database_url=url, rasa_token="t" * 32, secret_key="s" * 32)
        app = create_app(settings)
        counts = {"statements": 0, "commits": 0}
        with TestClient(app) as client:
            app.state.gateway._rasa._client = httpx.AsyncClient(transport=httpx.MockTransport(rasa))
            client.post("/api/webchat/session")
            app.state.limiter.limit = 10**9
            with client.websocket_connect("/ws/webchat") as ws:

                def ask(n: int) -> None:
                    ws.send_text(json.dumps({"type": "message", "text": f"校园卡丢了怎么办{n}", "client_id": f"c{n}"}))
                    while ws.receive_json() != {"type": "typing", "on": False}:
                        pass

                for n in range(warm_up):
                    ask(n)

                def on_execute(*_args: object) -> None:
                    counts["statements"] += 1

                def on_commit(*_args: object) -> None:
                    counts["commits"] += 1

                event.listen(app.state.engine, "before_cursor_execute", on_execute)
                event.listen(app.state.engine, "commit", on_commit)
                cpu, wall = time.process_time(), time.perf_counter()
                for n in range(warm_up, warm_up + messages):
                    ask(n)
                cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
                event.remove(app.state.engine, "before_cursor_execute", on_execute)
                event.remove(app.state.engine, "commit", on_commit)
    return {
        "messages": messages,
        "cpu_ms": round(1000 * cpu / messages, 2),
        "wall_ms": round(1000 * wall / messages, 2),
        "statements": round(counts["statements"] / messages, 2),
        "commits": round(counts["commits"] / messages, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=300)
    args = parser.parse_args()
    print(json.dumps(run(args.messages)))


if __name__ == "__main__":
    main()
