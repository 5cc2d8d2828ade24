"""The supervisor's command lines: Rasa must accept every generated token."""

from __future__ import annotations

import subprocess
from pathlib import Path

from desk.ops import supervisor
from desk.settings import Settings


def test_rasa_accepts_a_token_that_starts_with_a_dash(tmp_path: Path) -> None:
    # secrets.token_urlsafe gives such tokens about once in 64; argparse used to take them for options
    settings = Settings(var_dir=tmp_path, rasa_token="-Ab3" + "x" * 40, secret_key="s" * 32)
    [rasa] = [c for c in supervisor.build_children(settings, tmp_path / "model.tar.gz") if c.name == "rasa"]
    result = subprocess.run([*rasa.argv, "--help"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
