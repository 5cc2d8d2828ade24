"""The catalog terms of the database against those inside a trained model: equal for the shipped model and
the seeded database, and every alias an admin adds or removes shows up in the difference."""

from __future__ import annotations

import io
import json
import re
import tarfile
from pathlib import Path

from sqlalchemy.orm import sessionmaker

from knowledge_base import catalog_terms, nlu_assets
from knowledge_base.models import Service, Synonym
from tests.stack import find_model, missing


def test_the_trained_model_has_the_seeded_databases_terms(sessions: sessionmaker) -> None:
    model = find_model()
    if model is None or not model.exists():
        missing("no trained Rasa model: run `make train`")
    inside = catalog_terms.model_terms(model)
    with sessions() as session:
        database = catalog_terms.database_terms(session)
    assert inside is not None
    assert ("心理辅导", "counseling") in inside.names and "心理咨询" in inside.words
    assert catalog_terms.diff(inside, database).empty
    assert inside.fingerprint() == database.fingerprint()


def test_an_added_alias_and_a_removed_synonym_are_the_difference(sessions: sessionmaker) -> None:
    with sessions() as session:
        before = catalog_terms.database_terms(session)
    with sessions() as session, session.begin():
        service = session.get(Service, "counseling")
        assert service is not None
        service.aliases = [*service.aliases, "心灵驿站"]
        session.delete(session.get(Synonym, "饭卡"))
    with sessions() as session:
        after = catalog_terms.database_terms(session)
    changes = catalog_terms.diff(before, after)
    assert changes.added_words == ["心灵驿站"]
    assert changes.added_names == [("心灵驿站", "counseling")]
    assert changes.removed_words == ["饭卡"]  # a colloquial synonym is a dictionary word, not a service name
    assert changes.removed_names == []
    assert before.fingerprint() != after.fingerprint()
    assert changes.as_dict()["added_names"] == [{"name": "心灵驿站", "service": "counseling"}]


def test_the_database_gives_the_same_assets_as_the_seed_file(sessions: sessionmaker, seed_kb) -> None:  # type: ignore[no-untyped-def]
    with sessions() as session:
        from_db = catalog_terms.kb_from_db(session)
    assert nlu_assets.dictionary_text(from_db) == nlu_assets.dictionary_text(seed_kb)
    assert nlu_assets.catalog_nlu_text(from_db) == nlu_assets.catalog_nlu_text(seed_kb)


def _archive(path: Path, files: dict[str, str]) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for name, text in files.items():
            data = text.encode("utf-8")
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def test_lookup_names_with_regex_characters_are_read_back(tmp_path: Path) -> None:
    names = ["C++ 辅导", "VPN", "a|b", "校园卡(补办)"]
    pattern = "(" + "|".join(re.escape(n) for n in names) + ")"  # as Rasa builds a lookup regex
    model = _archive(tmp_path / "m.tar.gz", {
        "components/train_CampusJiebaTokenizer0/campus.txt": "VPN\n校园卡\n",
        "components/train_RegexEntityExtractor5/regex.json": json.dumps([{"name": "service", "pattern": pattern}]),
        "components/train_EntitySynonymMapper7/synonyms.json": json.dumps({"vpn": "network", "校园卡(补办)": "card"}),
    })  # fmt: skip
    terms = catalog_terms.model_terms(model)
    assert terms is not None
    assert terms.words == {"VPN", "校园卡"}
    assert dict(terms.names) == {"C++ 辅导": "C++ 辅导", "VPN": "network", "a|b": "a|b", "校园卡(补办)": "card"}


def test_an_archive_that_is_not_a_model_has_no_terms(tmp_path: Path) -> None:
    assert catalog_terms.model_terms(_archive(tmp_path / "x.tar.gz", {"README": "hello"})) is None
    (tmp_path / "broken.tar.gz").write_bytes(b"not a tar file")
    assert catalog_terms.model_terms(tmp_path / "broken.tar.gz") is None
    assert catalog_terms.model_terms(tmp_path / "missing.tar.gz") is None
