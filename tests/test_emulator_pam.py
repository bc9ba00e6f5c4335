"""Access Manager on the local PubNub server: signatures, tokens, refusals."""

from __future__ import annotations

import base64
import json

import cbor2
import pytest
from pubnub.enums import PNStatusCategory
from pubnub.exceptions import PubNubException
from pubnub.models.consumer.objects_v2.channel_members import PNUserMember
from pubnub.models.consumer.objects_v2.memberships import PNChannelMembership
from pubnub.models.consumer.v3.channel import Channel
from pubnub.models.consumer.v3.group import Group
from pubnub.models.consumer.v3.uuid import UUID

from errbot_pubnub.emulator import PubNubEmulator
from errbot_pubnub.emulator.access import TokenAuthority, TokenError
from tests.pubnub_fixtures import SECRET_KEY, PubNubEvents, subscribed


@pytest.fixture
def secured(pubnub_server_factory):
    return pubnub_server_factory(secret_key=SECRET_KEY)


@pytest.fixture
def admin(secured, pubnub_client):
    """A server-side client: it holds the secret key, so every request it makes is signed."""
    return pubnub_client("admin", server=secured, secret_key=SECRET_KEY)


@pytest.fixture
def customer_token(admin):
    return (
        admin.grant_token()
        .ttl(60)
        .authorized_uuid("alice")
        .channels([Channel.id("alice-chat").read().write(), Channel.id("news").read()])
        .sync()
        .result.token
    )


@pytest.fixture
def customer(secured, pubnub_client, customer_token):
    client = pubnub_client("alice", server=secured)
    client.set_token(customer_token)
    return client


def refusal(call) -> dict:
    """Run a request that must be refused with 403; return PubNub's JSON answer, which the
    SDK puts in the exception's message."""
    with pytest.raises(PubNubException) as refused:
        call.sync()
    assert refused.value.get_status_code() == 403
    return json.loads(str(refused.value).partition("): ")[2])


def test_signed_requests_are_allowed(admin, secured):
    admin.add_channel_to_channel_group().channels(["a"]).channel_group("g").sync()
    events = subscribed(admin, groups=["g"])

    admin.publish().channel("a").message("get").meta({"m": 1}).sync()
    admin.publish().channel("a").message("post").use_post(True).sync()
    admin.signal().channel("a").message("s").sync()

    assert [events.next_message().message, events.next_message().message] == ["get", "post"]
    assert events.next_signal().message == "s"
    history = admin.fetch_messages().channels(["a"]).sync().result.channels["a"]
    assert [item.message for item in history] == ["get", "post"]
    assert admin.here_now().channels(["a"]).sync().result.total_occupancy == 1
    assert secured.channels_in_group("g") == ["a"]


def test_granted_token_is_readable_by_the_sdk(admin, customer_token):
    parsed = admin.parse_token(customer_token)

    assert parsed["ttl"] == 60
    assert parsed["authorized_uuid"] == "alice"
    assert parsed["resources"]["channels"]["alice-chat"]["read"]
    assert parsed["resources"]["channels"]["alice-chat"]["write"]
    assert not parsed["resources"]["channels"]["news"]["write"]
    assert len(customer_token) % 4 == 0  # padded base64: parse_token() refuses it unpadded


def test_token_allows_what_it_grants(customer, admin, secured):
    events = subscribed(customer, channels=["alice-chat"])

    customer.publish().channel("alice-chat").message("hello").sync()
    history = customer.fetch_messages().channels(["alice-chat"]).sync().result.channels

    assert events.next_message().message == "hello"
    assert [i.message for i in history["alice-chat"]] == ["hello"]
    assert [m.publisher for m in secured.published("alice-chat")] == ["alice"]


