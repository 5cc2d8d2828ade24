"""Who may edit what: `admin` everything, `editor` the entries of their departments, others nothing."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from desk.admin.models import EditorRole
from desk.staff.accounts import CurrentUser


@dataclass(frozen=True)
class Editor:
    """A logged-in person with knowledge-base rights."""

    user: CurrentUser
    departments: frozenset[str]

    @property
    def is_admin(self) -> bool:
        return self.user.is_admin

    @property
    def name(self) -> str:
        return self.user.username

    def may_edit(self, department_id: str | None) -> bool:
        """Admins edit every entry; an editor only entries of their departments (not department-less ones)."""
        if self.is_admin:
            return True
        return department_id is not None and department_id in self.departments


def editor_departments(session: Session, user_id: int) -> frozenset[str]:
    """The departments a staff account edits (empty: not an editor)."""
    role = session.get(EditorRole, user_id)
    return frozenset(role.departments or []) if role is not None else frozenset()


def set_editor(session: Session, user_id: int, departments: list[str]) -> None:
    """Make an account the editor of these departments (an empty list removes the role)."""
    role = session.get(EditorRole, user_id)
    if not departments:
        if role is not None:
            session.delete(role)
    elif role is None:
        session.add(EditorRole(staff_user_id=user_id, departments=sorted(set(departments))))
    else:
        role.departments = sorted(set(departments))
    session.flush()


def load_editor(session: Session, user: CurrentUser) -> Editor | None:
    """The person's editing rights, or None when they have none."""
    if user.is_admin:
        return Editor(user, frozenset())
    departments = editor_departments(session, user.id)
    return Editor(user, departments) if departments else None
