"""Rasa 3.6 validates every action-server reply against a fixed JSON schema; this does it without
re-checking that schema on every call (runs in the Rasa environment only).

`RemoteAction._validate_action_result` calls `jsonschema.validate(result, schema)`, which first checks the
schema itself against the JSON Schema metaschema, every time, though the schema is a constant of Rasa's.
Under load that check was about a tenth of the Rasa process's CPU (docs/benchmarks.md, "Load"). `install`
replaces the method with one that builds the validator once (the schema checked once, at install) and
validates each reply exactly as before: the same errors, raised with Rasa's message, for the same replies.

Installed by bot/tracker_store.py when the Rasa server loads its tracker store (the desk's endpoints.yml),
so the Rasa server of `helpdesk run`, of the tests and of the deployment images all get it.
"""

from __future__ import annotations

from typing import Any

_installed = False


def install() -> None:
    """Patch `rasa.core.actions.action.RemoteAction._validate_action_result` (idempotent)."""
    global _installed
    if _installed:
        return
    from jsonschema import ValidationError, validators
    from jsonschema.exceptions import best_match
    from rasa.core.actions.action import DOCS_BASE_URL, RemoteAction

    schema = RemoteAction.action_response_format_spec()
    cls = validators.validator_for(schema)
    cls.check_schema(schema)  # what jsonschema.validate did on every call, once
    validator = cls(schema)

    def _validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
        error: ValidationError | None = best_match(validator.iter_errors(result))
        if error is not None:
            error.message += (
                ". Failed to validate Action server response from API, "
                "make sure your response from the Action endpoint is valid. "
                "For more information about the format visit "
                f"{DOCS_BASE_URL}/custom-actions"
            )
            raise error
        return True

    RemoteAction._validate_action_result = _validate_action_result  # type: ignore[method-assign]
    _installed = True