def test_token_refuses_what_it_does_not_grant(customer, secured):
    write_elsewhere = refusal(customer.publish().channel("bob-chat").message("hi"))
    write_read_only = refusal(customer.signal().channel("news").message("hi"))
    read_elsewhere = refusal(customer.fetch_messages().channels(["alice-chat", "bob-chat"]))
    manage_group = refusal(
        customer.add_channel_to_channel_group().channels(["alice-chat"]).channel_group("g")
    )

    assert write_elsewhere["payload"] == {"channels": ["bob-chat"]}
    assert write_read_only["payload"] == {"channels": ["news"]}
    assert read_elsewhere == {
        "status": 403,
        "error": True,
        "service": "Access Manager",
        "message": "Forbidden",
        "payload": {"channels": ["bob-chat"]},
    }
    assert manage_group["payload"] == {"channel-groups": ["g"]}
    assert secured.published("bob-chat") == [] and secured.groups() == []


def test_subscribe_without_read_is_denied(customer):
    events = PubNubEvents()
    customer.add_listener(events)

    customer.subscribe().channels(["bob-chat"]).execute()

    denied = events.wait_status(PNStatusCategory.PNAccessDeniedCategory)
    assert denied.status_code == 403


def test_requests_without_token_or_signature_are_refused(secured, pubnub_client):
    anonymous = pubnub_client("anonymous", server=secured)

    refused = refusal(anonymous.publish().channel("c").message("hi"))

    assert refused["payload"] == {"channels": ["c"]}


def test_token_for_another_user_is_refused(secured, pubnub_client, customer_token):
    mallory = pubnub_client("mallory", server=secured)
    mallory.set_token(customer_token)

    refused = refusal(mallory.publish().channel("alice-chat").message("hi"))

    assert "alice" in refused["message"]


def test_revoked_token_is_refused(admin, customer, customer_token):
    customer.publish().channel("alice-chat").message("before").sync()

    admin.revoke_token(customer_token).sync()

    refused = refusal(customer.publish().channel("alice-chat").message("after"))
    assert refused["message"] == "Token is revoked."


def test_token_with_forged_permissions_is_refused(customer, customer_token):
    body = cbor2.loads(base64.urlsafe_b64decode(customer_token))
    body[b"res"][b"chan"]["bob-chat"] = 3  # read + write, added without the secret
    customer.set_token(base64.urlsafe_b64encode(cbor2.dumps(body)).decode())

    refused = refusal(customer.publish().channel("bob-chat").message("hi"))

    assert refused["message"] == "Invalid token signature"


def test_wrong_secret_gives_invalid_signature(secured, pubnub_client):
    impostor = pubnub_client("impostor", server=secured, secret_key="not-the-secret")

    refused = refusal(impostor.publish().channel("c").message("x"))

    assert refused["message"] == "Invalid Signature"


def test_patterns_and_group_permissions(admin, secured, pubnub_client):
    token = (
        admin.grant_token()
        .ttl(5)
        .channels([Channel.pattern("^cust-.*$").write()])
        .groups([Group.id("support").read().manage()])
        .sync()
        .result.token
    )
    agent = pubnub_client("agent", server=secured)
    agent.set_token(token)

    agent.publish().channel("cust-42").message("ok").sync()
    agent.add_channel_to_channel_group().channels(["cust-42"]).channel_group("support").sync()
    events = subscribed(agent, groups=["support"])
    secured.publish("cust-42", "heard through the group")

    assert events.next_message().message == "heard through the group"
    refusal(agent.publish().channel("staff").message("no"))
    refusal(agent.list_channels_in_channel_group().channel_group("other"))


