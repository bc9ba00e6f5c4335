"""Message Persistence through the local PubNub server: fetch_messages and message_counts."""

from __future__ import annotations

import pytest
from pubnub.exceptions import PubNubException


def publish_texts(client, channel: str, count: int) -> list[int]:
    """Publish ``count`` numbered messages and return their timetokens."""
    return [
        client.publish().channel(channel).message(f"m{i}").meta({"i": i}).sync().result.timetoken
        for i in range(count)
    ]


def fetched(client, channels, **options) -> dict[str, list]:
    call = client.fetch_messages().channels(channels)
    for name, value in options.items():
        getattr(call, name)(value)
    return call.sync().result.channels


def test_newest_messages_come_back_oldest_first(pubnub_client):
    client = pubnub_client("agent")
    timetokens = publish_texts(client, "c", 5)

    items = fetched(client, ["c"], count=2)["c"]

    assert [item.message for item in items] == ["m3", "m4"]
    assert [int(item.timetoken) for item in items] == timetokens[3:]


def test_start_is_exclusive_and_end_inclusive(pubnub_client):
    client = pubnub_client("agent")
    tt = publish_texts(client, "c", 5)

    older_than_third = fetched(client, ["c"], start=tt[2])["c"]
    from_second_on = fetched(client, ["c"], end=tt[1])["c"]
    between = fetched(client, ["c"], start=tt[4], end=tt[1])["c"]

    assert [i.message for i in older_than_third] == ["m0", "m1"]
    assert [i.message for i in from_second_on] == ["m1", "m2", "m3", "m4"]
    assert [i.message for i in between] == ["m1", "m2", "m3"]


def test_publisher_and_meta_only_when_asked(pubnub_client):
    client = pubnub_client("alice")
    publish_texts(client, "c", 1)

    [plain] = fetched(client, ["c"])["c"]
    [full] = fetched(client, ["c"], include_uuid=True, include_meta=True)["c"]

    assert (getattr(plain, "uuid", None), plain.meta) == (None, None)
    assert (full.uuid, full.meta) == ("alice", {"i": 0})


def test_unstored_messages_and_signals_stay_out_of_history(pubnub_client, pubnub_server):
    client = pubnub_client("alice")
    client.publish().channel("c").message("kept").sync()
    client.publish().channel("c").message("not kept").should_store(False).sync()
    client.signal().channel("c").message({"type": "typing"}).sync()

    items = fetched(client, ["c"])["c"]

    assert [item.message for item in items] == ["kept"]
    assert [m.message for m in pubnub_server.published("c")] == [
        "kept",
        "not kept",
        {"type": "typing"},
    ]


def test_one_channel_gives_at_most_100_and_several_25_each(pubnub_client, pubnub_server):
    client = pubnub_client("agent")
    for i in range(120):
        pubnub_server.publish("busy", i)
    for i in range(30):
        pubnub_server.publish("other", i)

    single = fetched(client, ["busy"], count=500)
    several = fetched(client, ["busy", "other", "empty"], count=100)

    assert [i.message for i in single["busy"]] == list(range(20, 120))
    assert [i.message for i in several["busy"]] == list(range(95, 120))
    assert [i.message for i in several["other"]] == list(range(5, 30))
    assert "empty" not in several


def test_history_with_message_actions_path_answers_without_actions(pubnub_client):
    client = pubnub_client("agent")
    publish_texts(client, "c", 2)

    items = fetched(client, ["c"], include_message_actions=True)["c"]

    assert [(i.message, i.actions) for i in items] == [("m0", {}), ("m1", {})]


def test_retention_keeps_only_the_newest_messages(pubnub_server_factory):
    server = pubnub_server_factory(retention=3)
    for i in range(5):
        server.publish("c", i)

    assert [m.message for m in server.history("c")] == [2, 3, 4]
    assert [m.message for m in server.published("c")] == [2, 3, 4]


def test_message_counts_since_a_timetoken_exclude_it(pubnub_client):
    client = pubnub_client("agent")
    a = publish_texts(client, "a", 4)
    b = publish_texts(client, "b", 2)

    one = client.message_counts().channel(["a"]).channel_timetokens([a[1]]).sync()
    two = client.message_counts().channel(["a", "b"]).channel_timetokens([a[0], b[1]]).sync()

    assert one.result.channels == {"a": 2}
    assert two.result.channels == {"a": 3, "b": 0}


def test_malformed_history_request_is_refused(pubnub_client):
    client = pubnub_client("agent")

    with pytest.raises(PubNubException) as refused:
        client.message_counts().channel(["a"]).channel_timetokens(["yesterday"]).sync()

    assert refused.value.get_status_code() == 400
