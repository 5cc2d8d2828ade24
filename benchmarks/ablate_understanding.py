"""Ablations of issue 14's pieces without Rasa: each normalisation step for retrieval, each crisis tier.

    .venv/app/bin/python benchmarks/ablate_understanding.py [kb.yml] [a.jsonl ...]

Retrieval: FAQ top-1 / top-3 of the `faq:` lines with the query normalised step by step (nothing;
Traditional -> Simplified and width; + pinyin/homophones of the knowledge base's words; + parents' third
person). Crisis: per set, the lines labelled crisis sent to the urgent path and the other lines sent to
the urgent path / the check-in, for the lexicon alone (before this work: no tiers) and the tiers.
The dev sets only measure here: every weight and threshold comes from the project's own data.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from knowledge_base import normalization, repository, safety
from knowledge_base.db import Base, make_engine, make_session_factory
from knowledge_base.faq.answering import KnowledgeBase
from knowledge_base.kbfile import load_kb_file

BENCH = Path(__file__).resolve().parent.parent.parent / "shared" / "benchmarks" / "campus"
SETS = ["dev_faq", "dev_dialogue", "dev_robust", "dev_everyday"]


def main() -> int:
    """Print both ablation tables."""
    kb_path = Path(sys.argv[1]) if len(sys.argv) > 1 else BENCH / "kb.yml"
    paths = [Path(p) for p in sys.argv[2:]] or [BENCH / f"{s}.jsonl" for s in SETS]
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'a.db'}")
        Base.metadata.create_all(engine)
        sessions = make_session_factory(engine)
        with sessions() as session, session.begin():
            repository.import_kb(session, load_kb_file(kb_path), changed_by="ablation")
        kb = KnowledgeBase(sessions)
        kb.search("预热")
        with sessions() as session:
            snap = kb._current(session)
        fixer = snap.fixer
        assert fixer is not None
        steps: list[tuple[str, Callable[[str], str]]] = [
            ("raw text", lambda t: t),
            ("+ Traditional->Simplified, width", normalization.simplify),
            ("+ pinyin / homophones", lambda t: fixer.fix(normalization.simplify(t))),
            ("+ parents' third person (chosen)", snap.query),
        ]
        print("retrieval (FAQ lines), top-1 / top-3")
        for path in paths:
            lines = [json.loads(r) for r in path.read_text(encoding="utf-8").splitlines() if r.strip()]
            faq = [x for x in lines if x["expect"].startswith("faq:")]
            if not faq:
                continue
            cells = []
            for _name, prep in steps:
                top1 = top3 = 0
                for x in faq:
                    ok = {x["expect"], *x.get("also", [])}
                    ids = ["faq:" + m.faq_id for m in snap.retriever.search(prep(x["text"]), k=3)]
                    top1 += bool(ids) and ids[0] in ok
                    top3 += any(i in ok for i in ids)
                cells.append(f"{top1 / len(faq):.3f} / {top3 / len(faq):.3f}")
            print(
                f"  {path.stem} (n={len(faq)}): "
                + " | ".join(f"{n}: {c}" for (n, _), c in zip(steps, cells, strict=True))
            )
        engine.dispose()
    print("crisis (text alone): crisis lines urgent; other lines urgent / check-in")
    for path in paths:
        lines = [json.loads(r) for r in path.read_text(encoding="utf-8").splitlines() if r.strip()]
        crisis = [x for x in lines if x["expect"] == "intent:crisis"]
        other = [x for x in lines if x["expect"] != "intent:crisis"]
        old = sum(safety.is_crisis(x["text"]) for x in crisis), sum(safety.is_crisis(x["text"]) for x in other)
        tiers = [safety.assess(x["text"]).tier for x in other]
        urgent = sum(safety.assess(x["text"]).urgent for x in crisis)
        print(
            f"  {path.stem}: lexicon alone {old[0]}/{len(crisis)}, false {old[1]}/{len(other)}; tiers "
            f"{urgent}/{len(crisis)}, false urgent {tiers.count('urgent')}/{len(other)}, "
            f"check-in {tiers.count('check_in')}/{len(other)}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
