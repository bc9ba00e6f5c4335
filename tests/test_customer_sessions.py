"""The customer session service: a company's backend asks the bot (over HTTP, Errbot's own
webserver) for a customer's channel and Access Manager token; the token lets that customer chat
in its own channel and nothing else.

Real parts: the local PubNub server with Access Manager on (signed requests, tokens), a real
bot on the PubNub backend with the ``CustomerSessions`` plugin and Errbot's ``Webserver``, plain
HTTP requests, and customers on the official PubNub SDK holding only the token they were given.
"""

from __future__ import annotations

import json
import logging
import socket
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from errbot.bootstrap import setup_bot
from pubnub.enums import PNStatusCategory
from pubnub.exceptions import PubNubException
from pubnub.models.consumer.objects_v2.channel_members import PNUserMember
from pubnub.models.consumer.objects_v2.memberships import PNChannelMembership
from pubnub.pubnub import PubNub

from errbot_common.ports import free_port
from errbot_pubnub import DefaultMessageConverter
from errbot_pubnub.customer_session import CustomerError, CustomerSession, CustomerSettings
from errbot_pubnub.customer_sessions import CustomerSessions, SessionError, group_names
from errbot_pubnub.sdk import new_client
from errbot_pubnub.settings import channel_group_limit
from errbot_support_demo.page import ServiceSessions
from tests.botrunner import RunningBot, make_config, wait_for
from tests.pubnub_fixtures import (
    PUBLISH_KEY,
    SECRET_KEY,
    SUBSCRIBE_KEY,
    PubNubEvents,
    pubnub_config,
    stop_clients,
    subscribed,
)

SHARED_SECRET = "s3cr3t-shared-with-the-app-server"
CORE_PLUGINS = ("ACLs", "Help", "Utils", "Plugins", "Webserver")


@pytest.fixture
def server(pubnub_server_factory: Any) -> Any:
    return pubnub_server_factory(secret_key=SECRET_KEY)


@contextmanager
def session_bot(data_dir: Path, server: Any, **overrides: Any):
    """A bot on the PubNub backend holding the secret key, serving customer sessions."""
    port = free_port()
    config = make_config(
        data_dir,
        BOT_IDENTITY={
            "publish_key": PUBLISH_KEY,
            "subscribe_key": SUBSCRIBE_KEY,
            "secret_key": SECRET_KEY,
        },
        PUBNUB_ORIGIN=server.origin,
        CORE_PLUGINS=CORE_PLUGINS,
        PUBNUB_SESSION_SECRET=SHARED_SECRET,
        PUBNUB_SESSION_LISTEN=f"127.0.0.1:{port}",
        **overrides,
    )
    running = RunningBot(setup_bot("PubNub", logging.getLogger("errbot"), config))
    url = f"http://127.0.0.1:{port}/pubnub/customer-session"
    running.start(ready=lambda: service_serves(url))
    try:
        yield url
    finally:
        running.stop()


def service_serves(url: str) -> bool:
    """The bot's service answers (401 to a request without the secret), not a 503 while its
    plugin starts."""
    request = urllib.request.Request(url, data=b"{}", method="POST")
    try:
        urllib.request.urlopen(request, timeout=1)
    except urllib.error.HTTPError as refused:
        return refused.code == 401
    except OSError:
        return False
    return True


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def open_session(url: str, user_id: Any, secret: str | None = SHARED_SECRET) -> tuple[int, Any]:
    """What the company's backend does: POST the user id with the shared secret."""
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["Authorization"] = f"Bearer {secret}"
    request = urllib.request.Request(
        url, data=json.dumps({"user_id": user_id}).encode(), headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read())


def customer_app(server: Any, session: dict[str, Any]) -> PubNub:
    """The customer's app: the keys and token from the session, no secret key."""
    assert session["publish_key"] == PUBLISH_KEY
    assert session["subscribe_key"] == SUBSCRIBE_KEY
    client = new_client(pubnub_config(server, session["user_id"]))
    client.set_token(session["token"])
    return client


