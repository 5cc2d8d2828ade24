"""Cross-validate the sibling margin (knowledge_base/faq/answering.py SIBLING_MARGIN) on the seed KB.

    .venv/app/bin/python benchmarks/sibling_cv.py

Fold f holds out each entry's f-th paraphrase and indexes the rest (the fused retriever); for held-out
paraphrases whose top two entries are siblings (same department and first tag), it prints, per margin,
how often the first and the second entry were the right one below that margin.
"""

from __future__ import annotations

from knowledge_base.config import seed_file
from knowledge_base.faq import dense
from knowledge_base.faq.retrieval import FaqDoc, FaqRetriever, HybridRetriever
from knowledge_base.kbfile import load_kb_file


def main() -> int:
    """Print the table."""
    kb = load_kb_file(seed_file())
    topic = {f.id: (f.department, (list(f.tags) or [""])[0]) for f in kb.faqs}
    synonyms = {v: c for c, vs in kb.synonyms.items() for v in vs}
    rows: list[tuple[float, bool, bool]] = []
    for fold in range(max(len(f.similar) for f in kb.faqs)):
        docs, held = [], []
        for f in kb.faqs:
            similar = list(f.similar)
            if fold < len(similar):
                held.append((similar.pop(fold), f.id))
            docs.append(FaqDoc(f.id, f.question, tuple(similar), f.answer, tuple(f.tags), f.department, f.service))
        retriever = HybridRetriever(FaqRetriever(docs, synonyms), dense.build_index(docs))
        for question, gold in held:
            m = retriever.search(question, k=3)
            if len(m) > 1 and topic[m[0].faq_id] == topic[m[1].faq_id]:
                rows.append((m[0].score - m[1].score, m[0].faq_id == gold, m[1].faq_id == gold))
    print(f"{len(rows)} held-out paraphrases with sibling top two")
    print("margin <  n  first right  second right")
    for margin in (0.01, 0.02, 0.03, 0.05, 0.08):
        below = [r for r in rows if r[0] < margin]
        print(f"{margin:8.2f} {len(below):3d} {sum(r[1] for r in below):12d} {sum(r[2] for r in below):13d}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
