"""A dedicated crisis detector: logistic regression on character 1-3 grams, trained with hard negatives.

The NLU's `crisis` intent is one class among nineteen and was trained to separate crisis from the other
intents only: a long, anxious question about an ordinary matter or a "我想…" request could score 0.8 for
it. This detector answers one question (could this be a personal crisis?) and learns it from:

- positives: the `crisis` examples of bot/data/nlu and knowledge_base/seed/crisis_examples.yml;
- negatives: every other NLU example, every question and paraphrase of the seed knowledge base, the
  hand-written negatives, and generated hard negatives: each seed question after a sad or anxious
  prefix ("压力好大，" + a campus question), "我想…" requests (a song, a film, to change dorm, to join
  the Party) and everyday hyperbole (饿死了, 累到哭了).

Texts are normalised (`knowledge_base.normalization.simplify`) before features, so Traditional
Chinese and full-width text score as their Simplified, half-width forms. The model is trained in
pure numpy (full-batch gradient descent with Adam; a few hundred milliseconds) the first time it is
needed and kept in memory; the thresholds of the two tiers come from cross-validation on the same
data (`cross_validate`, `benchmarks/crisis_cv.py`), never from benchmark lines.
"""

from __future__ import annotations

import logging
import math
import random
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from knowledge_base.config import PROJECT_ROOT, seed_file
from knowledge_base.normalization import simplify

logger = logging.getLogger(__name__)

EXAMPLES_FILE = PROJECT_ROOT / "knowledge_base" / "seed" / "crisis_examples.yml"
NLU_DIR = PROJECT_ROOT / "bot" / "data" / "nlu"
_STRIP = re.compile(r"[\s\W_]+", re.UNICODE)
_ENTITY = re.compile(r"\[([^\]]+)\]\{[^}]*\}|\[([^\]]+)\]\([^)]*\)")
NGRAMS = (1, 2, 3)
L2 = 1e-4
EPOCHS = 400
LEARNING_RATE = 0.05
SEED = 13
_lock = threading.Lock()


def _clean(text: str) -> str:
    return _STRIP.sub("", simplify(text))


def _features(text: str) -> list[str]:
    t = _clean(text)
    padded = f"^{t}$"
    feats: list[str] = []
    for n in NGRAMS:
        source = t if n == 1 else padded
        feats.extend(source[i : i + n] for i in range(len(source) - n + 1))
    return feats


@dataclass
class Dataset:
    """Texts with labels (1 crisis, 0 not), and the group of each (for reporting)."""

    texts: list[str]
    labels: list[int]
    groups: list[str]


