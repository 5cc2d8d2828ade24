"""The progress of `rasa train`, read from its output: components finished over components expected, with
the epochs of DIET/TED inside a component; never 100 % before the model is saved."""

from __future__ import annotations

from pathlib import Path

from desk.lifecycle.progress import TrainProgress, expected_components
from desk.lifecycle.runner import reason
from knowledge_base.config import PROJECT_ROOT

# the lines of a real `rasa train` of this bot (var/train.log), with the noise in between left out
LOG = """\
2026-12-03 16:18:35 INFO     rasa.cli.train  - Started validating domain and training data...
2026-12-03 16:18:47 INFO     rasa.engine.training.hooks  - Starting to train component 'CampusJiebaTokenizer'.
Building prefix dict from the default dictionary ...
2026-12-03 16:18:48 INFO     rasa.engine.training.hooks  - Finished training component 'CampusJiebaTokenizer'.
2026-12-03 16:18:49 INFO     rasa.engine.training.hooks  - Starting to train component 'RegexFeaturizer'.
2026-12-03 16:18:49 INFO     rasa.engine.training.hooks  - Finished training component 'RegexFeaturizer'.
2026-12-03 16:18:50 INFO     rasa.engine.training.hooks  - Starting to train component 'CountVectorsFeaturizer'.
2026-12-03 16:18:50 INFO     rasa.engine.training.hooks  - Finished training component 'CountVectorsFeaturizer'.
2026-12-03 16:18:52 INFO     rasa.engine.training.hooks  - Starting to train component 'CountVectorsFeaturizer'.
2026-12-03 16:18:53 INFO     rasa.engine.training.hooks  - Finished training component 'CountVectorsFeaturizer'.
2026-12-03 16:18:54 INFO     rasa.engine.training.hooks  - Starting to train component 'EntitySynonymMapper'.
2026-12-03 16:18:54 INFO     rasa.engine.training.hooks  - Finished training component 'EntitySynonymMapper'.
2026-12-03 16:18:54 INFO     rasa.engine.training.hooks  - Starting to train component 'LogisticRegressionClassifier'.
2026-12-03 16:19:18 INFO     rasa.engine.training.hooks  - Finished training component 'LogisticRegressionClassifier'.
2026-12-03 16:19:18 INFO     rasa.engine.training.hooks  - Starting to train component 'RegexEntityExtractor'.
2026-12-03 16:19:18 INFO     rasa.engine.training.hooks  - Finished training component 'RegexEntityExtractor'.
Processed story blocks:   0%|          | 0/5 [00:00<?, ?it/s]Processed story blocks: 100%|██████████| 5/5
2026-12-03 16:19:20 INFO     rasa.engine.training.hooks  - Restored component 'MemoizationPolicy' from cache.
2026-12-03 16:19:22 INFO     rasa.engine.training.hooks  - Starting to train component 'RulePolicy'.
2026-12-03 16:19:23 INFO     rasa.engine.training.hooks  - Finished training component 'RulePolicy'.
Your Rasa model is trained and saved at 'models/build-1-66f56add.tar.gz'.
"""


def test_progress_follows_the_components_and_reaches_100_only_when_saved() -> None:
    progress = TrainProgress(expected=9)
    seen = []
    for line in LOG.splitlines():
        progress.feed(line)
        seen.append(progress.percent)
    assert seen == sorted(seen), "progress never goes back"
    assert seen[-2] == 99 and seen[-1] == 100
    assert progress.finished == 9
    assert 40 <= seen[12] <= 60  # half the components done when the classifier starts
    assert progress.text == "训练完成"


def test_the_text_names_the_component_in_training() -> None:
    progress = TrainProgress(expected=9)
    for line in LOG.splitlines()[:13]:
        progress.feed(line)
    assert progress.text == "正在训练 LogisticRegressionClassifier（6/9）"


def test_epochs_move_the_share_of_a_component_that_learns_in_epochs() -> None:
    progress = TrainProgress(expected=2)
    progress.feed("INFO rasa.engine.training.hooks - Starting to train component 'DIETClassifier'.")
    assert progress.percent == 0
    progress.feed("Epochs:  10%|█  | 10/100 [00:01<00:09]\rEpochs:  50%|█████     | 50/100 [00:05<00:05]")
    assert progress.percent == 25
    progress.feed("INFO rasa.engine.training.hooks - Finished training component 'DIETClassifier'.")
    assert progress.percent == 50


def test_more_components_than_expected_never_pass_99() -> None:
    progress = TrainProgress(expected=1)
    for name in ("A", "B", "C"):
        progress.feed(f"Starting to train component '{name}'.")
        progress.feed(f"Finished training component '{name}'.")
    assert progress.percent == 99


def test_expected_components_counts_pipeline_and_policies(tmp_path: Path) -> None:
    config = tmp_path / "config.yml"
    config.write_text("pipeline:\n  - name: A\n  - name: B\npolicies:\n  - name: P\n", encoding="utf-8")
    assert expected_components(config) == 3
    assert expected_components(PROJECT_ROOT / "config.yml") > 3  # the bot's own config reads
    assert expected_components(tmp_path / "missing.yml") == 1


def test_a_failed_commands_reason_is_its_last_error_not_the_noise() -> None:
    lines = [
        "2026-12-03 16:18:41 INFO     rasa.validator  - Validating intents...",
        "UserWarning: Found conflicting synonym definitions for '心灵驿站': 'counseling' and 'career_consulting'.",
        "UserWarning: The utterance 'utter_default' is not used in any story or rule.",
        "2026-12-03 16:18:42 INFO     rasa.validator  - Story structure validation...",
    ]
    assert reason(lines, "退出码 1").startswith("UserWarning: Found conflicting synonym definitions for '心灵驿站'")
    assert reason(["INFO all good"], "退出码 1") == "退出码 1"
