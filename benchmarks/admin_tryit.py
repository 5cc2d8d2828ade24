"""How long the admin's 试一试 box takes on the sample university: live only, and live + draft (the draft
needs its own index). Run: PYTHONPATH=. .venv/app/bin/python benchmarks/admin_tryit.py"""

from __future__ import annotations

import sys
import tempfile
import time

import desk.admin.models  # noqa: F401  (registers the tables)
import desk.models  # noqa: F401
import desk.staff.accounts  # noqa: F401
from desk.admin import preview
from desk.admin.schemas import FaqFields
from knowledge_base import repository
from knowledge_base.config import seed_file
from knowledge_base.db import Base, make_engine, make_session_factory
from knowledge_base.faq.answering import KnowledgeBase
from knowledge_base.kbfile import load_kb_file

QUESTION = "图书馆几点开门几点关门"


def main(rounds: int = 5) -> None:
    engine = make_engine(f"sqlite:///{tempfile.mkdtemp()}/tryit.db")
    Base.metadata.create_all(engine)
    sessions = make_session_factory(engine)
    with sessions() as session, session.begin():
        repository.import_kb(session, load_kb_file(seed_file()))
        faq = repository.get_faq(session, "library_hours")
        draft = FaqFields(question=faq.question, similar=faq.similar, answer=faq.answer + "考试周延长开放。",
                          department=faq.department_id, tags=faq.tags, service=faq.service_id)  # fmt: skip
    kb = KnowledgeBase(sessions)
    parsed = preview.Parsed(None, 0.0, None, "")
    kb.decide(QUESTION)  # the live index is built once per KB revision, as in the desk
    for i in range(rounds):
        t0 = time.perf_counter()
        preview.try_question(kb, sessions, QUESTION, parsed, None, None)
        t1 = time.perf_counter()
        preview.try_question(kb, sessions, QUESTION, parsed, "library_hours", draft)
        t2 = time.perf_counter()
        sys.stdout.write(f"round {i + 1}: live {1000 * (t1 - t0):.0f} ms, live + draft {1000 * (t2 - t1):.0f} ms "
                         f"(dense retrieval: {kb.use_dense})\n")  # fmt: skip


if __name__ == "__main__":
    main()
