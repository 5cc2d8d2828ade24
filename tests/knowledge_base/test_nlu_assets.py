"""The NLU files generated from the catalog are committed in sync with the shipped knowledge base."""

from __future__ import annotations

import yaml

from knowledge_base import nlu_assets
from knowledge_base.config import PROJECT_ROOT


def test_generated_files_match_the_seed(seed_kb) -> None:  # type: ignore[no-untyped-def]
    assert nlu_assets.stale_assets(seed_kb, PROJECT_ROOT / "bot") == [], "run `helpdesk nlu sync` and commit"


def test_every_service_name_and_alias_maps_to_its_id(seed_kb) -> None:  # type: ignore[no-untyped-def]
    data = yaml.safe_load(nlu_assets.catalog_nlu_text(seed_kb))
    synonyms = {e["synonym"]: e["examples"] for e in data["nlu"] if "synonym" in e}
    lookup = next(e["examples"] for e in data["nlu"] if e.get("lookup") == "service")
    for service in seed_kb.services:
        for name in (service.name, *service.aliases):
            assert f"- {name}\n" in synonyms[service.id]
            assert f"- {name}\n" in lookup


def test_dictionary_has_campus_terms_and_synonyms(seed_kb) -> None:  # type: ignore[no-untyped-def]
    terms = nlu_assets.dictionary_text(seed_kb).splitlines()
    for term in ("心理咨询", "学籍异动办理", "饭卡", "校园卡", "心理健康教育与咨询中心"):
        assert term in terms
