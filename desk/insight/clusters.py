"""Deterministic grouping of questions by meaning, on the project's own embeddings (multilingual-e5).

Unique texts are taken most frequent first (ties by text), each joining the cluster whose centroid is
closest when the cosine similarity reaches `JOIN_SIMILARITY`, else starting a new one: the same input
always gives the same clusters, whatever order the rows came in. A cluster needs `MIN_TEXTS` different
wordings and `MIN_COUNT` messages; anything smaller is noise and is not shown. Its medoid (the member
closest to all the others) names it. Ids are given by `assign_ids`: a cluster whose centroid is close to
one seen before keeps that id; a new one is named by a hash of its medoid's text.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# e5 scores paraphrases of one question 0.93-0.99 and different campus questions 0.78-0.89
JOIN_SIMILARITY = 0.92
SAME_CLUSTER_SIMILARITY = 0.93  # a stored centroid this close is the same cluster (its id is kept)
MIN_TEXTS = 2
MIN_COUNT = 3
_PUNCT = re.compile(r"[\s,，。.、；;:：!！~～?？\"'“”()（）]+")


def normalize(text: str) -> str:
    """The grouping key of a message: no spaces or punctuation ("宿舍能养猫吗？" = "宿舍能养猫吗")."""
    return _PUNCT.sub("", text).strip()


@dataclass
class Cluster:
    """A group of questions: its members (text, count), medoid, unit centroid and, once known, its id."""

    members: list[tuple[str, int]]
    medoid: str
    centroid: Any
    id: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return sum(n for _, n in self.members)


def _unit(vector: Any) -> Any:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm else vector


def cluster(
    counts: dict[str, int], vectors: dict[str, Any], min_texts: int = MIN_TEXTS, min_count: int = MIN_COUNT
) -> list[Cluster]:
    """Clusters of the texts (`counts`: text -> messages; `vectors`: text -> unit embedding), biggest first."""
    order = sorted(counts, key=lambda t: (-counts[t], t))
    groups: list[list[str]] = []
    sums: list[Any] = []
    for text in order:
        vec = vectors[text]
        best, best_sim = -1, JOIN_SIMILARITY
        for n, total in enumerate(sums):
            sim = float(_unit(total) @ vec)
            if sim >= best_sim:
                best, best_sim = n, sim
        if best < 0:
            groups.append([text])
            sums.append(vec * counts[text])
        else:
            groups[best].append(text)
            sums[best] = sums[best] + vec * counts[text]
    out = []
    for members, total in zip(groups, sums, strict=True):
        if len(members) < min_texts or sum(counts[t] for t in members) < min_count:
            continue
        out.append(Cluster([(t, counts[t]) for t in members], _medoid(members, counts, vectors), _unit(total)))
    out.sort(key=lambda c: (-c.count, c.medoid))
    return out


def _medoid(members: list[str], counts: dict[str, int], vectors: dict[str, Any]) -> str:
    """The member most similar, weighted by counts, to all the others (ties: the shorter, then by text)."""
    matrix = np.stack([vectors[t] for t in members])
    weights = np.asarray([counts[t] for t in members], dtype=np.float32)
    scores = (matrix @ matrix.T) @ weights
    best = min(range(len(members)), key=lambda i: (-round(float(scores[i]), 4), len(members[i]), members[i]))
    return members[best]


def medoid_id(text: str) -> str:
    """The id of a new cluster: a hash of its medoid's text."""
    return hashlib.sha1(normalize(text).encode("utf-8")).hexdigest()[:12]


def assign_ids(clusters: list[Cluster], known: dict[str, Any]) -> None:
    """Give each cluster the id of the closest stored centroid (`known`: id -> unit centroid) when close
    enough and not taken by a bigger cluster; otherwise a new id from its medoid."""
    taken: set[str] = set()
    ids = sorted(known)
    matrix = np.stack([np.asarray(known[i], dtype=np.float32) for i in ids]) if ids else None
    for c in clusters:  # biggest first
        c.id = ""
        if matrix is not None:
            sims = matrix @ c.centroid
            for n in np.argsort(-sims, kind="stable"):
                if float(sims[n]) < SAME_CLUSTER_SIMILARITY:
                    break
                if ids[n] not in taken:
                    c.id = ids[n]
                    break
        if not c.id:
            c.id = medoid_id(c.medoid)
            while c.id in taken:
                c.id = medoid_id(c.id + c.medoid)
        taken.add(c.id)
