"""The keyset's bookkeeping behind subscribe, checked directly where the SDK cannot reach:
the index of recent publishes and its fallback once it no longer reaches back."""

from __future__ import annotations

import itertools

from errbot_pubnub.emulator.state import Keyset, PublishedMessage


def keyset_with(recent_index: int) -> tuple[Keyset, itertools.count]:
    keyset = Keyset("sub-c-test", retention=100, group_capacity=10, recent_index=recent_index)
    keyset.add_channels("g", ["a", "b"])
    return keyset, itertools.count(1)


def publish(keyset: Keyset, clock: itertools.count, channel: str) -> int:
    timetoken = next(clock)
    keyset.record(PublishedMessage(channel=channel, message=channel, timetoken=timetoken))
    return timetoken


def pending(keyset: Keyset, since: int, channels=(), groups=("g",)) -> list[tuple[str, str]]:
    found = keyset.pending(channels, groups, since, window=100, not_before=0)
    return [(message.channel, match) for message, match in found]


def test_pending_is_the_same_with_or_without_the_recent_index():
    small, small_clock = keyset_with(recent_index=2)
    large, large_clock = keyset_with(recent_index=100)
    for keyset, clock in ((small, small_clock), (large, large_clock)):
        for channel in ["a", "x", "b", "a", "x"]:
            publish(keyset, clock, channel)

    expected = [("a", "g"), ("b", "g"), ("a", "g")]
    assert pending(small, 0) == pending(large, 0) == expected
    assert pending(small, 3) == pending(large, 3) == [("a", "g")]
    assert pending(small, 0, channels=["x"], groups=()) == [("x", None), ("x", None)]


def test_direct_subscription_wins_over_the_group_match():
    keyset, clock = keyset_with(recent_index=100)
    publish(keyset, clock, "a")

    assert pending(keyset, 0, channels=["a"]) == [("a", None)]


def test_presence_channels_are_routed_through_presence_groups():
    keyset, clock = keyset_with(recent_index=100)
    publish(keyset, clock, "a-pnpres")

    assert pending(keyset, 0, groups=["g-pnpres"]) == [("a-pnpres", "g-pnpres")]
    assert pending(keyset, 0, groups=["g"]) == []
