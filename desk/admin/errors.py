"""Typed errors of the admin area; routes turn them into HTTP statuses with the Chinese message."""

from __future__ import annotations


class AdminError(Exception):
    """Base: `status` is the HTTP status a route answers with, the message is shown to the admin."""

    status = 400


class NotFoundError(AdminError):
    status = 404


class Forbidden(AdminError):
    status = 403


class Conflict(AdminError):
    """Someone saved the entry since it was loaded (optimistic concurrency)."""

    status = 409

    def __init__(self, message: str, current_version: int) -> None:
        super().__init__(message)
        self.current_version = current_version


class PreconditionFailed(Conflict):
    """The If-Match header names a version that is no longer current."""

    status = 412


class Invalid(AdminError):
    status = 400
