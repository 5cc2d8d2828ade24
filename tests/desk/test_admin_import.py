"""Bulk import/export of FAQ entries: round trips in YAML, CSV and Excel; a dry run lists every problem
with its row and field; a file with any problem imports nothing; editors stay inside their departments."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import pytest
import yaml
from fastapi.testclient import TestClient
from openpyxl import Workbook, load_workbook
from sqlalchemy.orm import sessionmaker

from desk.main import create_app
from desk.settings import Settings
from knowledge_base.faq.answering import KnowledgeBase
from knowledge_base.models import Faq
from tests.desk.admin_helpers import Browser, Person, make_people


@pytest.fixture
def as_(settings: Settings, sessions: sessionmaker) -> Iterator:  # type: ignore[type-arg]
    people: dict[str, Person] = make_people(sessions)
    with TestClient(create_app(settings)) as client:
        yield lambda name: Browser(client, people[name] if name else None)


def upload(browser: Browser, data: bytes, fmt: str, dry_run: bool) -> dict:  # type: ignore[type-arg]
    resp = browser.post(
        "/api/admin/import/faqs",
        files={"file": (f"faqs.{fmt}", data)},
        data={"format": fmt, "dry_run": "true" if dry_run else "false"},
    )
    assert resp.status_code == 200, resp.text
    return resp.json()


def csv_bytes(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode("utf-8")


HEADER = ["id", "question", "similar", "answer", "department", "tags", "service", "valid_from", "valid_until",
          "published"]  # fmt: skip


def test_dry_run_lists_every_problem_with_row_and_field_and_nothing_is_written(as_, sessions) -> None:  # type: ignore[no-untyped-def]
    rows = [
        HEADER,
        [
            "new_ok",
            "新学期什么时候注册",
            "开学注册|报到注册",
            "开学第一周完成注册。",
            "student_affairs",
            "注册",
            "",
            "",
            "",
            "true",
        ],  # fmt: skip
        ["bad id!", "好的问题", "", "好的答案", "", "", "", "", "", ""],
        ["no_answer", "缺答案的问题", "", "", "student_affairs", "", "", "", "", ""],
        ["ghost_dep", "部门不存在的问题", "", "有答案", "nowhere", "", "", "", "", ""],
        ["bad_dates", "日期反了的问题", "", "有答案", "", "", "", "2027-02-01", "2027-01-01", ""],
        ["new_ok", "重复编号的问题", "", "有答案", "", "", "", "", "", ""],
    ]
    boss = as_("boss")
    for dry_run in (True, False):
        result = upload(boss, csv_bytes(rows), "csv", dry_run)
        assert not result["ok"] and result["created"] == 0
        found = {(i["row"], i["field"]) for i in result["issues"]}
        assert {(2, "id"), (3, "answer"), (4, "department"), (6, "id")} <= found
        assert any(i["row"] == 5 for i in result["issues"])
        assert all(i["row"] != 1 for i in result["issues"])
    with sessions() as session:
        assert session.get(Faq, "new_ok") is None  # not half-imported


def test_csv_round_trip_imports_in_one_go_and_the_bot_uses_it(as_, kb: KnowledgeBase) -> None:  # type: ignore[no-untyped-def]
    boss = as_("boss")
    exported = boss.get("/api/admin/export/faqs", params={"format": "csv"})
    assert exported.status_code == 200 and "attachment" in exported.headers["content-disposition"]
    table = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert table[0] == HEADER
    row = next(r for r in table if r[0] == "scholarship_national")
    row[3] = row[3].strip() + "2027年起全程线上申请。"
    table.append(["enrol_week", "新学期什么时候注册报到", "开学注册|报到注册", "开学第一周在学工系统完成注册。",
                  "student_affairs", "注册", "", "", "", "true"])  # fmt: skip
    check = upload(boss, csv_bytes(table), "csv", True)
    assert check["ok"] and check["issues"] == [] and check["created"] == 0
    done = upload(boss, csv_bytes(table), "csv", False)
    assert done["ok"] and done["created"] == 1 and done["updated"] == 1
    assert kb.decide("国家奖学金怎么申请").answer.answer.endswith("2027年起全程线上申请。")
    assert kb.decide("新学期什么时候注册报到").answer.faq_id == "enrol_week"
    log = boss.get("/api/admin/audit", params={"action": "faq.import"}).json()
    assert {e["entity_id"] for e in log} == {"enrol_week", "scholarship_national"}


def test_excel_and_yaml_round_trips(as_) -> None:  # type: ignore[no-untyped-def]
    boss = as_("boss")
    xlsx = boss.get("/api/admin/export/faqs", params={"format": "xlsx"}).content
    sheet = load_workbook(io.BytesIO(xlsx)).active
    assert [c.value for c in sheet[1]] == HEADER
    assert upload(boss, xlsx, "xlsx", True)["ok"]
    book = Workbook()
    ws = book.active
    ws.append(HEADER)
    ws.append(["x1", "问", "", "答案内容", "student_affairs", "", "", "", "", ""])
    out = io.BytesIO()
    book.save(out)
    result = upload(boss, out.getvalue(), "xlsx", True)
    assert not result["ok"] and result["issues"][0]["row"] == 1 and result["issues"][0]["field"] == "question"
    text = boss.get("/api/admin/export/faqs", params={"format": "yaml"}).content
    assert upload(boss, text, "yaml", True)["ok"]
    assert yaml.safe_load(text)["faqs"][0]["id"]
    broken = boss.post("/api/admin/import/faqs", files={"file": ("a.xlsx", b"not a workbook")},
                       data={"format": "xlsx"})  # fmt: skip
    assert broken.status_code == 400 and "Excel" in broken.json()["detail"]
    nul = boss.post("/api/admin/import/faqs", files={"file": ("a.csv", b"id,question\nx\x00,y\n")},
                    data={"format": "csv"})  # fmt: skip
    assert nul.status_code == 400 and "CSV" in nul.json()["detail"]


def test_an_editor_imports_only_their_departments(as_) -> None:  # type: ignore[no-untyped-def]
    ed = as_("ed")
    exported = list(csv.reader(io.StringIO(ed.get("/api/admin/export/faqs?format=csv").content.decode("utf-8-sig"))))
    assert exported[1:] and all(r[4] == "student_affairs" for r in exported[1:])
    rows = [HEADER, ["lib_new", "图书馆新规定是什么", "", "新规定的答案", "library", "", "", "", "", ""]]
    result = upload(ed, csv_bytes(rows), "csv", True)
    assert not result["ok"] and result["issues"] == [{"row": 1, "field": "department",
                                                      "message": "你没有编辑这个部门问答的权限"}]  # fmt: skip
