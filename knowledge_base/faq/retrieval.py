"""FAQ retrieval: TF-IDF cosine over jieba words and character n-grams, per question and paraphrase.

Each FAQ entry contributes its question and its similar questions as separate documents; an entry's
score is its best document's cosine. Words catch exact terms (国家奖学金), character bigrams tolerate
segmentation differences and typos (学生 证 / 学生证), unigrams help very short messages. Colloquial
variants are rewritten to canonical terms first (饭卡 -> 校园卡).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from knowledge_base import text as kbtext

# Feature families and their weights in the vector.
WORD_WEIGHT = 1.0
BIGRAM_WEIGHT = 1.0
UNIGRAM_WEIGHT = 0.3
# The answer text is a weaker document of its entry (it mentions the terms students use).
ANSWER_WEIGHT = 0.6


@dataclass(frozen=True)
class FaqDoc:
    """What the retriever needs of one FAQ entry."""

    faq_id: str
    question: str
    similar: tuple[str, ...] = ()
    answer: str = ""
    tags: tuple[str, ...] = ()
    department_id: str | None = None
    service_id: str | None = None


@dataclass(frozen=True)
class FaqMatch:
    """One ranked candidate."""

    faq_id: str
    question: str
    score: float
    matched_text: str


def features(text: str, synonyms: kbtext.SynonymMap | None = None) -> Counter[str]:
    """Weighted sparse features of a text (before IDF)."""
    t = synonyms.apply(text) if synonyms is not None else kbtext.normalize(text)
    feats: Counter[str] = Counter()
    for w in kbtext.words(t):
        feats["w:" + w] += 1
    for g in kbtext.char_ngrams(t, 2):
        feats["b:" + g] += 1
    stops = kbtext.stop_words()
    for u in kbtext.char_ngrams(t, 1):
        if u not in stops:
            feats["u:" + u] += 1
    return feats


def _weight(feature: str, unigram_weight: float = UNIGRAM_WEIGHT) -> float:
    kind = feature[0]
    if kind == "w":
        return WORD_WEIGHT
    if kind == "b":
        return BIGRAM_WEIGHT
    return unigram_weight


@dataclass
class _Index:
    idf: dict[str, float] = field(default_factory=dict)
    vectors: list[dict[str, float]] = field(default_factory=list)
    owners: list[int] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    weights: list[float] = field(default_factory=list)
    postings: dict[str, list[tuple[int, float]]] = field(default_factory=dict)


class FaqRetriever:
    """An in-memory index of FAQ entries; build a new one when the knowledge base changes."""

    def __init__(
        self,
        docs: list[FaqDoc],
        synonyms: dict[str, str] | None = None,
        unigram_weight: float = UNIGRAM_WEIGHT,
        answer_weight: float = ANSWER_WEIGHT,
    ) -> None:
        self.docs = docs
        self.unigram_weight = unigram_weight
        self.answer_weight = answer_weight
        self.synonyms = kbtext.SynonymMap(synonyms or {})
        self._index = self._build(docs)

    def _build(self, docs: list[FaqDoc]) -> _Index:
        raw: list[Counter[str]] = []
        index = _Index()
        for n, doc in enumerate(docs):
            for t in (doc.question, *doc.similar):
                if not t.strip():
                    continue
                raw.append(features(t, self.synonyms))
                index.owners.append(n)
                index.texts.append(t)
                index.weights.append(1.0)
            if doc.answer.strip() and self.answer_weight > 0:
                raw.append(features(doc.answer, self.synonyms))
                index.owners.append(n)
                index.texts.append(doc.question)
                index.weights.append(self.answer_weight)
        df: Counter[str] = Counter()
        for feats in raw:
            df.update(feats.keys())
        total = max(len(raw), 1)
        index.idf = {f: math.log((total + 1) / (c + 1)) + 1.0 for f, c in df.items()}
        for i, feats in enumerate(raw):
            vec = self._vectorize(feats, index.idf)
            index.vectors.append(vec)
            for f, v in vec.items():
                index.postings.setdefault(f, []).append((i, v))
        return index

    def _vectorize(self, feats: Counter[str], idf: dict[str, float]) -> dict[str, float]:
        vec = {}
        for f, c in feats.items():
            w = idf.get(f)
            if w is None:
                continue
            vec[f] = (1.0 + math.log(c)) * w * _weight(f, self.unigram_weight)
        norm = math.sqrt(sum(v * v for v in vec.values()))
        if norm == 0:
            return {}
        return {f: v / norm for f, v in vec.items()}

    def score_all(self, text: str) -> dict[int, tuple[float, int]]:
        """Entry index -> (best document cosine, that document's index), for entries with any overlap."""
        if not self.docs:
            return {}
        query = self._vectorize(features(text, self.synonyms), self._index.idf)
        if not query:
            return {}
        doc_scores: dict[int, float] = {}
        for f, qv in query.items():
            for i, dv in self._index.postings.get(f, ()):
                doc_scores[i] = doc_scores.get(i, 0.0) + qv * dv
        doc_scores = {i: s * self._index.weights[i] for i, s in doc_scores.items()}
        best: dict[int, tuple[float, int]] = {}
        for i, s in doc_scores.items():
            owner = self._index.owners[i]
            if owner not in best or s > best[owner][0]:
                best[owner] = (s, i)
        return best

    def search(self, text: str, k: int = 3) -> list[FaqMatch]:
        """The k best FAQ entries for a student message, best first, scores in [0, 1]."""
        best = self.score_all(text)
        ranked = sorted(best.items(), key=lambda kv: kv[1][0], reverse=True)[:k]
        return [
            FaqMatch(
                faq_id=self.docs[owner].faq_id,
                question=self.docs[owner].question,
                score=round(min(score, 1.0), 4),
                matched_text=self._index.texts[i],
            )
            for owner, (score, i) in ranked
        ]


class HybridRetriever:
    """Lexical scores fused with dense sentence-embedding similarities (when an encoder is available).

    Per entry: fused = 0.1 x lexical + 0.3 x best question/paraphrase cosine + 0.3 x answer cosine
    + 0.3 x question-and-answer cosine, each dense cosine (multilingual-e5 compresses them into about
    0.75-1.0) stretched to [0, 1]. The question-to-question part matches how students ask; the
    answer passages (e5's query -> passage use) catch questions about a detail only the answer names
    (国奖 "是一万吗"). Weights from cross-validation on the knowledge base (docs/benchmarks.md).
    """

    LEXICAL_SHARE = 0.1
    QUESTION_SHARE = 0.3
    ANSWER_SHARE = 0.3
    QA_SHARE = 0.3
    DENSE_FLOOR = 0.75

    def __init__(self, lexical: FaqRetriever, dense: Any | None) -> None:
        self.lexical = lexical
        self.docs = lexical.docs
        self.dense = dense  # knowledge_base.faq.dense.DenseIndex or None

    def _stretch(self, cosine: float) -> float:
        return min(max((cosine - self.DENSE_FLOOR) / (1 - self.DENSE_FLOOR), 0.0), 1.0)

    def search(self, text: str, k: int = 3) -> list[FaqMatch]:
        if self.dense is None:
            return self.lexical.search(text, k)
        if not self.docs:
            return []
        lexical = self.lexical.score_all(text)
        # the admins' synonyms help the dense model too: 饭卡 is embedded as 校园卡
        vector = self.dense.query_vector(self.lexical.synonyms.apply(text))
        dense_best = self.dense.best_per_owner("", vector)  # owner -> (cosine, doc text)
        passages = self.dense.passage_scores(vector)
        question_share = self.QUESTION_SHARE if passages is not None else 1 - self.LEXICAL_SHARE
        fused: list[tuple[float, int, str]] = []
        for owner, (cosine, matched) in dense_best.items():
            lex_score = lexical.get(owner, (0.0, -1))[0]
            score = self.LEXICAL_SHARE * min(lex_score, 1.0) + question_share * self._stretch(cosine)
            if passages is not None:
                answer, both = passages[owner]
                score += self.ANSWER_SHARE * self._stretch(float(answer)) + self.QA_SHARE * self._stretch(float(both))
            fused.append((score, owner, matched))
        fused.sort(reverse=True)
        return [
            FaqMatch(self.docs[owner].faq_id, self.docs[owner].question, round(score, 4), matched)
            for score, owner, matched in fused[:k]
        ]
