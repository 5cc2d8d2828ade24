"""How far `rasa train` is, read from its output.

Rasa 3 trains a graph of components and logs each one ("Starting to train component 'X'.", "Finished
training component 'X'.", or "Restored component 'X' from cache."); components that learn in epochs (DIET,
TED) also draw a progress bar ("Epochs:  37%|███▋ | 37/100"). The share done is the components finished,
plus the current one's epochs, over the components expected: as many as the previous build trained, else
one per entry of config.yml's pipeline and policies (an estimate: some components have nothing to train).
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

STARTED = re.compile(r"Starting to train component '([^']+)'")
FINISHED = re.compile(r"(?:Finished training component|Restored component) '([^']+)'")
EPOCHS = re.compile(r"Epochs:\s*(\d{1,3})%")
VALIDATING = "Started validating domain and training data"
SAVED = "Your Rasa model is trained and saved at"


def expected_components(config: Path) -> int:
    """One per pipeline component and policy of a Rasa config file (at least 1)."""
    try:
        data = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return 1
    return max(1, len(data.get("pipeline") or []) + len(data.get("policies") or []))


class TrainProgress:
    """Feed it the lines of `rasa train`; `percent` (0-100) and `text` say how far it is."""

    def __init__(self, expected: int) -> None:
        self.expected = max(1, expected)
        self.finished = 0
        self.current = ""
        self.epochs = 0.0  # share of the current component's epochs done
        self.saved = False
        self.text = "准备训练"

    def feed(self, line: str) -> bool:
        """Read one line (a progress bar's \\r-separated updates may come as one); True when something moved."""
        before = (self.percent, self.text)
        for part in line.split("\r"):
            self._read(part)
        return (self.percent, self.text) != before

    def _read(self, line: str) -> None:
        if VALIDATING in line:
            self.text = "检查训练数据"
        elif SAVED in line:
            self.saved = True
            self.text = "训练完成"
        elif match := FINISHED.search(line):
            self.finished += 1
            self.current, self.epochs = "", 0.0
            self.text = f"已完成 {match.group(1)}（{self.finished}/{max(self.expected, self.finished)}）"
        elif match := STARTED.search(line):
            self.current, self.epochs = match.group(1), 0.0
            self.text = f"正在训练 {self.current}（{self.finished + 1}/{max(self.expected, self.finished + 1)}）"
        elif self.current and (match := EPOCHS.search(line)):
            self.epochs = min(100, int(match.group(1))) / 100

    @property
    def percent(self) -> int:
        if self.saved:
            return 100
        done = (self.finished + self.epochs) / max(self.expected, self.finished + (1 if self.current else 0))
        return min(99, int(done * 100))
