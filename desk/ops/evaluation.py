"""`helpdesk eval`: run labelled student messages through the real decision path and report metrics.

The knowledge base file is loaded into a fresh SQLite database; a Rasa server (the Rasa environment)
serves the trained model's NLU on a free loopback port. Each message then takes the path a chat takes:
the gateway's crisis filter, Rasa NLU, the rules (knowledge_base.decisions.route), FAQ retrieval with
its thresholds, entity extraction (service; time resolved against the line's reference time). The
report format is the one of ../shared/benchmarks/campus/README.md.
"""

from __future__ import annotations

import json
import os
import platform
import secrets
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from desk.ops.supervisor import free_port, rasa_argv
from knowledge_base import normalization, repository, safety, timeexpr
from knowledge_base.config import PROJECT_ROOT
from knowledge_base.db import Base, make_engine, make_session_factory
from knowledge_base.decisions import Outcome, route
from knowledge_base.faq.answering import KnowledgeBase
from knowledge_base.kbfile import load_kb_file
from knowledge_base.names import ENTITY_SERVICE, INTENT_BOOK

DEFAULT_KB = PROJECT_ROOT.parent / "shared" / "benchmarks" / "campus" / "kb.yml"
DEFAULT_DATA = [
    PROJECT_ROOT.parent / "shared" / "benchmarks" / "campus" / f"{name}.jsonl"
    for name in ("dev_faq", "dev_dialogue", "dev_robust", "dev_everyday")
]


@dataclass
class Prediction:
    """What the bot did with one labelled line."""

    line: dict[str, Any]
    outcome: Outcome
    service: str | None
    time: timeexpr.TimeValue | None
    latency_ms: float
    crisis_filter: bool = False
    labels: list[str] = field(default_factory=list)

    @property
    def check_in(self) -> bool:
        """The gentle check-in was sent (the gateway's text-level tier, or the NLU's crisis intent)."""
        return self.outcome.check_in


class RasaNlu:
    """A Rasa server started for NLU parsing only (no action server, no channels)."""

    def __init__(self, model: Path) -> None:
        self.model = model
        self.port = free_port()
        self.token = secrets.token_urlsafe(16)
        self.proc: subprocess.Popen[bytes] | None = None
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=30)

    def __enter__(self) -> RasaNlu:
        env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT), TF_CPP_MIN_LOG_LEVEL="2")
        self.log = tempfile.NamedTemporaryFile(prefix="rasa-eval-", suffix=".log", delete=False)  # noqa: SIM115
        self.proc = subprocess.Popen(
            rasa_argv(self.model, self.port, self.token),
            cwd=PROJECT_ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"Rasa exited; see {self.log.name}")
            try:
                status = self.client.get("/status", params={"token": self.token}).json()
                if status.get("model_file"):
                    return self
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(1)
        raise RuntimeError(f"Rasa did not start in time; see {self.log.name}")

    def __exit__(self, *exc: object) -> None:
        self.client.close()
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def parse(self, text: str) -> dict[str, Any]:
        return self.client.post("/model/parse", params={"token": self.token}, json={"text": text}).json()


def predict(kb: KnowledgeBase, nlu: RasaNlu, line: dict[str, Any]) -> Prediction:
    """One line through the decision path, timed."""
    ref = _ref_time(line)
    start = time.perf_counter()
    pre_filter = safety.assess(line["text"]).urgent  # what the gateway decides before Rasa
    text = normalization.understanding_text(line["text"])  # what the gateway sends to Rasa
    parsed = nlu.parse(text)
    intent = (parsed.get("intent") or {}).get("name")
    confidence = float((parsed.get("intent") or {}).get("confidence") or 0.0)
    service = next((e.get("value") for e in parsed.get("entities", []) if e.get("entity") == ENTITY_SERVICE), None)
    if service is None:
        service = next(iter(kb.find_services(text, loose=intent == INTENT_BOOK)), None)
    outcome = route(kb, text, intent, confidence, service)  # the same crisis decision, then the rules
    when = timeexpr.extract(text, ref)
    latency = (time.perf_counter() - start) * 1000
    return Prediction(line, outcome, service, when, latency, crisis_filter=pre_filter, labels=outcome_labels(outcome))


def _ref_time(line: dict[str, Any]) -> datetime:
    ref = (line.get("entities") or {}).get("time", {}).get("ref") if isinstance(line.get("entities"), dict) else None
    return datetime.fromisoformat(ref) if ref else timeexpr.now()


def outcome_labels(outcome: Outcome) -> list[str]:
    """The benchmark labels the outcome stands for, best first."""
    if outcome.kind in ("crisis", "task", "reply"):
        return [f"intent:{outcome.intent}"]
    if outcome.kind == "service":
        return ["intent:service_info"] + ([f"service:{outcome.service}"] if outcome.service else [])
    if outcome.kind == "decline":
        return ["intent:out_of_scope"]
    if outcome.kind in ("faq_answer", "faq_suggest"):
        # a complaint answered from the knowledge base is still handed to staff as a complaint
        return [f"faq:{i}" for i in outcome.faq_ids] + ([f"intent:{outcome.intent}"] if outcome.handoff else [])
    return []