def refused(request: Any) -> int | None:
    """The HTTP status PubNub answered a request with, ``None`` when it was allowed."""
    try:
        request.sync()
    except PubNubException as exc:
        return exc.get_status_code()
    return None


def listening_refused(server: Any, session: dict[str, Any], **where: list[str]) -> int:
    """The HTTP status of the customer's app subscribing to ``channels`` or ``groups``."""
    app = customer_app(server, session)
    events = PubNubEvents()
    app.add_listener(events)
    try:
        app.subscribe().channels(where.get("channels", [])).channel_groups(
            where.get("groups", [])
        ).execute()
        return events.wait_status(PNStatusCategory.PNAccessDeniedCategory).status_code
    finally:
        stop_clients([app])


def test_a_customer_token_reaches_its_own_channel_and_nothing_else(tmp_path, server):
    with session_bot(tmp_path, server) as url:
        status, dana = open_session(url, "dana")
        assert status == 200
        assert (dana["channel"], dana["channel_group"]) == ("dana-support", "support")
        assert dana["token"] and dana["ttl_minutes"] == 24 * 60
        status, erin = open_session(url, "erin")
        assert (status, erin["channel"]) == (200, "erin-support")

        app = customer_app(server, dana)
        events = subscribed(app, channels=["dana-support"])
        try:
            # Its own channel, and its own profile: yes.
            assert refused(app.publish().channel("dana-support").message({"text": "hi"})) is None
            assert events.next_message().message == {"text": "hi"}
            assert refused(app.fetch_messages().channels(["dana-support"])) is None
            assert refused(app.set_uuid_metadata().uuid("dana").set_name("Dana")) is None
            assert refused(app.get_uuid_metadata().uuid("dana")) is None
            # Another customer's channel and profile, and the groups: no.
            assert refused(app.publish().channel("erin-support").message({"text": "x"})) == 403
            assert refused(app.fetch_messages().channels(["erin-support"])) == 403
            assert refused(app.set_uuid_metadata().uuid("erin").set_name("Mallory")) == 403
            assert refused(app.get_uuid_metadata().uuid("erin")) == 403
            assert refused(app.list_channels_in_channel_group().channel_group("support")) == 403
            remove = app.remove_channel_from_channel_group().channels(["erin-support"])
            assert refused(remove.channel_group("support")) == 403
            add = app.add_channel_to_channel_group().channels(["dana-support"])
            assert refused(add.channel_group("support-2")) == 403
        finally:
            stop_clients([app])
        # Nor can it listen in: on another customer's channel, or on all of them through a group.
        assert listening_refused(server, dana, channels=["erin-support"]) == 403
        assert listening_refused(server, dana, groups=["support"]) == 403

        # The channels are where the bot hears them.
        admin = new_client(pubnub_config(server, "app-server", secret_key=SECRET_KEY))
        try:
            listed = admin.list_channels_in_channel_group().channel_group("support").sync()
            assert sorted(listed.result.channels) == ["dana-support", "erin-support"]
        finally:
            stop_clients([admin])

        # Opening a session again gives a new token for the same channel.
        status, again = open_session(url, "dana")
        assert (status, again["channel_group"], again["channel"]) == (
            200,
            "support",
            "dana-support",
        )


