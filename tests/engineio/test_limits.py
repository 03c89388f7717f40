"""The counting parts of the inbound limits, with an injected clock (no sleeping)."""

from __future__ import annotations

import pytest

from django_socketio.engineio.limits import Throttle, TokenBucket
from django_socketio.socketio.limits import InboundLimits


def test_a_token_bucket_allows_the_burst_then_the_rate():
    bucket = TokenBucket(rate=10, burst=5, now=0.0)
    assert [bucket.take(0.0) for _ in range(6)] == [True] * 5 + [False]
    assert bucket.retry_after(0.0) == pytest.approx(0.1)
    assert bucket.take(0.05) is False  # half a token
    assert bucket.take(0.1) is True
    assert bucket.take(0.1) is False


def test_refused_events_use_no_tokens_and_idle_time_refills_only_to_the_burst():
    bucket = TokenBucket(rate=2, burst=3, now=0.0)
    for _ in range(3):
        assert bucket.take(0.0)
    for _ in range(100):
        assert not bucket.take(0.0)
    assert bucket.take(0.5)  # one token after 0.5 s at 2/s, despite the refusals
    assert [bucket.take(1000.0) for _ in range(4)] == [True] * 3 + [False]


def test_fractional_rates():
    bucket = TokenBucket(rate=0.5, burst=1, now=0.0)
    assert bucket.take(0.0)
    assert not bucket.take(1.9)
    assert bucket.take(2.0)


def test_a_bucket_needs_a_rate_and_a_burst():
    with pytest.raises(ValueError):
        TokenBucket(rate=0, burst=1, now=0.0)
    with pytest.raises(ValueError):
        TokenBucket(rate=1, burst=0, now=0.0)


def test_a_throttle_reports_once_per_interval_with_the_count_it_held_back():
    throttle = Throttle(interval=10.0, now=0.0)
    assert throttle.allow(0.0) == 0
    assert [throttle.allow(t) for t in (1.0, 2.0, 9.9)] == [None, None, None]
    assert throttle.allow(10.0) == 3
    assert throttle.allow(10.5) is None


def test_a_throttle_with_a_burst():
    throttle = Throttle(interval=10.0, now=0.0, burst=3)
    assert [throttle.allow(0.0) for _ in range(5)] == [0, 0, 0, None, None]
    assert throttle.allow(10.0) == 2


def test_inbound_limits_make_a_bucket_only_when_a_rate_is_set():
    assert InboundLimits().bucket(0.0) is None
    bucket = InboundLimits(events_per_second=20).bucket(0.0)
    assert bucket is not None and (bucket.rate, bucket.burst) == (20, 20)
    assert InboundLimits(events_per_second=0.5).bucket(0.0).burst == 1  # type: ignore[union-attr]
