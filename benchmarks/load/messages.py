"""What the simulated students ask: realistic questions from the seed knowledge base and the dev set.

Candidates are the seed FAQs' questions and paraphrases (knowledge_base/seed/campus.yml) and the FAQ
lines of ../shared/benchmarks/campus/dev_faq.jsonl. Crisis phrases are dropped (they open urgent
tickets, which take the chat away from the bot), and so is every line the running model understands
as a request for a person, a complaint or a booking step (they open tickets or forms): each student
message must get one bot answer, so a missing answer is the system's fault, not the script's.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import httpx
import yaml

from desk.chat.gateway import HUMAN_REQUEST
from knowledge_base import safety
from knowledge_base.config import PROJECT_ROOT

logger = logging.getLogger(__name__)

SEED_KB = PROJECT_ROOT / "knowledge_base" / "seed" / "campus.yml"
DEV_FAQ = PROJECT_ROOT.parent / "shared" / "benchmarks" / "campus" / "dev_faq.jsonl"
# intents whose answer is not a plain bot reply: a ticket, a form, or the form's own steps
SKIPPED_INTENTS = frozenset(
    {
        "request_human",
        "complain",
        "crisis",
        "book_appointment",
        "cancel_appointment",
        "reschedule_appointment",
        "list_appointments",
        "choose_time",
        "inform_contact",
    }
)


def candidates(seed_kb: Path = SEED_KB, dev_faq: Path = DEV_FAQ) -> list[str]:
    """Distinct question texts of the seed FAQs and of the dev set's FAQ lines, without crisis phrases."""
    texts: list[str] = []
    data = yaml.safe_load(seed_kb.read_text(encoding="utf-8"))
    for faq in data.get("faqs") or []:
        texts.append(str(faq["question"]))
        texts.extend(str(s) for s in faq.get("similar") or [])
    if dev_faq.exists():
        for line in dev_faq.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                if str(row.get("expect", "")).startswith("faq:"):
                    texts.append(str(row["text"]))
    else:
        logger.warning("%s not found: only the seed questions are used", dev_faq)
    seen: set[str] = set()
    kept = []
    for text in texts:
        text = text.strip()
        if text and text not in seen and not safety.is_crisis(text) and not HUMAN_REQUEST.search(text):
            seen.add(text)
            kept.append(text)
    return kept


def screen(texts: list[str], rasa_url: str, token: str) -> list[str]:
    """The texts the model does not take for a ticket, form or booking step (Rasa's /model/parse)."""
    kept = []
    with httpx.Client(base_url=rasa_url, timeout=30) as client:
        for text in texts:
            response = client.post("/model/parse", params={"token": token}, json={"text": text})
            response.raise_for_status()
            intent = (response.json().get("intent") or {}).get("name", "")
            if intent not in SKIPPED_INTENTS:
                kept.append(text)
    return kept
