"""What admins are told when a channel group fills: a bot alone can name more groups, up to
the 10 one PubNub subscriber holds; instances sharing the groups take in 10 each, so beyond
that another instance is what makes room."""

from __future__ import annotations

from errbot_pubnub.admin_notices import AdminNotices
from errbot_pubnub.capacity import GroupCapacity
from tests.botrunner import wait_for


def told(shared: bool) -> list[str]:
    sent: list[str] = []
    capacity = GroupCapacity(3, AdminNotices(sent.append, 60), shared=shared)
    capacity.check({"support": 3})
    capacity.refused("support-2", "Maximum channels per group exceeded")
    wait_for(lambda: len(sent) == 2)
    return sorted(sent)


def test_a_bot_alone_is_told_to_add_a_group_up_to_ten() -> None:
    full, refused = told(shared=False)
    assert full.endswith(
        "Add another group to PUBNUB_CHANNEL_GROUP (up to 10) and have the app register new "
        "channels in it, or remove the channels of finished conversations."
    )
    assert refused == (
        "PubNub refused to add a channel to channel group support-2: it is full (Maximum "
        "channels per group exceeded). Add another group to PUBNUB_CHANNEL_GROUP (up to 10)."
    )


def test_instances_sharing_the_groups_are_told_to_start_another_instance() -> None:
    full, refused = told(shared=True)
    more = (
        "Add another group to PUBNUB_CHANNEL_GROUP (up to 200; each instance takes in at most "
        "10, so start another instance when every one holds 10)"
    )
    assert full.startswith("PubNub channel group support holds 3 channels, its capacity")
    assert f"{more} and have the app register new channels in it" in full
    assert refused.endswith(f"it is full (Maximum channels per group exceeded). {more}.")
