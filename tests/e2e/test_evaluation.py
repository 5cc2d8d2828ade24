"""`helpdesk eval` on a small slice of the shared dev sets: the report has the benchmark's shape."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import httpx
import pytest

from desk.ops import evaluation, supervisor
from tests.stack import Stack, find_model

pytestmark = pytest.mark.e2e
REQUIRED = {
    "faq": {"n", "top1", "top3", "mrr"},
    "intents": {"n", "accuracy", "macro_f1", "per_intent"},
    "crisis": {"n", "recall", "n_not_crisis", "false_alarm_rate", "false_alarm_rate_all"},
    "oos": {"n", "rejection_rate"},
    "entities": {"n_service", "service_accuracy", "n_time", "time_accuracy"},
    "latency_ms": {"p50", "p95"},
}


def slice_of_dev_sets(tmp_path: Path) -> Path:
    """Two lines of every kind of expectation, from both dev files."""
    taken: dict[str, int] = {}
    lines = []
    for path in evaluation.DEFAULT_DATA:
        for row in path.read_text(encoding="utf-8").splitlines():
            line = json.loads(row)
            kind = line["expect"].split(":")[0] + ("+time" if "time" in (line.get("entities") or {}) else "")
            if taken.get(kind, 0) < 2:
                taken[kind] = taken.get(kind, 0) + 1
                lines.append(row)
    out = tmp_path / "slice.jsonl"
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


def test_eval_report_has_the_benchmark_shape(tmp_path: Path) -> None:
    model = find_model()
    assert model is not None, "no trained model (make test trains one)"
    data = slice_of_dev_sets(tmp_path)
    report_path = tmp_path / "report.json"
    result = subprocess.run(
        [supervisor.venv_bin("app", "helpdesk"), "eval", "--kb", str(evaluation.DEFAULT_KB), "--data", str(data),
         "--out", str(report_path), "--model", str(model)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "FAQ top-1 / top-3 / MRR" in result.stdout
    report = json.loads(report_path.read_text(encoding="utf-8"))
    for section, keys in REQUIRED.items():
        assert keys <= set(report[section]), section
    assert report["faq"]["n"] == 2 and report["oos"]["n"] == 2 and report["entities"]["n_time"] == 2
    for section in ("faq", "crisis", "oos"):
        for key, value in report[section].items():
            if not key.startswith("n"):
                assert 0.0 <= value <= 1.0, (section, key)
    assert report["latency_ms"]["p95"] >= report["latency_ms"]["p50"] > 0
    assert report["machine"]


def test_rasa_extracts_time_and_service_entities(stack: Stack) -> None:
    parsed = httpx.post(
        f"{stack.settings.rasa.url}/model/parse",
        params={"token": stack.settings.rasa.token},
        json={"text": "我想约心理咨询 下周三下午两点半"},
        timeout=30,
    ).json()
    entities = {e["entity"]: e for e in parsed["entities"]}
    assert entities["service"]["value"] == "counseling"
    assert entities["time"]["additional_info"]["grain"] == "minute"
    assert entities["time"]["value"].endswith("T14:30:00+08:00")
    assert parsed["intent"]["name"] == "book_appointment"
