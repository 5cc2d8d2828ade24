"""Bulk import and export of FAQ entries: YAML (the KB file's `faqs:`), CSV and Excel (openpyxl).

A dry run checks every row and lists every problem with its row and field; a real import checks the
same way and writes nothing unless every row is good, all in the caller's one transaction.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import yaml
from openpyxl import Workbook, load_workbook
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from desk.admin import audit
from desk.admin.faq_service import live_content
from desk.admin.roles import Editor
from desk.admin.schemas import Issue, has_control
from knowledge_base import repository
from knowledge_base.kbfile import FaqIn
from knowledge_base.models import Department, Faq, Service

COLUMNS = ("id", "question", "similar", "answer", "department", "tags", "service", "valid_from", "valid_until",
           "published")  # fmt: skip
LIST_COLUMNS = ("similar", "tags")
SEPARATOR = "|"
MAX_ROWS = 5000


class ImportFileError(Exception):
    """The file cannot be read at all (not the format it claims, not UTF-8, too big)."""


@dataclass
class Checked:
    rows: list[FaqIn]
    issues: list[Issue]


def _cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def _from_table(header: list[Any], rows: list[list[Any]]) -> list[dict[str, Any]]:
    names = [str(h or "").strip() for h in header]
    unknown = [n for n in names if n and n not in COLUMNS]
    if unknown:
        raise ImportFileError(f"不认识的列：{', '.join(unknown)}（可用的列：{', '.join(COLUMNS)}）")
    out = []
    for raw in rows:
        if all(v in (None, "") for v in raw):
            continue
        item: dict[str, Any] = {}
        for name, value in zip(names, raw, strict=False):
            if not name:
                continue
            value = _cell(value)
            if name in LIST_COLUMNS:
                item[name] = [p.strip() for p in str(value or "").split(SEPARATOR) if p.strip()]
            elif name == "published":
                item[name] = str(value).strip().lower() not in ("false", "0", "no", "否", "草稿", "")
            elif name in ("department", "service", "valid_from", "valid_until"):
                item[name] = str(value).strip() if value not in (None, "") else None
            else:
                item[name] = "" if value is None else str(value)
        out.append(item)
    return out


def read_rows(data: bytes, fmt: str) -> list[dict[str, Any]]:
    """The file's entries as dicts (row 1 = first entry)."""
    if fmt == "xlsx":
        try:
            sheet = load_workbook(io.BytesIO(data), read_only=True, data_only=True).active
        except Exception as exc:  # openpyxl raises many kinds for a file that is not a workbook
            raise ImportFileError("不是有效的 Excel（.xlsx）文件") from exc
        values = [list(r) for r in sheet.iter_rows(values_only=True)] if sheet is not None else []
        return _from_table(values[0] if values else [], values[1:])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportFileError("文件不是 UTF-8 编码") from exc
    if fmt == "csv":
        try:
            table = list(csv.reader(io.StringIO(text)))
        except csv.Error as exc:  # e.g. a NUL byte, or a field larger than the csv module's limit
            raise ImportFileError(f"不是有效的 CSV：{exc}") from exc
        return _from_table(table[0] if table else [], table[1:])
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ImportFileError(f"不是有效的 YAML：{exc}") from exc
    items = raw.get("faqs") if isinstance(raw, dict) else raw
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise ImportFileError("YAML 需要一个 faqs: 列表（每项一个问答）")
    return items


def check(session: Session, editor: Editor, items: list[dict[str, Any]]) -> Checked:
    """Validate every row against the schema, the catalog and the editor's rights."""
    if len(items) > MAX_ROWS:
        raise ImportFileError(f"一次最多导入 {MAX_ROWS} 条")
    departments = set(session.scalars(select(Department.id)))
    services = set(session.scalars(select(Service.id)))
    issues: list[Issue] = []
    rows: list[FaqIn] = []
    seen: dict[str, int] = {}
    for number, item in enumerate(items, 1):
        for key, value in item.items():
            texts = value if isinstance(value, list) else [value]
            if any(isinstance(t, str) and has_control(t) for t in texts):
                issues.append(Issue(row=number, field=str(key), message="含有不可见的控制字符"))
        try:
            row = FaqIn.model_validate(item)
        except ValidationError as exc:
            for err in exc.errors():
                field = ".".join(str(p) for p in err["loc"]) or "-"
                issues.append(Issue(row=number, field=field, message=err["msg"]))
            continue
        if row.id in seen:
            issues.append(Issue(row=number, field="id", message=f"与第{seen[row.id]}行的编号重复"))
        seen.setdefault(row.id, number)
        if row.department is not None and row.department not in departments:
            issues.append(Issue(row=number, field="department", message=f"没有这个部门：{row.department}"))
        if row.service is not None and row.service not in services:
            issues.append(Issue(row=number, field="service", message=f"没有这个服务：{row.service}"))
        existing = session.get(Faq, row.id)
        for department in {row.department, existing.department_id if existing else row.department}:
            if not editor.may_edit(department):
                issues.append(Issue(row=number, field="department", message="你没有编辑这个部门问答的权限"))
        rows.append(row)
    return Checked(rows, issues)


def apply(session: Session, editor: Editor, rows: list[FaqIn]) -> tuple[int, int]:
    """Write checked rows (in the caller's transaction); returns (created, updated)."""
    created = updated = 0
    for row in rows:
        existing = session.get(Faq, row.id)
        before = {**live_content(existing), "published": existing.published} if existing else None
        version = existing.version if existing else None
        faq = repository.save_faq(session, row, changed_by=editor.name)
        if version is None:
            created += 1
        elif faq.version != version:
            updated += 1
        else:
            continue
        after = {**live_content(faq), "published": faq.published}
        audit.record(session, editor.name, editor.user.id, "faq.import", "faq", faq.id, before, after)
    return created, updated


def _rows(session: Session, editor: Editor) -> list[dict[str, Any]]:
    out = []
    for faq in session.scalars(select(Faq).order_by(Faq.id)):
        if not editor.may_edit(faq.department_id):
            continue
        out.append({"id": faq.id, **live_content(faq), "published": faq.published})
    return out


def export(session: Session, editor: Editor, fmt: str) -> bytes:
    """The entries this editor may edit, in the format asked for (the import reads it back)."""
    rows = _rows(session, editor)
    if fmt == "yaml":
        return yaml.safe_dump({"faqs": rows}, allow_unicode=True, sort_keys=False).encode("utf-8")
    table = [[SEPARATOR.join(r[c]) if c in LIST_COLUMNS else r[c] for c in COLUMNS] for r in rows]
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(COLUMNS)
        writer.writerows([["" if v is None else v for v in line] for line in table])
        return buffer.getvalue().encode("utf-8-sig")
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "faqs"
    sheet.append(list(COLUMNS))
    for line in table:
        sheet.append(line)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
