"""Request and response bodies of the admin JSON API (/api/admin/...), as OpenAPI documents them."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field, StringConstraints, model_validator

from desk.staff.schemas import FormModel

CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def has_control(value: str) -> bool:
    """Whether text has control characters (NUL and the like; tabs and line breaks are fine)."""
    return bool(CONTROL.search(value))


def _printable(value: str) -> str:
    if has_control(value):
        raise ValueError("control characters")
    return value


Printable = AfterValidator(_printable)
Text = Annotated[str, Printable]
Line = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500), Printable]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50), Printable]
Slug = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=r"^[a-z0-9_]+$")]
RefId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64), Printable]
State = Literal["draft", "published"]


class FaqFields(FormModel):
    """The editable content of an FAQ entry."""

    question: Text = Field(title="标准问题", min_length=2, max_length=500)
    similar: list[Line] = Field(default=[], title="相似问法", max_length=100)
    answer: Text = Field(title="答案", min_length=2, max_length=5000)
    department: RefId | None = Field(default=None, title="部门")
    tags: list[Tag] = Field(default=[], title="标签", max_length=30)
    service: RefId | None = Field(default=None, title="关联服务")
    valid_from: date | None = Field(default=None, title="生效日期")
    valid_until: date | None = Field(default=None, title="失效日期")

    @model_validator(mode="after")
    def _strip(self) -> FaqFields:
        self.question = self.question.strip()
        self.answer = self.answer.strip()
        if len(self.question) < 2 or len(self.answer) < 2:
            raise ValueError("empty")
        if self.valid_from and self.valid_until and self.valid_until < self.valid_from:
            raise ValueError("dates")
        return self


class FaqCreate(FaqFields):
    """A new entry: its id is made from nothing when not given; `publish` makes it live at once."""

    id: Slug | None = Field(default=None, title="编号")
    publish: bool = False


class FaqUpdate(FaqFields):
    """An edit of the entry at `version` (the version the editor loaded: a stale one is a conflict).

    `publish`: true puts the edit live; false keeps a published entry's live answer and stores the
    edit as its draft (an unpublished entry is simply saved)."""

    version: int = Field(title="版本", ge=1, le=2**31 - 1)
    publish: bool = False


class VersionIn(FormModel):
    """The version the editor loaded (optimistic concurrency)."""

    version: int = Field(title="版本", ge=1, le=2**31 - 1)


class RollbackIn(VersionIn):
    to_version: int = Field(title="回滚到的版本", ge=1, le=2**31 - 1)


class DraftIn(FormModel):
    """`POST /api/admin/faq/drafts`: a draft entry suggested elsewhere (the insight dashboard)."""

    question: Text = Field(title="标准问题", min_length=2, max_length=500)
    similar_questions: list[Line] = Field(default=[], title="相似问法", max_length=100)
    answer: Text = Field(default="", title="答案（可空：草稿里标为待填写）", max_length=5000)
    department: RefId | None = Field(default=None, title="部门")
    source: Text = Field(default="", title="来源", max_length=200)


class DraftCreated(BaseModel):
    id: str
    url: str


class FaqSummary(BaseModel):
    """One row of the editor's list."""

    id: str
    question: str
    department: str | None
    tags: list[str]
    state: State
    has_draft: bool
    version: int
    updated_at: datetime
    updated_by: str
    valid_from: date | None
    valid_until: date | None
    hits: int
    last_hit_at: datetime | None


class FaqDetail(FaqSummary):
    """An entry as the editor opens it: the live content and the pending draft, if any."""

    similar: list[str]
    answer: str
    service: str | None
    draft: dict[str, Any] | None


class Revision(BaseModel):
    """One saved version, with what changed since the version before."""

    version: int
    changed_by: str
    changed_at: datetime
    snapshot: dict[str, Any]
    changes: list[dict[str, Any]]


class TryIn(FormModel):
    """The 试一试 box: a question, and optionally the draft content of an entry to compare with."""

    question: Text = Field(title="问题", min_length=1, max_length=500)
    faq_id: Slug | None = Field(default=None, title="编号")
    draft: FaqFields | None = None


class TryMatch(BaseModel):
    faq_id: str
    question: str
    score: float


class TryOutcome(BaseModel):
    """What the bot would do: route()'s decision, the top 3 with scores, and the answer text."""

    decision: str
    intent: str | None
    matches: list[TryMatch]
    answer: str | None


class TryOut(BaseModel):
    live: TryOutcome
    draft: TryOutcome | None
    note: str


class Issue(BaseModel):
    """A problem of an import file: the row (1 = first data row), the field and what is wrong."""

    row: int
    field: str
    message: str


class ImportResult(BaseModel):
    ok: bool
    dry_run: bool
    rows: int
    created: int
    updated: int
    issues: list[Issue]


class AuditOut(BaseModel):
    id: int
    at: datetime
    actor: str
    action: str
    entity: str
    entity_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
