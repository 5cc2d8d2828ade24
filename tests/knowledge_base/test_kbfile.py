"""KB YAML validation, import (all or nothing), export round trip."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from knowledge_base import repository
from knowledge_base.config import seed_file
from knowledge_base.kbfile import KbValidationError, parse_kb
from knowledge_base.models import Faq

GOOD = """
departments:
  - {id: dep_a, name: 甲部门}
services:
  - {id: svc_a, name: 甲服务, department: dep_a, duration_minutes: 20, capacity_per_slot: 1}
faqs:
  - {id: q1, department: dep_a, question: 甲服务怎么办？, answer: 到甲部门办理。, service: svc_a}
"""


def test_shipped_seed_is_valid(seed_kb) -> None:  # type: ignore[no-untyped-def]
    assert len(seed_kb.faqs) >= 100
    assert {"counseling", "career_consulting", "certificate_issuing"} <= {s.id for s in seed_kb.services}


def test_every_problem_is_reported_with_file_entry_and_field() -> None:
    text = """
departments:
  - {id: dep_a, name: 甲部门}
services:
  - {id: svc_a, name: 甲服务, department: nowhere, duration_minutes: 20, capacity_per_slot: 1}
faqs:
  - {id: q1, department: dep_a, question: 甲服务怎么办？}
  - {id: q2, department: dep_b, question: 乙？？, answer: 乙答案}
  - {id: q2, department: dep_a, question: 重复的？, answer: 重复答案}
"""
    with pytest.raises(KbValidationError) as err:
        parse_kb(text, file="kb.yml")
    found = {(i.file, i.entry, i.field) for i in err.value.issues}
    assert ("kb.yml", "faqs[0] id=q1", "answer") in found
    # reference checks run only when the shapes are valid: fix the shape and look again
    text = text.replace("question: 甲服务怎么办？}", "question: 甲服务怎么办？, answer: 甲答案}")
    with pytest.raises(KbValidationError) as err:
        parse_kb(text, file="kb.yml")
    messages = {(i.entry, i.field): i.message for i in err.value.issues}
    assert "unknown department 'nowhere'" in messages[("services[0] id=svc_a", "department")]
    assert "unknown department 'dep_b'" in messages[("faqs[1] id=q2", "department")]
    assert messages[("faqs id=q2", "id")] == "duplicate id"


def test_bad_yaml_and_unknown_fields_are_reported() -> None:
    with pytest.raises(KbValidationError) as err:
        parse_kb("faqs: [unclosed", file="x.yml")
    assert "not valid YAML" in err.value.issues[0].message
    with pytest.raises(KbValidationError) as err:
        parse_kb(GOOD.replace("answer: 到甲部门办理。", "answer: 到甲部门办理。, anwser: typo"), file="x.yml")
    assert err.value.issues[0].field == "anwser"


def test_export_then_import_is_a_no_op(sessions) -> None:  # type: ignore[no-untyped-def]
    with sessions() as session:
        exported = repository.export_kb(session, university="示例大学")
    kb = parse_kb(yaml.safe_dump(exported, allow_unicode=True))
    with sessions() as session, session.begin():
        report = repository.import_kb(session, kb)
    assert report.created == {"departments": 0, "services": 0, "faqs": 0}
    assert report.updated == {"departments": 0, "services": 0, "faqs": 0}


def test_replace_removes_entries_missing_from_the_file(sessions) -> None:  # type: ignore[no-untyped-def]
    with sessions() as session, session.begin():
        report = repository.import_kb(session, parse_kb(GOOD), replace=True)
    assert report.deleted["faqs"] >= 100
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Faq)) == 1


def _helpdesk(*args: str, db_url: str) -> subprocess.CompletedProcess[str]:
    import os
    import sys

    env = dict(os.environ, HELPDESK_DATABASE_URL=db_url)
    return subprocess.run(
        [sys.executable, "-m", "desk.ops.cli", *args], env=env, capture_output=True, text=True, timeout=120
    )


def test_cli_import_of_a_broken_file_changes_nothing(tmp_path: Path, sessions, db_url: str) -> None:  # type: ignore[no-untyped-def]
    broken = seed_file().read_text(encoding="utf-8").replace("department: mental_health", "department: nowhere", 1)
    broken = broken.replace("国家奖学金面向二年级", "新答案：国家奖学金面向二年级")
    path = tmp_path / "broken.yml"
    path.write_text(broken, encoding="utf-8")
    result = _helpdesk("kb", "import", str(path), db_url=db_url)
    assert result.returncode == 2
    assert "not imported" in result.stderr
    assert "unknown department 'nowhere'" in result.stderr
    with sessions() as session:
        assert "新答案" not in repository.get_faq(session, "scholarship_national").answer


def test_cli_export_and_import(tmp_path: Path, sessions, db_url: str) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "export.yml"
    assert _helpdesk("kb", "export", str(out), db_url=db_url).returncode == 0
    text = out.read_text(encoding="utf-8").replace("国家奖学金面向二年级", "（已更新）国家奖学金面向二年级")
    out.write_text(text, encoding="utf-8")
    result = _helpdesk("kb", "import", str(out), db_url=db_url)
    assert result.returncode == 0, result.stderr
    assert "faqs: 0 new, 1 updated" in result.stdout
    with sessions() as session:
        faq = repository.get_faq(session, "scholarship_national")
        assert faq.answer.startswith("（已更新）") and faq.version == 2