def _nlu_examples() -> dict[str, list[str]]:
    by_intent: dict[str, list[str]] = {}
    for path in sorted(NLU_DIR.glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for block in data.get("nlu", []) or []:
            intent = block.get("intent")
            if not intent or not isinstance(block.get("examples"), str):
                continue
            for line in block["examples"].splitlines():
                line = line.strip()
                if line.startswith("- "):
                    text = _ENTITY.sub(lambda m: m.group(1) or m.group(2), line[2:]).strip()
                    by_intent.setdefault(intent, []).append(text)
    return by_intent


def _seed_questions(path: Path | None = None) -> list[str]:
    data = yaml.safe_load((path or seed_file()).read_text(encoding="utf-8")) or {}
    out: list[str] = []
    for faq in data.get("faqs", []) or []:
        out.append(str(faq.get("question", "")))
        out.extend(str(s) for s in faq.get("similar", []) or [])
    return [q for q in out if q.strip()]


def training_data(exclude: Callable[[str], bool] | None = None) -> Dataset:
    """The detector's training data, from the project's own files (see the module docstring).

    `exclude`: seed questions it flags are no negative examples (`safety.is_crisis`: a seed question like
    "有轻生的想法，该向谁求助" is one the lexicon itself sends to the urgent path).
    """
    spec = yaml.safe_load(EXAMPLES_FILE.read_text(encoding="utf-8"))
    nlu = _nlu_examples()
    questions = _seed_questions()
    texts: list[str] = []
    labels: list[int] = []
    groups: list[str] = []

    def add(items: Iterable[str], label: int, group: str) -> None:
        for t in items:
            texts.append(str(t))
            labels.append(label)
            groups.append(group)

    add(nlu.get("crisis", []), 1, "nlu_crisis")
    add(spec.get("positives", []), 1, "written_crisis")
    add([t for intent, ex in nlu.items() if intent != "crisis" for t in ex], 0, "nlu_other")
    if exclude is not None:
        questions = [q for q in questions if not exclude(q)]
    add(questions, 0, "kb_questions")
    add(spec.get("negatives", []), 0, "written_negative")
    gen = spec.get("generate", {})
    wants = gen.get("wants", {})
    add([v + o for v in wants.get("verbs", []) for o in wants.get("objects", [])], 0, "wants")
    hyper = gen.get("hyperbole", {})
    add([f + e for f in hyper.get("feelings", []) for e in hyper.get("endings", [])], 0, "hyperbole")
    every = gen.get("everyday", {})
    add([o + e for o in every.get("openings", []) for e in every.get("endings", [])], 0, "everyday")
    sad = gen.get("sad_tone", {})
    rng = random.Random(SEED)
    prefixes, suffixes = sad.get("prefixes", []), sad.get("suffixes", [""])
    add([rng.choice(prefixes) + q + rng.choice(suffixes) for q in questions], 0, "sad_tone")
    return Dataset(texts, labels, groups)


class CrisisDetector:
    """Binary logistic regression over sparse character n-grams (numpy only)."""

    def __init__(self, vocabulary: dict[str, int], weights: np.ndarray, bias: float) -> None:
        self.vocabulary = vocabulary
        self.weights = weights
        self.bias = bias

    @classmethod
    def train(cls, texts: list[str], labels: list[int]) -> CrisisDetector:
        """Fit on the texts (classes weighted to balance positives and negatives)."""
        rows = [_features(t) for t in texts]
        vocab: dict[str, int] = {}
        for feats in rows:
            for f in feats:
                vocab.setdefault(f, len(vocab))
        indices, values, indptr = _sparse(rows, vocab)
        y = np.asarray(labels, dtype=np.float64)
        n = len(y)
        pos = max(float(y.sum()), 1.0)
        sample_w = np.where(y == 1, n / (2 * pos), n / (2 * max(n - pos, 1.0)))
        row_of = np.repeat(np.arange(n), np.diff(indptr))
        w: Any = np.zeros(len(vocab))
        b = 0.0
        m_w: Any = np.zeros_like(w)
        v_w: Any = np.zeros_like(w)
        m_b, v_b = 0.0, 0.0
        beta1, beta2, eps = 0.9, 0.999, 1e-8
        for step in range(1, EPOCHS + 1):
            z = np.bincount(row_of, weights=w[indices] * values, minlength=n) + b
            p = 1 / (1 + np.exp(-z))
            err = (p - y) * sample_w / n
            g_w = np.bincount(indices, weights=err[row_of] * values, minlength=len(w)) + L2 * w
            g_b = float(err.sum())
            m_w = beta1 * m_w + (1 - beta1) * g_w
            v_w = beta2 * v_w + (1 - beta2) * g_w * g_w
            m_b = beta1 * m_b + (1 - beta1) * g_b
            v_b = beta2 * v_b + (1 - beta2) * g_b * g_b
            lr = LEARNING_RATE * math.sqrt(1 - beta2**step) / (1 - beta1**step)
            w -= lr * m_w / (np.sqrt(v_w) + eps)
            b -= lr * m_b / (math.sqrt(v_b) + eps)
        return cls(vocab, w, b)

    def score(self, text: str) -> float:
        """Probability-like score in [0, 1] that the message signals a personal crisis."""
        feats = [self.vocabulary[f] for f in _features(text) if f in self.vocabulary]
        if not feats:
            return 0.0
        counts: dict[int, int] = {}
        for i in feats:
            counts[i] = counts.get(i, 0) + 1
        idx = np.fromiter(counts.keys(), dtype=np.int64)
        val = np.fromiter((1 + math.log(c) for c in counts.values()), dtype=np.float64)
        val /= math.sqrt(float((val * val).sum()))
        z = float((self.weights[idx] * val).sum()) + self.bias
        return 1 / (1 + math.exp(-z)) if z > -50 else 0.0


def _sparse(rows: list[list[str]], vocab: dict[str, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    indices: list[int] = []
    values: list[float] = []
    indptr = [0]
    for feats in rows:
        counts: dict[int, int] = {}
        for f in feats:
            j = vocab.get(f)
            if j is not None:
                counts[j] = counts.get(j, 0) + 1
        vals = [1 + math.log(c) for c in counts.values()]
        norm = math.sqrt(sum(v * v for v in vals)) or 1.0
        indices.extend(counts.keys())
        values.extend(v / norm for v in vals)
        indptr.append(len(indices))
    return np.asarray(indices, dtype=np.int64), np.asarray(values), np.asarray(indptr, dtype=np.int64)


@lru_cache(maxsize=2)
def _trained(exclude: Callable[[str], bool] | None) -> CrisisDetector:
    data = training_data(exclude)
    detector = CrisisDetector.train(data.texts, data.labels)
    logger.info("crisis detector trained on %d examples (%d crisis)", len(data.texts), sum(data.labels))
    return detector


def detector(exclude: Callable[[str], bool] | None = None) -> CrisisDetector:
    """The detector trained on the project's data (trained once per process, thread-safe)."""
    with _lock:
        return _trained(exclude)


def cross_validate(
    folds: int = 5, seed: int = SEED, exclude: Callable[[str], bool] | None = None
) -> list[dict[str, Any]]:
    """Out-of-fold scores of every training example: [{"text", "label", "group", "score"}]."""
    data = training_data(exclude)
    order = list(range(len(data.texts)))
    random.Random(seed).shuffle(order)
    out: list[dict[str, Any]] = []
    for f in range(folds):
        test = set(order[f::folds])
        train = [i for i in order if i not in test]
        model = CrisisDetector.train([data.texts[i] for i in train], [data.labels[i] for i in train])
        for i in sorted(test):
            out.append(
                {
                    "text": data.texts[i],
                    "label": data.labels[i],
                    "group": data.groups[i],
                    "score": model.score(data.texts[i]),
                }
            )
    return out
