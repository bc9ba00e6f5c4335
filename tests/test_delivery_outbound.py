"""Publishing to customers: retried when it may pass, final when refused, never doubled when
history can tell. The publisher runs with a real SDK client against the local PubNub server,
whose faults make publishes fail; the customer's channel is read back from the server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from pubnub.pubnub import PubNub

from errbot_pubnub import (
    ChatSDKMessageConverter,
    DefaultMessageConverter,
    MessageKind,
    PubNubMessage,
)
from errbot_pubnub.emulator import PubNubEmulator
from errbot_pubnub.outbound import Publisher, PublishError, RetryPolicy
from errbot_pubnub.retry import Backoff
from errbot_pubnub.sdk import new_client
from tests.pubnub_fixtures import pubnub_config, stop_clients

CHANNEL = "olga-support"
QUICK = RetryPolicy(attempts=4, budget=10.0, backoff=Backoff(base=0.05, cap=0.2))


@pytest.fixture
def make_publisher(
    pubnub_server: PubNubEmulator,
) -> Iterator[Callable[..., tuple[Publisher, PubNubEmulator]]]:
    clients: list[PubNub] = []

    def make(
        server: PubNubEmulator | None = None, *, history: bool = True, **options: Any
    ) -> tuple[Publisher, PubNubEmulator]:
        server = server or pubnub_server
        client = new_client(pubnub_config(server, "support", non_subscribe_request_timeout=2))
        clients.append(client)
        options.setdefault("policy", QUICK)
        publisher = Publisher(
            client,
            DefaultMessageConverter(),
            user_id="support",
            history_available=lambda: history,
            **options,
        )
        return publisher, server

    yield make
    stop_clients(clients)


def reply(text: str) -> PubNubMessage:
    return PubNubMessage(kind=MessageKind.FROM_AGENT, text=text)


def texts(server: PubNubEmulator) -> list[str]:
    return [m.message["text"] for m in server.published(CHANNEL)]


@pytest.mark.parametrize("status", [500, 503, 429])
def test_a_publish_failing_for_a_while_is_retried_and_published_once(
    make_publisher: Any, status: int
) -> None:
    publisher, server = make_publisher()
    server.faults.fail_next(2, status, operation="publish")
    (timetoken,) = publisher.publish(CHANNEL, reply("hello"), {"author": "Alice"})
    assert texts(server) == ["hello"]
    assert server.published(CHANNEL)[0].timetoken == timetoken
    assert server.published(CHANNEL)[0].meta == {"author": "Alice"}
    assert server.request_count("publish") == 3
    assert publisher.retries == 2


def test_a_publish_failing_for_good_raises_after_the_last_attempt(make_publisher: Any) -> None:
    publisher, server = make_publisher()
    server.faults.fail_next(10, 503, operation="publish", message="Service Unavailable")
    with pytest.raises(PublishError) as failure:
        publisher.publish(CHANNEL, reply("lost?"), None)
    assert failure.value.status_code == 503
    assert failure.value.attempts == 4
    assert "failed (HTTP 503) after 4 attempts: Service Unavailable" in str(failure.value)
    assert server.request_count("publish") == 4
    assert texts(server) == []


def test_a_refusal_is_never_retried(make_publisher: Any) -> None:
    publisher, server = make_publisher()
    server.faults.fail_next(1, 400, operation="publish", message="Invalid Key")
    with pytest.raises(PublishError) as failure:
        publisher.publish(CHANNEL, reply("refused"), None)
    assert (failure.value.status_code, failure.value.attempts) == (400, 1)
    assert server.request_count("publish") == 1


def test_the_time_budget_bounds_the_retries(make_publisher: Any) -> None:
    policy = RetryPolicy(attempts=50, budget=0.3, backoff=Backoff(base=0.2, cap=0.2))
    publisher, server = make_publisher(policy=policy)
    server.faults.fail_next(50, 502, operation="publish")
    with pytest.raises(PublishError):
        publisher.publish(CHANNEL, reply("late"), None)
    # Far fewer than the 50 attempts allowed: the budget ended them. (Usually 2; a loaded
    # machine may spend the budget on the first attempt, which leaves no time for a second.)
    assert 1 <= server.request_count("publish") <= 4


def test_an_unanswered_publish_that_arrived_is_not_published_again(make_publisher: Any) -> None:
    publisher, server = make_publisher()
    publisher.publish(CHANNEL, reply("same words"), None)  # an earlier, identical text
    server.faults.drop_next(operation="publish", after_handling=True)  # stored, answer lost
    (timetoken,) = publisher.publish(CHANNEL, reply("same words"), None)
    assert texts(server) == ["same words", "same words"]  # one each, not three
    assert timetoken == server.published(CHANNEL)[1].timetoken
    assert server.request_count("publish") == 2  # the lost answer was found in history


def test_without_history_a_retry_may_double_and_the_publish_id_tells_apps(
    make_publisher: Any, pubnub_server_factory: Any
) -> None:
    server = pubnub_server_factory(message_persistence=False)
    publisher, _ = make_publisher(server, history=False, publish_id_meta="publish_id")
    server.faults.drop_next(operation="publish", after_handling=True)
    publisher.publish(CHANNEL, reply("twice"), {"author": "Alice"})
    first, second = server.published(CHANNEL)
    assert first.message == second.message
    assert first.meta == second.meta  # the same id on both copies: an app keeps one
    assert first.meta["author"] == "Alice"
    assert len(first.meta["publish_id"]) == 32
    publisher.publish(CHANNEL, reply("next"), None)
    assert server.published(CHANNEL)[2].meta["publish_id"] != first.meta["publish_id"]


def test_a_split_notice_marks_only_its_last_part_for_chat_sdk_apps(pubnub_server) -> None:
    """Parts before the last are plain replies: an app sees one resolution, not several."""
    client = new_client(pubnub_config(pubnub_server, "support"))
    try:
        publisher = Publisher(client, ChatSDKMessageConverter(), max_bytes=1500, policy=QUICK)
        notice = PubNubMessage(kind=MessageKind.RESOLVED, text="Resolved. " * 300)
        publisher.publish(CHANNEL, notice, {"author": "alice"})
    finally:
        stop_clients([client])
    parts = pubnub_server.published(CHANNEL)
    assert len(parts) > 1
    assert "".join(p.message["text"] for p in parts) == notice.text
    *leading, last = parts
    assert all(p.custom_message_type is None and p.meta == {"author": "alice"} for p in leading)
    assert last.custom_message_type == "support-resolved"
    assert last.meta == {"author": "alice", "kind": "resolved"}
