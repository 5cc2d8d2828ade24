"""The catalog terms a Rasa model is trained with: from the database (what admins edit) and read back out of
a trained model archive, with a fingerprint and the differences between the two.

Two kinds of terms travel inside a model (knowledge_base/nlu_assets.py writes them): the words of the jieba
user dictionary (department, service and FAQ-tag names, aliases, synonyms), and the `service` lookup table
with its synonyms (every service name and alias, mapped to the service id). When the database's terms differ
from those inside the model Rasa serves, the model is out of date ("需要重新训练", docs/admin.md).
"""

from __future__ import annotations

import hashlib
import json
import re
import tarfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path, PurePosixPath

from sqlalchemy import select
from sqlalchemy.orm import Session

from knowledge_base import nlu_assets
from knowledge_base.kbfile import DepartmentIn, FaqIn, KbFileIn, ServiceIn
from knowledge_base.models import Department, Faq, Service, Synonym


@dataclass(frozen=True)
class CatalogTerms:
    """The dictionary words and the (service name or alias -> service id) pairs of one model or database."""

    words: frozenset[str]
    names: frozenset[tuple[str, str]]

    def fingerprint(self) -> str:
        """16 hex digits of a SHA-256 over the sorted terms (equal terms, equal fingerprint)."""
        data = json.dumps([sorted(self.words), sorted(self.names)], ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(data.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class TermsDiff:
    """What the database has that the model lacks (added) and the reverse (removed)."""

    added_words: list[str]
    removed_words: list[str]
    added_names: list[tuple[str, str]]
    removed_names: list[tuple[str, str]]

    @property
    def empty(self) -> bool:
        return not (self.added_words or self.removed_words or self.added_names or self.removed_names)

    def as_dict(self) -> dict[str, list[str] | list[dict[str, str]]]:
        def pairs(items: list[tuple[str, str]]) -> list[dict[str, str]]:
            return [{"name": name, "service": service} for name, service in items]

        return {
            "added_words": self.added_words,
            "removed_words": self.removed_words,
            "added_names": pairs(self.added_names),
            "removed_names": pairs(self.removed_names),
        }


def diff(model: CatalogTerms, database: CatalogTerms) -> TermsDiff:
    """The changes a retrain would bring into the model."""
    return TermsDiff(
        added_words=sorted(database.words - model.words),
        removed_words=sorted(model.words - database.words),
        added_names=sorted(database.names - model.names),
        removed_names=sorted(model.names - database.names),
    )


def kb_from_db(session: Session) -> KbFileIn:
    """The parts of the knowledge base that make the NLU assets, read from the database.

    Built without validation (`model_construct`): the terms of whatever admins saved must come out, even
    a row the YAML format would reject, and only names, aliases, ids, tags and synonyms are read.
    """
    departments = [
        DepartmentIn.model_construct(id=d.id, name=d.name, aliases=list(d.aliases or []))
        for d in session.scalars(select(Department).order_by(Department.id))
    ]
    services = [
        ServiceIn.model_construct(id=s.id, name=s.name, aliases=list(s.aliases or []), department=s.department_id)
        for s in session.scalars(select(Service).order_by(Service.id))
    ]
    faqs = [
        FaqIn.model_construct(id=faq_id, tags=list(tags or []))
        for faq_id, tags in session.execute(select(Faq.id, Faq.tags).order_by(Faq.id))
    ]
    synonyms: dict[str, list[str]] = {}
    for syn in session.scalars(select(Synonym).order_by(Synonym.canonical, Synonym.variant)):
        synonyms.setdefault(syn.canonical, []).append(syn.variant)
    return KbFileIn.model_construct(
        university="", timezone="Asia/Shanghai", departments=departments, services=services, faqs=faqs,
        synonyms=synonyms,
    )  # fmt: skip


def terms_of(kb: KbFileIn) -> CatalogTerms:
    """The terms the NLU assets generated from `kb` put into a model."""
    names: dict[str, str] = {}
    for service_id, service_names in nlu_assets.service_names(kb).items():
        names.update(dict.fromkeys(service_names, service_id))  # Rasa keeps the last synonym of a name, as here
    return CatalogTerms(frozenset(nlu_assets.campus_terms(kb)), frozenset(names.items()))


def database_terms(session: Session) -> CatalogTerms:
    """The terms of the catalog as admins have it now."""
    return terms_of(kb_from_db(session))


LOOKUP = "service"
_UNESCAPE = re.compile(r"\\(.)")


def _lookup_names(pattern: str) -> list[str]:
    """The elements of a lookup-table regex Rasa generated: `(a|b\\ c)` -> ["a", "b c"]."""
    inner = pattern[1:-1] if pattern.startswith("(") and pattern.endswith(")") else pattern
    inner = inner.replace("\\b", "")
    return [_UNESCAPE.sub(r"\1", part) for part in re.split(r"(?<!\\)\|", inner) if part]


@lru_cache(maxsize=16)
def _archive_terms(path: str, mtime: float, size: int) -> CatalogTerms | None:
    words: set[str] = set()
    lookup: list[str] = []
    synonyms: dict[str, str] = {}
    found_dictionary = False
    with tarfile.open(path, "r:gz") as archive:
        for member in archive.getmembers():
            name = PurePosixPath(member.name.lstrip("/"))
            if not member.isfile() or "components" not in name.parts:
                continue
            if name.name not in ("campus.txt", "regex.json", "synonyms.json"):
                continue
            handle = archive.extractfile(member)
            if handle is None:
                continue
            text = handle.read().decode("utf-8")
            if name.name == "campus.txt":
                found_dictionary = True
                words.update(line.strip() for line in text.splitlines() if line.strip())
            elif name.name == "regex.json":
                for entry in json.loads(text):
                    if entry.get("name") == LOOKUP:
                        lookup.extend(_lookup_names(str(entry.get("pattern", ""))))
            else:
                synonyms.update({str(k): str(v) for k, v in json.loads(text).items()})
    if not found_dictionary and not lookup:
        return None
    names = {(n, synonyms.get(n, synonyms.get(n.lower(), n))) for n in dict.fromkeys(lookup)}
    return CatalogTerms(frozenset(words), frozenset(names))


def model_terms(archive: Path) -> CatalogTerms | None:
    """The terms inside a trained model archive (None: not a model of this bot, or unreadable)."""
    try:
        stat = archive.stat()
        return _archive_terms(str(archive), stat.st_mtime, stat.st_size)
    except (OSError, tarfile.TarError, ValueError, UnicodeDecodeError):
        return None
