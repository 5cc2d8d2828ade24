"""Cross-validate the crisis detector and the tiers on the project's own data (never on benchmark lines).

    .venv/app/bin/python benchmarks/crisis_cv.py

Prints, for 5-fold out-of-fold detector scores: recall and negatives flagged at several thresholds, and
the tiers of `knowledge_base.safety.assess` with the chosen thresholds (lexicon + detector scores).
"""

from __future__ import annotations

import collections
import sys

from knowledge_base import crisis_detector, safety


def main() -> int:
    """Print the cross-validation table."""
    rows = crisis_detector.cross_validate(exclude=safety.is_crisis)
    pos = [r for r in rows if r["label"] == 1]
    neg = [r for r in rows if r["label"] == 0]
    print(f"{len(rows)} examples: {len(pos)} crisis, {len(neg)} not")
    print("threshold  recall  negatives>=t")
    for t in (0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95):
        r = sum(x["score"] >= t for x in pos) / len(pos)
        flagged = sum(x["score"] >= t for x in neg)
        print(f"{t:9.2f}  {r:6.3f}  {flagged:5d} ({flagged / len(neg):.2%})")

    def tier(x: dict) -> str:  # assess() with the out-of-fold score instead of the full model's
        t = safety.normalise(x["text"])
        kept = safety._NEAR_MISS_RE.sub("#", t)
        context = safety._CONTEXT_RE.search(kept) is not None
        kept = safety._CONTEXT_RE.sub("#", kept)
        if safety._CRISIS_RE.search(kept):
            return safety.URGENT
        signs = sum(1 for pattern in safety._AMBIGUOUS_EACH if pattern.search(kept))
        amb = signs > 0
        s = x["score"]
        confirmed = amb and (s >= safety.DETECTOR_CONFIRM or signs >= 2)
        if not context and (confirmed or s >= safety.DETECTOR_URGENT):
            return safety.URGENT
        if amb or context or s >= safety.DETECTOR_CHECK_IN:
            return safety.CHECK_IN
        return safety.NONE

    chosen = safety.DETECTOR_CONFIRM
    for confirm in (0.5, 0.6, 0.7, 0.75, 0.8):
        safety.DETECTOR_CONFIRM = confirm
        for name, group in (("crisis", pos), ("not crisis", neg)):
            counts = collections.Counter(tier(x) for x in group)
            print(f"confirm {confirm}", name, {k: f"{v} ({v / len(group):.2%})" for k, v in sorted(counts.items())})
    safety.DETECTOR_CONFIRM = chosen
    by_group = collections.defaultdict(collections.Counter)
    for x in neg:
        by_group[x["group"]][tier(x)] += 1
    for g, c in sorted(by_group.items()):
        print(f"  {g}: {dict(c)}")
    if "-v" in sys.argv:
        for x in rows:
            t = tier(x)
            if (x["label"] == 1 and t != safety.URGENT) or (x["label"] == 0 and t != safety.NONE):
                print(x["label"], t, round(x["score"], 2), x["text"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