def test_a_customer_token_opens_its_own_chat_in_app_context_and_no_one_elses(tmp_path, server):
    """What an app on PubNub's Chat SDK needs to open its conversation (get and create its
    channel's metadata), on its own channel alone; no membership, member or removal."""
    with session_bot(tmp_path, server) as url:
        _, dana = open_session(url, "dana")
        app = customer_app(server, dana)
        try:
            # Its own channel's App Context metadata, as a Chat SDK app opens its chat: yes.
            named = app.set_channel_metadata().channel("dana-support").set_name("Dana")
            assert refused(named) is None
            assert refused(app.get_channel_metadata().channel("dana-support")) is None
            # Another customer's channel metadata: no.
            assert refused(app.get_channel_metadata().channel("erin-support")) == 403
            renamed = app.set_channel_metadata().channel("erin-support").set_name("Mallory")
            assert refused(renamed) == 403
            # Nor memberships, members or removals, of its own channel or of others.
            joined = app.set_memberships().uuid("dana")
            own = [PNChannelMembership.channel("dana-support")]
            assert refused(joined.channel_memberships(own)) == 403
            others = [PNChannelMembership.channel("erin-support")]
            assert refused(app.set_memberships().uuid("dana").channel_memberships(others)) == 403
            members = app.set_channel_members().channel("dana-support")
            assert refused(members.uuids([PNUserMember("support")])) == 403
            assert refused(app.remove_channel_metadata().channel("dana-support")) == 403
        finally:
            stop_clients([app])


README = Path(__file__).resolve().parent.parent / "README.md"


def troubleshooting() -> str:
    """The README's Troubleshooting section, its lines joined as a reader sees them."""
    text = README.read_text()
    section = text[text.index("\n## Troubleshooting") : text.index("\n## Development")]
    return " ".join(section.split())


def test_only_the_app_server_may_open_sessions_and_bad_input_is_one_sentence(tmp_path, server):
    with session_bot(tmp_path, server) as url:
        unauthorized = open_session(url, "dana", secret=None)
        assert unauthorized == (
            401,
            {"error": "Authorization must be 'Bearer <PUBNUB_SESSION_SECRET>'."},
        )
        assert open_session(url, "dana", secret="guess")[0] == 401
        not_json = open_session(url, 42)
        assert not_json == (
            400,
            {"error": 'The body must be JSON such as {"user_id": "dana"}.'},
        )
        # The README's troubleshooting quotes what the app server gets, word for word.
        for status, answer in (unauthorized, not_json):
            assert f"- {status} `{answer['error']}`" in troubleshooting()
        assert open_session(url, "da,na") == (
            400,
            {
                "error": "The user id 'da,na' cannot be used: it contains the forbidden character "
                "','."
            },
        )


