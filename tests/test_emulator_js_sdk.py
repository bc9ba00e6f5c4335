"""The local PubNub server as browsers and PubNub's JavaScript SDKs use it.

CORS is checked with plain HTTP requests, as a browser sends them; the rest with the official
npm packages ``pubnub`` (12) and ``@pubnub/chat`` under Node (``js/sdk-checks.mjs``), whose
answers are judged here. The chat page's copy of the SDK is checked against the pinned package.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from errbot_pubnub.emulator import filters
from tests.node_fixtures import JS
from tests.pubnub_fixtures import SECRET_KEY, SUBSCRIBE_KEY

ROOT = JS.parent


def sdk_check(node_sdks, check: str, server, *args: str) -> dict[str, Any]:
    done = node_sdks("sdk-checks.mjs", check, server.origin, *args)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def request(url: str, method: str = "GET", headers: dict[str, str] | None = None) -> Any:
    try:
        return urllib.request.urlopen(
            urllib.request.Request(url, method=method, headers=headers or {}), timeout=10
        )
    except urllib.error.HTTPError as error:
        return error


def test_every_answer_lets_any_page_read_it_and_preflights_are_answered(pubnub_server):
    base = pubnub_server.url
    answer = request(f"{base}/time/0", headers={"Origin": "https://shop.example"})
    assert answer.status == 200 and answer.headers["Access-Control-Allow-Origin"] == "*"
    refused = request(f"{base}/v2/objects/sub-c-unknown/channels/x")
    assert refused.status == 400 and refused.headers["Access-Control-Allow-Origin"] == "*"
    unknown = request(f"{base}/v1/no-such-api")
    assert unknown.status == 404 and unknown.headers["Access-Control-Allow-Origin"] == "*"

    preflight = request(
        f"{base}/v2/objects/{SUBSCRIBE_KEY}/uuids/dana",
        method="OPTIONS",
        headers={
            "Origin": "https://shop.example",
            "Access-Control-Request-Method": "PATCH",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert preflight.status == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert "PATCH" in preflight.headers["Access-Control-Allow-Methods"]
    assert preflight.headers["Access-Control-Allow-Headers"] == "content-type"


@pytest.mark.parametrize(
    ("method", "path", "feature"),
    [
        ("POST", "/v1/files/{key}/channels/dana-support/generate-upload-url", "File Sharing"),
        ("GET", "/v1/push/sub-key/{key}/devices/abc", "Mobile Push Notifications"),
        ("GET", "/v2/presence/sub-key/{key}/channel/dana-support/uuid/dana/data", "Presence"),
        ("GET", "/v2/presence/sub-key/{key}/uuid/dana", "Presence where-now"),
        ("DELETE", "/v3/history/sub-key/{key}/channel/dana-support", "Deleting messages"),
    ],
)
def test_what_is_not_served_is_refused_as_on_a_keyset_without_it(
    pubnub_server, method, path, feature
):
    answer = request(pubnub_server.url + path.format(key=SUBSCRIBE_KEY), method=method)
    body = json.loads(answer.read())
    assert answer.status == 400 and body["error"] is True
    assert feature in body["message"] and "not enabled" in body["message"]
    assert answer.headers["Access-Control-Allow-Origin"] == "*"


def test_a_node_backend_signs_its_requests_as_the_javascript_sdk_does(
    node_sdks, pubnub_server_factory
):
    secured = pubnub_server_factory(secret_key=SECRET_KEY)
    result = sdk_check(node_sdks, "signedPostPublish", secured, SECRET_KEY)
    [stored] = result["history"]
    assert stored["message"] == {"text": "signed"} and stored["meta"] == {"author": "ops"}
    assert stored["customMessageType"] == "support-note"
    published = [m for m in secured.published("dana-support") if not m.action]
    assert [m.publisher for m in published] == ["backend", "backend"]
    assert published[1].signal
    assert result["sorted"] == ["erin-support", "dana-support"]
    assert result["actions"] == ["read"]  # added by a signed POST with a body
    assert result["actionsLeft"] == []  # removed by a signed DELETE
    assert result["afterRemovals"] == ["dana-support"]  # another signed DELETE


def test_app_context_channels_and_memberships_from_the_javascript_sdk(node_sdks, pubnub_server):
    result = sdk_check(node_sdks, "appContext", pubnub_server)
    assert result["channel"]["name"] == "Dana's support"
    assert result["channel"]["custom"] == {"plan": "gold"}
    filtered = result["filtered"]
    assert [c["id"] for c in filtered["data"]] == ["dana-support"]
    assert filtered["totalCount"] == 1 and "custom" not in filtered["data"][0]

    memberships = result["memberships"]
    assert memberships["totalCount"] == 1  # the filter kept the support channel only
    [membership] = memberships["data"]
    assert membership["channel"]["name"] == "Dana's support"

    members = result["members"]["data"]
    assert [m["uuid"]["id"] for m in members] == ["dana", "support"]
    assert members[0]["uuid"]["name"] == "Dana Smith"
    assert [m["channel"] for m in result["left"]] == [{"id": "dana-support"}]
    assert result["removed"] == 404  # a removed channel's metadata is gone
    assert result["badFilter"] == 400  # an unreadable filter is refused, not ignored


def test_message_actions_are_added_heard_listed_kept_in_history_and_removed(
    node_sdks, pubnub_server
):
    result = sdk_check(node_sdks, "messageActions", pubnub_server)
    assert result["event"]["event"] == "added" and result["event"]["publisher"] == "dana"
    action = result["event"]["data"]
    assert (action["type"], action["value"], action["uuid"]) == ("reaction", "👍", "dana")
    assert result["twice"] == 409
    assert result["listed"] == [action]
    [message] = result["history"]
    assert message["actions"] == {
        "reaction": {"👍": [{"uuid": "dana", "actionTimetoken": action["actionTimetoken"]}]}
    }
    assert result["after"] == []


def test_the_chat_sdk_runs_a_direct_conversation_with_the_support_user(node_sdks, pubnub_server):
    result = sdk_check(node_sdks, "chatSdk", pubnub_server)
    assert result["found"] == "Support for Dana"
    assert (result["host"], result["invitee"]) == ("dana", "support")
    assert result["live"] == "Hello from the Chat SDK"
    assert result["history"] == ["Hello from the Chat SDK"]
    assert result["reactions"] == ["👍"]
    assert result["memberships"] == [result["channelId"]]
    assert result["joined"] == "lobby"
    typing = [m.message for m in pubnub_server.published(result["channelId"]) if m.signal]
    assert {"type": "typing", "value": True} in typing


@pytest.mark.parametrize(
    ("expression", "kept"),
    [
        ("type == 'support'", ["dana-support", "erin-support"]),
        ('name LIKE "*erin*"', ["erin-support"]),
        ("custom.plan == 'gold' || id == 'news'", ["dana-support", "news"]),
        ("!(type == 'support') && updated > '2000'", ["news"]),
    ],
)
def test_app_context_filters_keep_what_they_say(expression, kept):
    channels = [
        {"id": "dana-support", "name": "Dana", "type": "support", "custom": {"plan": "gold"}},
        {"id": "erin-support", "name": "Erin", "type": "support", "custom": {}},
        {"id": "news", "name": "News", "type": "public", "updated": "2024-05-06"},
    ]
    keep = filters.parse(expression)
    assert [c["id"] for c in channels if keep(c)] == kept


@pytest.mark.parametrize("expression", ["", "name ==", "(id == 'a'", "id = 'a'", "id == 'a' &&"])
def test_an_unreadable_filter_says_so(expression):
    with pytest.raises(filters.FilterError):
        filters.parse(expression)


def test_the_chat_page_ships_the_pinned_javascript_sdk_unmodified_with_its_licence(node_sdks):
    """The page's vendor/ copy is npm's browser build of the version the lock file pins."""
    pinned = json.loads((JS / "package-lock.json").read_text())["packages"]["node_modules/pubnub"]
    vendor = ROOT / "demo" / "web" / "vendor"
    package = JS / "node_modules" / "pubnub"
    shipped = vendor / f"pubnub.{pinned['version']}.min.js"
    assert shipped.read_bytes() == (package / "dist" / "web" / "pubnub.min.js").read_bytes()
    assert (vendor / "pubnub-LICENSE").read_bytes() == (package / "LICENSE").read_bytes()
    page = (vendor.parent / "index.html").read_text()
    assert f'<script src="vendor/{shipped.name}"></script>' in page
