"""The web chat's rate limiter: a student over the limit waits, and students who went quiet are forgotten."""

from __future__ import annotations

from connectors.webchat import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_over_the_limit_until_the_window_moves_on() -> None:
    clock = Clock()
    limiter = RateLimiter(limit=3, window=20.0, clock=clock)
    assert [limiter.allow("web:a") for _ in range(4)] == [True, True, True, False]
    assert limiter.allow("web:b")  # another student is not affected
    clock.now += 21
    assert limiter.allow("web:a")


def test_students_who_went_quiet_are_dropped_from_the_table() -> None:
    clock = Clock()
    limiter = RateLimiter(limit=12, window=20.0, clock=clock)
    for i in range(500):
        assert limiter.allow(f"web:s{i}")
    assert len(limiter) == 500
    clock.now += 10
    assert limiter.allow("web:s0")  # within the window: nobody is forgotten yet
    assert len(limiter) == 500
    clock.now += 25
    assert limiter.allow("web:new")
    assert len(limiter) == 1  # only the student who just wrote is left


def test_a_student_still_limited_is_not_forgotten() -> None:
    clock = Clock()
    limiter = RateLimiter(limit=2, window=20.0, clock=clock)
    limiter.allow("web:a")
    clock.now += 15
    limiter.allow("web:a")
    clock.now += 10  # the first event left the window, the second did not
    assert limiter.allow("web:b")  # a pruning pass runs here
    assert len(limiter) == 2  # web:a still has an event in the window
    assert limiter.allow("web:a")  # one event in the window: one more is allowed ...
    assert not limiter.allow("web:a")  # ... and then it is limited again