def refusal(url: str, user_id: str) -> tuple[int, str, str | None]:
    """The status, sentence and Retry-After of a refused session (the company's backend)."""
    request = urllib.request.Request(
        url,
        data=json.dumps({"user_id": user_id}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {SHARED_SECRET}"},
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    answer = refused.value
    return answer.code, json.loads(answer.read())["error"], answer.headers["Retry-After"]


def test_a_pubnub_outage_asks_the_app_server_to_retry_a_refusal_for_good_does_not(tmp_path, server):
    with session_bot(tmp_path, server) as url:
        server.faults.fail_next(1, 503, path_prefix="/v3/pam")
        assert refusal(url, "dana") == (
            502,
            "PubNub refused to grant a token to 'dana' (503): Service Unavailable.",
            "5",
        )
        server.faults.fail_next(1, 403, path_prefix="/v3/pam")
        status, sentence, retry_after = refusal(url, "dana")
        assert (status, retry_after) == (502, None)
        assert sentence.startswith("PubNub refused to grant a token to 'dana' (403)")
        status, session = open_session(url, "dana")  # PubNub is back
        assert status == 200 and session["channel"] == "dana-support"


def test_a_full_group_gives_the_next_one_and_the_running_bot_hears_it(tmp_path, server):
    with session_bot(tmp_path, server, PUBNUB_SESSION_GROUP_SIZE=1) as url:
        assert open_session(url, "dana")[1]["channel_group"] == "support"
        status, frank = open_session(url, "frank")
        assert (status, frank["channel_group"]) == (200, "support-2")
        assert _bot_answers(server, frank)
    # A new start follows the groups sessions opened before.
    with session_bot(tmp_path / "again", server, PUBNUB_SESSION_GROUP_SIZE=1):
        assert _bot_answers(server, frank)


def _bot_answers(server: Any, session: dict[str, Any]) -> bool:
    """The customer asks ``!echo`` (a PubNub bot answers customers' commands) until answered."""
    app = customer_app(server, session)
    events = subscribed(app, channels=[session["channel"]])
    try:

        def answered() -> bool:
            app.publish().channel(session["channel"]).message({"text": "!echo here"}).sync()
            try:
                while True:
                    message = events.next_message(timeout=1)
                    if message.publisher == "support":
                        return message.message["text"] == "here"
            except Exception:
                return False

        return bool(wait_for(answered, timeout=30))
    finally:
        stop_clients([app])


def test_when_every_group_is_full_the_service_says_so(server):
    admin = new_client(pubnub_config(server, "app-server", secret_key=SECRET_KEY))
    followed: list[str] = []
    try:
        sessions = CustomerSessions(
            admin,
            channel_groups=("support",),
            can_grant=True,
            group_size=1,
            follow_group=followed.append,
        )
        assert sessions.groups == group_names(("support",))
        assert sessions.groups == ["support", *(f"support-{n}" for n in range(2, 11))]
        grants = [sessions.open(f"user{n}") for n in range(10)]
        assert [g.channel_group for g in grants] == sessions.groups
        assert followed == sessions.groups
        with pytest.raises(SessionError) as full:
            sessions.open("late")
        assert full.value.status == 503
        assert str(full.value).startswith("Every channel group is full (10 groups of 1 channels)")
        assert sessions.open("user3").channel_group == "support-4"  # already placed
    finally:
        stop_clients([admin])


def test_with_shared_groups_the_service_makes_groups_past_ten_as_they_fill(server):
    """With PUBNUB_SHARE_GROUPS the instances share the groups out, 10 each, so the service
    goes on making groups past the 10 one subscriber holds; a service started afresh (another
    instance, a restart) finds every customer where they were put."""
    admin = new_client(pubnub_config(server, "app-server", secret_key=SECRET_KEY))
    followed: list[str] = []
    try:
        limit = channel_group_limit(share_groups=True)
        sessions = CustomerSessions(
            admin,
            channel_groups=("support",),
            can_grant=True,
            group_size=1,
            follow_group=followed.append,
            limit=limit,
        )
        grants = [sessions.open(f"user{n}") for n in range(12)]
        made = ["support", *(f"support-{n}" for n in range(2, 13))]
        assert [g.channel_group for g in grants] == made
        assert followed == made
        assert server.channels_in_group("support-12") == ["user11-support"]

        again = CustomerSessions(
            admin, channel_groups=("support",), can_grant=True, group_size=1, limit=limit
        )
        assert again.groups_in_use() == made
        assert again.open("user11").channel_group == "support-12"  # already placed
        assert again.open("late").channel_group == "support-13"
        assert len(again.groups) == limit == 200
    finally:
        stop_clients([admin])


def _customer(server: Any, user_id: str, shown: list[str], **settings: Any) -> CustomerSession:
    values = {
        "user_id": user_id,
        "channel": f"{user_id}-support",
        "channel_group": "support",
        "publish_key": PUBLISH_KEY,
        "subscribe_key": SUBSCRIBE_KEY,
        "secret_key": None,
        "token": None,
        "origin": server.origin,
        "ssl": False,
        **settings,
    }
    return CustomerSession(CustomerSettings(**values), DefaultMessageConverter(), shown.append)


def test_the_customer_client_opens_its_session_with_the_bots_service(tmp_path, server):
    shown: list[str] = []
    with session_bot(tmp_path, server) as url:
        session = _customer(server, "gil", shown, session_url=url, session_secret=SHARED_SECRET)
        session.start()
        try:
            session.say("Hello from the session")
            assert session.settings.channel_group == "support"
            client = session.pubnub
            assert refused(client.list_channels_in_channel_group().channel_group("support")) == 403
            admin = new_client(pubnub_config(server, "agent", secret_key=SECRET_KEY))
            try:
                admin.publish().channel("gil-support").message(
                    {"kind": "from_agent", "text": "Hi Gil"}
                ).sync()
            finally:
                stop_clients([admin])
            wait_for(lambda: "agent: Hi Gil" in shown)
        finally:
            session.stop()
    said = [m.message["text"] for m in server.published("gil-support") if m.publisher == "gil"]
    assert said == ["Hello from the session"]


def test_with_the_secret_key_the_client_opens_its_session_without_managing_any_group(server):
    shown: list[str] = []
    session = _customer(server, "hal", shown, secret_key=SECRET_KEY, display_name="Hal")
    session.start()
    try:
        client = session.pubnub
        assert client.config.secret_key is None
        assert server.channels_in_group("support") == ["hal-support"]
        for request in (
            client.list_channels_in_channel_group().channel_group("support"),
            client.remove_channel_from_channel_group()
            .channels(["hal-support"])
            .channel_group("support"),
            client.publish().channel("ivy-support").message({"text": "x"}),
        ):
            assert refused(request) == 403
        session.say("hello")
    finally:
        session.stop()


def test_wrong_shared_secret_is_one_sentence_for_the_customer(tmp_path, server):
    with session_bot(tmp_path, server) as url:
        session = _customer(server, "jo", [], session_url=url, session_secret="wrong")
        with pytest.raises(CustomerError) as error:
            session.start()
        session.stop()
    assert str(error.value) == (
        "The customer session service refused (HTTP 401): "
        "Authorization must be 'Bearer <PUBNUB_SESSION_SECRET>'."
    )


@pytest.mark.parametrize(
    ("overrides", "sentence"),
    [
        (
            {"PUBNUB_SESSION_SECRET": "short"},
            "PUBNUB_SESSION_SECRET must be a text of at least 16 characters",
        ),
        (
            {"PUBNUB_SESSION_LISTEN": "localhost"},
            "PUBNUB_SESSION_LISTEN must be 'host:port' for Errbot's webserver",
        ),
        (
            {"PUBNUB_SESSION_GROUP_SIZE": 0},
            "PUBNUB_SESSION_GROUP_SIZE must be a whole number from 1 to 2000, not 0.",
        ),
    ],
)
def test_a_wrong_session_setting_turns_the_service_off_with_one_sentence(
    tmp_path, server, overrides, sentence
):
    config = make_config(
        tmp_path,
        BOT_IDENTITY={
            "publish_key": PUBLISH_KEY,
            "subscribe_key": SUBSCRIBE_KEY,
            "secret_key": SECRET_KEY,
        },
        PUBNUB_ORIGIN=server.origin,
        CORE_PLUGINS=CORE_PLUGINS,
        BOT_ADMINS=("admin-room/admin",),
        **{
            "PUBNUB_SESSION_SECRET": SHARED_SECRET,
            "PUBNUB_SESSION_LISTEN": f"127.0.0.1:{free_port()}",
            **overrides,
        },
    )
    running = RunningBot(setup_bot("PubNub", logging.getLogger("errbot"), config)).start()
    try:
        plugin = running.plugin("CustomerSessions")
        wait_for(lambda: plugin.is_activated)
        assert plugin._problem is not None
        assert plugin._problem.startswith(sentence)
        wait_for(lambda: server.published("admin-room"))
        told = [m.message["text"] for m in server.published("admin-room")]
        assert any(t.startswith(f"The customer session service is off: {sentence}") for t in told)
    finally:
        running.stop()


# Werkzeug ends Errbot's webserver thread with SystemExit when the port is taken: expected here.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_port_another_program_holds_turns_the_service_off_with_one_sentence(tmp_path, server):
    """Errbot's webserver cannot listen there; it only logs that in its own thread, so the
    admins hear it from the service (this reads Errbot's Webserver plugin's thread: the test
    fails if that plugin changes the way it runs)."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = make_config(
            tmp_path,
            BOT_IDENTITY={
                "publish_key": PUBLISH_KEY,
                "subscribe_key": SUBSCRIBE_KEY,
                "secret_key": SECRET_KEY,
            },
            PUBNUB_ORIGIN=server.origin,
            CORE_PLUGINS=CORE_PLUGINS,
            BOT_ADMINS=("admin-room/admin",),
            PUBNUB_SESSION_SECRET=SHARED_SECRET,
            PUBNUB_SESSION_LISTEN=f"127.0.0.1:{port}",
        )
        running = RunningBot(setup_bot("PubNub", logging.getLogger("errbot"), config)).start()
        try:
            wait_for(lambda: server.published("admin-room"))
            told = [m.message["text"] for m in server.published("admin-room")]
            assert told == [
                "The customer session service is off: Errbot's webserver could not listen on "
                f"127.0.0.1:{port} (is another program using that port?): set "
                "PUBNUB_SESSION_LISTEN to a free 'host:port'."
            ]
        finally:
            running.stop()


def test_a_request_before_the_service_starts_is_asked_to_retry_and_the_service_then_serves(
    tmp_path, server, monkeypatch, chat_page_server
):
    """A company's backend keeps asking while the bot restarts: a request that reaches Errbot's
    webserver before the service's plugin has started gets 503 with Retry-After, and the service
    serves once started (Flask takes no new address after its first request; a fresh web app
    here, as in a newly started bot). The demo's page server, a company's backend, passes the
    503 and its Retry-After on to the browser. Reads Errbot's ``plugin_manager.route``: the test
    fails if Errbot stops routing plugins' webhooks that way."""
    import errbot.core_plugins
    import errbot.plugin_manager
    from flask import Flask

    monkeypatch.setattr(errbot.core_plugins, "flask_app", Flask("a-newly-started-bot"))
    port = free_port()
    url = f"http://127.0.0.1:{port}/pubnub/customer-session"
    page = chat_page_server(server, sessions=ServiceSessions(url, SHARED_SECRET))
    early: list[tuple[int, Any, str | None]] = []
    errbot_route = errbot.plugin_manager.route

    def route_after_an_early_request(plugin: Any) -> None:
        if type(plugin).__name__ == "CustomerSessionsWebhook":
            wait_for(lambda: _listening(port))
            for request in (
                urllib.request.Request(url, data=b"{}", method="POST"),
                urllib.request.Request(page.url + "session?user_id=dana"),  # from a browser
            ):
                try:
                    urllib.request.urlopen(request, timeout=10)
                except urllib.error.HTTPError as refused:
                    early.append(
                        (refused.code, json.loads(refused.read()), refused.headers["Retry-After"])
                    )
        errbot_route(plugin)

    monkeypatch.setattr(errbot.plugin_manager, "route", route_after_an_early_request)
    config = make_config(
        tmp_path,
        BOT_IDENTITY={
            "publish_key": PUBLISH_KEY,
            "subscribe_key": SUBSCRIBE_KEY,
            "secret_key": SECRET_KEY,
        },
        PUBNUB_ORIGIN=server.origin,
        CORE_PLUGINS=CORE_PLUGINS,
        PUBNUB_SESSION_SECRET=SHARED_SECRET,
        PUBNUB_SESSION_LISTEN=f"127.0.0.1:{port}",
    )
    running = RunningBot(setup_bot("PubNub", logging.getLogger("errbot"), config))
    running.start(ready=lambda: len(early) == 2)
    try:
        starting = "The customer session service is starting or stopping: try again in a moment."
        assert early == [
            (503, {"error": starting}, "1"),
            (
                503,
                {"error": f"The customer session service is unavailable for now: {starting}"},
                "1",
            ),
        ]
        _, session = wait_for(lambda: (answer := open_session(url, "dana"))[0] == 200 and answer)
        assert session["user_id"] == "dana" and session["token"]
        with urllib.request.urlopen(page.url + "session?user_id=erin", timeout=30) as answer:
            assert json.loads(answer.read())["channel"] == "erin-support"
    finally:
        running.stop()