def _prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def metrics(preds: list[Prediction]) -> dict[str, Any]:
    """The report of ../shared/benchmarks/campus/README.md (plus a few diagnostic keys)."""
    faq = [p for p in preds if p.line["expect"].startswith("faq:")]
    ok = lambda p: {p.line["expect"], *p.line.get("also", [])}  # noqa: E731
    top1 = sum(1 for p in faq if p.labels[:1] and p.labels[0] in ok(p))
    top3 = sum(1 for p in faq if any(lbl in ok(p) for lbl in p.labels[:3]))
    mrr = sum(next((1 / (i + 1) for i, lbl in enumerate(p.labels[:3]) if lbl in ok(p)), 0.0) for p in faq)
    answered = [p for p in faq if p.outcome.kind == "faq_answer"]
    answered_right = sum(1 for p in answered if p.labels[0] in ok(p))

    intent_lines = [p for p in preds if p.line["expect"].startswith("intent:")]
    predicted_intent = {}
    for p in intent_lines:
        label = next((lbl for lbl in p.labels if lbl in ok(p)), p.labels[0] if p.labels else "none")
        if not label.startswith("intent:"):
            label = "intent:faq" if label.startswith("faq:") else label
        predicted_intent[id(p)] = label
    names = sorted({p.line["expect"] for p in intent_lines})
    per_intent: dict[str, Any] = {}
    for name in names:
        tp = sum(1 for p in intent_lines if p.line["expect"] == name and predicted_intent[id(p)] in ok(p))
        fn = sum(1 for p in intent_lines if p.line["expect"] == name) - tp
        fp = sum(1 for p in intent_lines if p.line["expect"] != name and predicted_intent[id(p)] == name)
        pr, rc, f1 = _prf(tp, fp, fn)
        per_intent[name.removeprefix("intent:")] = {
            "precision": round(pr, 4), "recall": round(rc, 4), "f1": round(f1, 4), "n": tp + fn,
        }  # fmt: skip
    correct_intents = sum(1 for p in intent_lines if predicted_intent[id(p)] in ok(p))

    crisis = [p for p in preds if p.line["expect"] == "intent:crisis"]
    not_crisis = [p for p in preds if p.line["expect"] == "not_crisis"]
    all_other = [p for p in preds if p.line["expect"] != "intent:crisis"]
    oos = [p for p in preds if p.line["expect"] == "oos"]
    rejected = [p for p in oos if not p.outcome.answered_from_kb and not p.outcome.started_task]

    with_service = [p for p in preds if isinstance(p.line.get("entities"), dict) and "service" in p.line["entities"]]
    with_time = [p for p in preds if isinstance(p.line.get("entities"), dict) and "time" in p.line["entities"]]
    time_ok = sum(1 for p in with_time if timeexpr.same_at_grain(p.time, p.line["entities"]["time"]))
    latencies = sorted(p.latency_ms for p in preds)

    def rate(a: int, b: int) -> float:
        return round(a / b, 4) if b else 0.0

    return {
        "faq": {
            "n": len(faq), "top1": rate(top1, len(faq)), "top3": rate(top3, len(faq)),
            "mrr": rate(round(mrr * 10000), len(faq) * 10000),
            "answered_rate": rate(len(answered), len(faq)), "answered_precision": rate(answered_right, len(answered)),
        },
        "intents": {
            "n": len(intent_lines), "accuracy": rate(correct_intents, len(intent_lines)),
            "macro_f1": round(statistics.mean(v["f1"] for v in per_intent.values()), 4) if per_intent else 0.0,
            "per_intent": per_intent,
        },
        "crisis": {
            "n": len(crisis), "recall": rate(sum(p.outcome.kind == "crisis" for p in crisis), len(crisis)),
            "recall_filter_only": rate(sum(p.crisis_filter for p in crisis), len(crisis)),
            "n_not_crisis": len(not_crisis),
            "false_alarm_rate": rate(sum(p.outcome.kind == "crisis" for p in not_crisis), len(not_crisis)),
            # every line not labelled crisis (FAQ, other intents, oos, not_crisis) that started the crisis flow
            "n_all": len(all_other),
            "false_alarm_rate_all": rate(sum(p.outcome.kind == "crisis" for p in all_other), len(all_other)),
            # the gentle check-in (hotline named, counsellor offered, the answer still given): reported apart
            "check_in_rate_all": rate(sum(p.check_in for p in all_other), len(all_other)),
            "recall_with_check_in": rate(sum(p.outcome.kind == "crisis" or p.check_in for p in crisis), len(crisis)),
        },
        "oos": {"n": len(oos), "rejection_rate": rate(len(rejected), len(oos))},
        "entities": {
            "n_service": len(with_service),
            "service_accuracy": rate(
                sum(p.service == p.line["entities"]["service"] for p in with_service), len(with_service)
            ),
            "n_time": len(with_time), "time_accuracy": rate(time_ok, len(with_time)),
        },
        "latency_ms": {
            "p50": round(statistics.median(latencies), 2) if latencies else 0.0,
            "p95": round(latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))], 2) if latencies else 0.0,
        },
        "machine": f"{platform.machine()} {os.cpu_count()} cores, {platform.python_implementation()} "
        f"{platform.python_version()}, {platform.platform(terse=True)}",
    }  # fmt: skip


