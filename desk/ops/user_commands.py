"""`helpdesk user disable|enable <username>`: the bodies of the CLI's account switches (desk/ops/cli.py).

Disabling an account refuses its logins and ends every open session at once (a copied cookie, a
console left open on another computer); enabling lets the person log in again with the same password.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from sqlalchemy.orm import sessionmaker


def set_active(sessions: sessionmaker, username: str, active: bool) -> int:
    """Switch the account; prints what happened (exit code 0), or why not (2)."""
    from desk.staff import accounts

    try:
        with sessions() as session, session.begin():
            ended = accounts.set_active(session, username, active)
    except accounts.UnknownUser as exc:
        print(f"not changed: {exc}", file=sys.stderr)
        return 2
    if active:
        print(f"account '{username.strip().lower()}' enabled: the person can log in again")
    else:
        print(f"account '{username.strip().lower()}' disabled: {ended} open session(s) ended, logins refused")
    return 0


def add_parsers(user: argparse._SubParsersAction, sessions: Callable[[], sessionmaker]) -> None:
    """Add `disable` and `enable` to the CLI's `user` subcommands."""
    for name, active, text in (
        ("disable", False, "disable an account: its logins are refused and its sessions end at once"),
        ("enable", True, "enable a disabled account again"),
    ):
        parser = user.add_parser(name, help=text)
        parser.add_argument("username")
        parser.set_defaults(func=lambda args, active=active: set_active(sessions(), args.username, active))
