"""`python -m benchmarks.desk_path` measures the desk's own work per answered web-chat message: a message
the bot answers costs the desk two transactions (the student's message; the decision with the replies)."""

from __future__ import annotations

from benchmarks import desk_path


def test_an_answered_message_takes_two_transactions_and_a_handful_of_statements() -> None:
    figures = desk_path.run(messages=5, warm_up=3)
    assert figures["messages"] == 5 and figures["cpu_ms"] > 0
    assert figures["commits"] == 2.0
    assert 6 <= figures["statements"] <= 12  # 19 before the survey hooks were skipped and the decision merged
