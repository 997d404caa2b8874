"""Wrong second-factor codes cost escalating waits (services/factors/throttle.py): a few free
mistakes, then 30 s doubling per mistake up to 15 minutes; a right code forgets the count."""

from __future__ import annotations

import pytest

from idp.services.factors import throttle as throttle_module
from idp.services.factors.throttle import FactorThrottle


class FakeStore:
    """The part of the short-lived store contract the throttle uses, in a dict."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def get(self, key: str) -> str | None:
        return self.values.get(key)

    def put(self, key: str, value: str, ttl: float) -> None:
        self.values[key] = value

    def incr(self, key: str, ttl: float) -> int:
        self.values[key] = str(int(self.values.get(key, "0")) + 1)
        return int(self.values[key])

    def delete(self, key: str) -> None:
        self.values.pop(key, None)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    now = [1_000_000.0]
    monkeypatch.setattr(throttle_module.time, "time", lambda: now[0])
    return now


def test_waits_escalate_to_a_ceiling_and_a_right_code_resets(clock: list[float]):
    throttle = FactorThrottle(FakeStore())  # type: ignore[arg-type]
    waits = []
    for _ in range(10):
        throttle.record_failure(1, 7)
        waits.append(throttle.wait(1, 7))
    assert waits == [0, 0, 0, 0, 30, 60, 120, 240, 480, 900]
    assert throttle.wait(1, 8) == 0  # another person is not slowed down
    clock[0] += 900
    assert throttle.wait(1, 7) == 0
    throttle.clear(1, 7)
    throttle.record_failure(1, 7)
    assert throttle.wait(1, 7) == 0
