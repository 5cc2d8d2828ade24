"""The Rasa-side speed-ups in the real Rasa environment: bot/action_validation.py accepts or refuses every
action-server reply exactly as Rasa 3.6 does (same message); the embedded tracker database runs in WAL mode."""

from __future__ import annotations

import json
import subprocess

from desk.ops.supervisor import ROOT, venv_bin

SCRIPT = r"""
import json, sys
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction
action = RemoteAction("action_faq", None)
replies = json.loads(sys.stdin.read())

def outcomes():
    out = []
    for reply in replies:
        try:
            out.append(["ok", action._validate_action_result(reply)])
        except ValidationError as e:
            out.append(["refused", e.message])
    return out

before = outcomes()
from bot import action_validation
action_validation.install()
action_validation.install()  # idempotent
print(json.dumps({"before": before, "after": outcomes(), "patched": RemoteAction._validate_action_result.__module__}))
"""


def in_rasa(script: str, *args: str, stdin: str = "") -> dict:  # type: ignore[type-arg]
    """Run `script` with the Rasa environment's Python; the JSON it prints last."""
    done = subprocess.run(
        [str(venv_bin("rasa", "python")), "-c", script, *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin:/bin"},
        timeout=300,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


REPLIES = [
    {"events": [], "responses": []},
    {"events": [{"event": "slot", "name": "service", "value": "心理咨询"}], "responses": [{"text": "好的"}]},
    {"events": [], "responses": [{"text": "好的", "buttons": [{"title": "是", "payload": "/affirm"}]}]},
    {"events": [{"event": "slot", "name": "service"}], "responses": []},  # a slot event without its value
    {"events": "not a list", "responses": []},
    {"events": [{"name": "no event key"}], "responses": []},
    {"events": [], "responses": "not a list"},
    {"events": [{"event": "slot", "name": "x", "value": 1}], "responses": [{"text": "a"}], "extra": True},
]


def test_action_server_replies_are_judged_as_rasa_itself_judges_them() -> None:
    result = in_rasa(SCRIPT, stdin=json.dumps(REPLIES))
    assert result["patched"] == "bot.action_validation"
    assert result["after"] == result["before"]
    verdicts = [v for v, _ in result["after"]]
    assert verdicts == ["ok", "ok", "ok", "refused", "refused", "refused", "refused", "ok"]
    assert all("Failed to validate Action server response" in m for v, m in result["after"] if v == "refused")


STORE_SCRIPT = r"""
import asyncio, json, sys
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import SessionStarted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from bot.tracker_store import RedactingTrackerStore
store = RedactingTrackerStore(Domain.empty(), dialect="sqlite", db=sys.argv[1])
tracker = DialogueStateTracker.from_events("web:s1", [SessionStarted(), UserUttered("我的手机号是13812345678")])
asyncio.run(store.save(tracker))
with store.engine.connect() as c:
    modes = [c.exec_driver_sql("PRAGMA journal_mode").scalar(), c.exec_driver_sql("PRAGMA synchronous").scalar()]
    texts = [json.loads(d).get("text") for (d,) in c.exec_driver_sql("SELECT data FROM events ORDER BY id")]
print(json.dumps({"modes": modes, "texts": texts}))
"""


def test_the_embedded_tracker_database_commits_without_waiting_for_the_disk(tmp_path) -> None:  # type: ignore[no-untyped-def]
    result = in_rasa(STORE_SCRIPT, str(tmp_path / "rasa_tracker.db"))
    assert result["modes"] == ["wal", 1]  # WAL, synchronous=NORMAL (1) on every connection
    assert "13812345678" not in json.dumps(result["texts"], ensure_ascii=False)  # still stored masked
    assert any(t and "手机号" in t for t in result["texts"])