def errors(preds: list[Prediction]) -> list[dict[str, Any]]:
    """The lines the bot got wrong, for reading."""
    wrong = []
    for p in preds:
        want = {p.line["expect"], *p.line.get("also", [])}
        expect = p.line["expect"]
        if expect == "oos":
            bad = p.outcome.answered_from_kb or p.outcome.started_task
        elif expect == "not_crisis":
            bad = p.outcome.kind == "crisis"
        elif expect.startswith("intent:"):
            label = p.labels[0] if p.labels else "none"
            label = "intent:faq" if label.startswith("faq:") else label
            bad = label not in want and not any(lbl in want for lbl in p.labels)
        else:
            bad = not (p.labels[:1] and p.labels[0] in want)
        if expect != "intent:crisis" and p.outcome.kind == "crisis":
            bad = True  # a false alarm on any line
        if bad or (p.check_in and expect != "intent:crisis"):
            got = p.outcome.kind + ("+check_in" if p.check_in else "")
            wrong.append({"text": p.line["text"], "expect": expect, "got": got, "labels": p.labels[:3],
                          "set": p.line.get("_set", "")})  # fmt: skip
    return wrong


def load_lines(paths: list[Path]) -> list[dict[str, Any]]:
    """Every line of the files, each marked with its set's name (`_set`, the file's stem)."""
    lines: list[dict[str, Any]] = []
    for path in paths:
        with open(path, encoding="utf-8") as fh:
            lines.extend({**json.loads(row), "_set": Path(path).stem} for row in fh if row.strip())
    return lines


def run_eval(kb_path: Path, data: list[Path], model: Path) -> tuple[dict[str, Any], list[Prediction]]:
    """Load the KB into a fresh database, start the NLU, predict every line, compute the report."""
    with tempfile.TemporaryDirectory(prefix="helpdesk-eval-") as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'eval.db'}")
        Base.metadata.create_all(engine)
        sessions = make_session_factory(engine)
        with sessions() as session, session.begin():
            repository.import_kb(session, load_kb_file(kb_path), changed_by="eval")
        kb = KnowledgeBase(sessions)
        lines = load_lines(data)
        with RasaNlu(model) as nlu:
            kb.search("预热")  # build the index and load jieba before timing
            nlu.parse("预热")
            preds = [predict(kb, nlu, line) for line in lines]
        engine.dispose()
    report = metrics(preds)
    sets = list(dict.fromkeys(p.line["_set"] for p in preds))
    if len(sets) > 1:
        report["sets"] = {name: metrics([p for p in preds if p.line["_set"] == name]) for name in sets}
    return report, preds


def summary_table(report: dict[str, Any]) -> str:
    """A short human-readable table of the report."""
    f, i, c, o, e, lat = (report[k] for k in ("faq", "intents", "crisis", "oos", "entities", "latency_ms"))
    rows = [
        ("FAQ top-1 / top-3 / MRR", f"{f['top1']:.3f} / {f['top3']:.3f} / {f['mrr']:.3f}  (n={f['n']})"),
        ("FAQ answered / precision", f"{f['answered_rate']:.3f} / {f['answered_precision']:.3f}"),
        ("intent accuracy / macro-F1", f"{i['accuracy']:.3f} / {i['macro_f1']:.3f}  (n={i['n']})"),
        ("crisis recall / false alarms",
         f"{c['recall']:.3f} / {c['false_alarm_rate']:.3f}  (n={c['n']}/{c['n_not_crisis']})"),
        ("crisis false alarms, all lines",
         f"{c['false_alarm_rate_all']:.4f}  (n={c['n_all']}; check-ins {c['check_in_rate_all']:.4f})"),
        ("affirm / deny recall", " / ".join(
            f"{i['per_intent'][k]['recall']:.3f}" if k in i["per_intent"] else "-" for k in ("affirm", "deny"))),
        ("out-of-scope rejection", f"{o['rejection_rate']:.3f}  (n={o['n']})"),
        ("service / time accuracy",
         f"{e['service_accuracy']:.3f} / {e['time_accuracy']:.3f}  (n={e['n_service']}/{e['n_time']})"),
        ("latency p50 / p95 (ms)", f"{lat['p50']:.1f} / {lat['p95']:.1f}"),
    ]  # fmt: skip
    width = max(len(r[0]) for r in rows)
    text = "\n".join(f"{name.ljust(width)}  {value}" for name, value in rows)
    for name, part in (report.get("sets") or {}).items():
        text += f"\n\n== {name} ==\n" + summary_table(part)
    return text
