"""The set-up script stops with a clear message where Python 3.10 is missing."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from knowledge_base.config import PROJECT_ROOT

# the script also tries these absolute paths, whatever PATH says
SYSTEM_PYTHON310 = [Path("/usr/bin/python3.10"), Path("/usr/local/bin/python3.10")]


def test_setup_without_python310_says_how_to_get_it(tmp_path: Path) -> None:
    found = [str(p) for p in SYSTEM_PYTHON310 if p.exists()]
    if found:
        pytest.skip(f"this machine has a system Python 3.10 ({found[0]}): nothing to refuse")
    (tmp_path / "scripts").mkdir()
    shutil.copy(PROJECT_ROOT / "scripts" / "setup.sh", tmp_path / "scripts" / "setup.sh")
    shutil.copytree(PROJECT_ROOT / "requirements", tmp_path / "requirements")
    result = subprocess.run(
        ["bash", "scripts/setup.sh", "app"],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYENV_ROOT": str(tmp_path / "none")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "Python 3.10 is required" in result.stderr
    assert "PYTHON310=" in result.stderr
    assert not (tmp_path / ".venv" / "app").exists()