def test_app_context_takes_get_update_and_join_on_the_channel_as_on_pubnub(
    admin, secured, pubnub_client
):
    """Channel metadata takes GET to read and UPDATE to write; a user's memberships take
    UPDATE on the user and JOIN on each channel; a channel's members take MANAGE on it."""
    admin.set_channel_metadata().channel("bob-chat").set_name("Bob's").sync()  # signed
    token = (
        admin.grant_token()
        .ttl(60)
        .authorized_uuid("alice")
        .channels([Channel.id("alice-chat").read().write().get().update().join()])
        .uuids([UUID.id("alice").get().update()])
        .sync()
        .result.token
    )
    alice = pubnub_client("alice", server=secured)
    alice.set_token(token)
    mine = [PNChannelMembership.channel("alice-chat")]

    alice.set_channel_metadata().channel("alice-chat").set_name("Alice's").sync()
    assert alice.get_channel_metadata().channel("alice-chat").sync().result.data["name"] == (
        "Alice's"
    )
    alice.set_memberships().uuid("alice").channel_memberships(mine).sync()
    joined = alice.get_memberships().uuid("alice").sync().result.data
    assert [m["channel"]["id"] for m in joined] == ["alice-chat"]

    elsewhere = [PNChannelMembership.channel("bob-chat")]
    refusals = {
        "read bob's channel": refusal(alice.get_channel_metadata().channel("bob-chat")),
        "rename it": refusal(alice.set_channel_metadata().channel("bob-chat").set_name("x")),
        "remove her own": refusal(alice.remove_channel_metadata().channel("alice-chat")),
        "join bob's": refusal(alice.set_memberships().uuid("alice").channel_memberships(elsewhere)),
        "leave for bob": refusal(alice.remove_memberships().uuid("bob").channel_memberships(mine)),
        "add bob as member": refusal(
            alice.set_channel_members().channel("alice-chat").uuids([PNUserMember("bob")])
        ),
        "list every channel": refusal(alice.get_all_channel_metadata()),
    }

    assert {name: answer["status"] for name, answer in refusals.items()} == dict.fromkeys(
        refusals, 403
    )
    assert refusals["rename it"]["payload"] == {"channels": ["bob-chat"]}
    assert refusals["join bob's"]["payload"] == {"channels": ["bob-chat"]}
    assert refusals["leave for bob"]["payload"] == {"uuids": ["bob"]}
    assert refusals["add bob as member"]["payload"] == {"channels": ["alice-chat"]}
    assert admin.get_channel_metadata().channel("bob-chat").sync().result.data["name"] == "Bob's"
    members = admin.get_channel_members().channel("bob-chat").sync().result.data
    assert members == []


def test_joining_a_channel_takes_join_besides_update_on_the_user(admin, secured, pubnub_client):
    token = (
        admin.grant_token()
        .ttl(60)
        .authorized_uuid("alice")
        .channels([Channel.id("alice-chat").read().write().get().update()])
        .uuids([UUID.id("alice").get().update()])
        .sync()
        .result.token
    )
    alice = pubnub_client("alice", server=secured)
    alice.set_token(token)
    mine = [PNChannelMembership.channel("alice-chat")]

    refused = refusal(alice.set_memberships().uuid("alice").channel_memberships(mine))

    assert refused["payload"] == {"channels": ["alice-chat"]}
    assert admin.get_memberships().uuid("alice").sync().result.data == []


def test_grant_needs_a_server_with_a_secret(pubnub_client):
    client = pubnub_client("admin", secret_key=SECRET_KEY)

    with pytest.raises(PubNubException) as refused:
        client.grant_token().ttl(1).channels([Channel.id("c").read()]).sync()

    assert refused.value.get_status_code() == 400
    assert "secret key" in str(refused.value)


def test_expired_token_is_refused():
    now = [1_700_000_000.0]
    authority = TokenAuthority(SECRET_KEY, clock=lambda: now[0])
    token = authority.issue({"ttl": 1, "permissions": {"resources": {"channels": {"c": 1}}}})
    authority.parse(token)

    now[0] += 61

    with pytest.raises(TokenError, match="expired"):
        authority.parse(token)


def test_secret_without_publish_key_is_a_configuration_error():
    with pytest.raises(ValueError, match="publish_key"):
        PubNubEmulator(secret_key=SECRET_KEY)
