"""App Context for users on the local PubNub server, through the official SDK."""

from __future__ import annotations

import json

import pytest
from pubnub.exceptions import PubNubException
from pubnub.models.consumer.v3.uuid import UUID

from tests.pubnub_fixtures import SECRET_KEY


def test_a_users_metadata_is_set_read_and_removed(pubnub_client, pubnub_server):
    app = pubnub_client("app-server")
    app.set_uuid_metadata().uuid("dana").set_name("Dana Smith").email("dana@example.org").custom(
        {"plan": "gold"}
    ).sync()
    app.set_uuid_metadata().uuid("dana").profile_url("https://example.org/dana").sync()

    bot = pubnub_client("support")
    data = bot.get_uuid_metadata(uuid="dana", include_custom=True).sync().result.data
    assert (data["id"], data["name"], data["email"]) == ("dana", "Dana Smith", "dana@example.org")
    assert (data["profileUrl"], data["custom"]) == ("https://example.org/dana", {"plan": "gold"})
    assert "custom" not in bot.get_uuid_metadata().uuid("dana").sync().result.data
    assert pubnub_server.request_count("get_uuid_metadata") == 2

    app.remove_uuid_metadata().uuid("dana").sync()
    with pytest.raises(PubNubException) as missing:
        bot.get_uuid_metadata().uuid("dana").sync()
    assert missing.value.get_status_code() == 404


def test_reading_a_users_metadata_needs_get_on_that_user(pubnub_server_factory, pubnub_client):
    secured = pubnub_server_factory(secret_key=SECRET_KEY)
    admin = pubnub_client("admin", server=secured, secret_key=SECRET_KEY)
    admin.set_uuid_metadata().uuid("dana").set_name("Dana Smith").sync()  # signed: allowed
    token = (
        admin.grant_token()
        .ttl(60)
        .authorized_uuid("support")
        .uuids([UUID.id("dana").get()])
        .sync()
        .result.token
    )
    bot = pubnub_client("support", server=secured)
    bot.set_token(token)
    assert bot.get_uuid_metadata().uuid("dana").sync().result.data["name"] == "Dana Smith"
    with pytest.raises(PubNubException) as refused:
        bot.get_uuid_metadata().uuid("erin").sync()
    assert refused.value.get_status_code() == 403
    assert json.loads(str(refused.value).partition("): ")[2])["payload"] == {"uuids": ["erin"]}
    with pytest.raises(PubNubException) as refused:
        bot.set_uuid_metadata().uuid("dana").set_name("Someone else").sync()
    assert refused.value.get_status_code() == 403
