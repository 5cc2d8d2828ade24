"""`python -m knowledge_base.redacted_run <module> [args...]`: run a program with its logs masked.

`helpdesk run` starts Rasa (`rasa run ...`), the action server (`rasa_sdk ...`) and the desk
(`uvicorn ...`) through this, so every log line each of them writes passes the masking rules of
knowledge_base/redaction.py (phone, ID-card and student numbers, labelled names) whatever logger
or handler the program configures. Standard library only: it runs in both Python environments.
"""

from __future__ import annotations

import runpy
import sys

from knowledge_base.redaction import install_log_redaction


def main(argv: list[str]) -> None:
    """Install the log redaction, then run `argv[0]` as `python -m` would, with `argv[1:]` as arguments."""
    if not argv:
        raise SystemExit("usage: python -m knowledge_base.redacted_run <module> [args...]")
    install_log_redaction()
    sys.argv = [argv[0], *argv[1:]]
    runpy.run_module(argv[0], run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main(sys.argv[1:])
