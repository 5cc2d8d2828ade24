"""`helpdesk run` (what `make run` starts): prints the URL, serves the chat, stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from desk.ops import supervisor
from tests.stack import EMBEDDINGS, find_model, free_port

pytestmark = pytest.mark.e2e


def test_run_serves_the_web_chat_and_stops_on_sigterm(tmp_path: Path) -> None:
    model = find_model()
    assert model is not None and model.exists(), "no trained model (make test trains one)"
    db_url = f"sqlite:///{tmp_path / 'helpdesk.db'}"
    ports = {
        "HELPDESK_PORT": free_port(),
        "HELPDESK_RASA_PORT": free_port(),
        "HELPDESK_ACTION_SERVER_PORT": free_port(),
    }
    env = dict(
        os.environ,
        HELPDESK_VAR_DIR=str(tmp_path),
        HELPDESK_DATABASE_URL=db_url,
        HELPDESK_EMBEDDINGS_DIR=EMBEDDINGS,
        HELPDESK_RASA_URL=f"http://127.0.0.1:{ports['HELPDESK_RASA_PORT']}",
        HELPDESK_ACTION_SERVER_URL=f"http://127.0.0.1:{ports['HELPDESK_ACTION_SERVER_PORT']}",
        HELPDESK_MODEL=str(model),
        **{k: str(v) for k, v in ports.items()},
    )
    helpdesk = supervisor.venv_bin("app", "helpdesk")
    for args in (["db", "upgrade"], ["db", "seed"]):
        subprocess.run([helpdesk, *args], env=env, check=True, capture_output=True, timeout=120)
    proc = subprocess.Popen([helpdesk, "run"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, text=True)  # fmt: skip
    output = []
    try:
        deadline = time.monotonic() + 240
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line and proc.poll() is not None:
                break
            output.append(line)
            if "Web chat:" in line:
                break
        text = "".join(output)
        assert f"Web chat:  http://127.0.0.1:{ports['HELPDESK_PORT']}/" in text, text[-3000:]
        page = httpx.get(f"http://127.0.0.1:{ports['HELPDESK_PORT']}/", timeout=10)
        assert page.status_code == 200 and "一站式学生社区" in page.text
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    for port in ports.values():
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
