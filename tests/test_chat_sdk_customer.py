"""A customer app made with PubNub's Chat SDK, end to end with the bot on ChatSDKMessageConverter.

The customer is ``js/chat-sdk-customer.mjs`` (npm ``@pubnub/chat`` under Node, at the versions
``js/package-lock.json`` pins) as a real process on pipes; it opens its session with the bot's
customer session service (Errbot's own webserver), as a company's app does through its server.
The bot is a real bridged Errbot bot with agents on Errbot's Test backend, customers on the
local PubNub server, with Access Manager on or off. Nothing is mocked.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pubnub.enums import PNStatusCategory
from pubnub.exceptions import PubNubException
from pubnub.models.consumer.v3.channel import Channel
from pubnub.models.consumer.v3.uuid import UUID

from errbot_common.ports import free_port
from errbot_pubnub.sdk import new_client
from tests.botrunner import wait_for
from tests.bridge_fixtures import CORE_PLUGINS
from tests.node_fixtures import JS
from tests.pubnub_fixtures import (
    PUBLISH_KEY,
    SECRET_KEY,
    SUBSCRIBE_KEY,
    PubNubEvents,
    pubnub_config,
    stop_clients,
)
from tests.support_fixtures import AGENT_ROOM, GROUP, bridged_support_bot, customers_network
from tests.test_customer_sessions import SHARED_SECRET, open_session, service_serves

RESOLVED = "We have marked this conversation as resolved."


class Lines:
    """What a pipe carries, read on a thread."""

    def __init__(self, stream) -> None:
        self.text = ""
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream) -> None:
        for line in stream:
            self.text += line

    def shows(self, fragment: str) -> None:
        try:
            wait_for(lambda: fragment in self.text, timeout=30)
        except AssertionError:
            seen = self.text
            raise AssertionError(f"{fragment!r} not in what the customer saw: {seen!r}") from None


@contextmanager
def session_service_bot(tmp_path, server: Any, *, secured: bool) -> Iterator[tuple[Any, str]]:
    """The bot on the Chat SDK's message shape, serving customer sessions; with ``secured``
    it holds the secret key of a server with Access Manager on."""
    customers = customers_network(server)
    if secured:
        customers["BOT_IDENTITY"] = {**customers["BOT_IDENTITY"], "secret_key": SECRET_KEY}
    customers["PUBNUB_MESSAGE_CONVERTER"] = "errbot_pubnub.ChatSDKMessageConverter"
    listen = f"127.0.0.1:{free_port()}"
    url = f"http://{listen}/pubnub/customer-session"
    with bridged_support_bot(
        tmp_path,
        server,
        BRIDGE_BACKENDS={"agents": {"BACKEND": "Test"}, "customers": customers},
        CORE_PLUGINS=(*CORE_PLUGINS, "Webserver"),
        PUBNUB_SESSION_SECRET=SHARED_SECRET,
        PUBNUB_SESSION_LISTEN=listen,
        SUPPORT_RESOLVED_NOTICE=RESOLVED,
    ) as bot:
        wait_for(lambda: service_serves(url), timeout=30)
        yield bot, url


def app_command(server: Any, *options: str) -> list[str]:
    return [
        shutil.which("node"),
        str(JS / "chat-sdk-customer.mjs"),
        f"--origin={server.origin}",
        f"--publish-key={PUBLISH_KEY}",
        f"--subscribe-key={SUBSCRIBE_KEY}",
        *options,
    ]


@contextmanager
def chat_sdk_customer(server: Any, session_url: str, user_id: str, name: str) -> Iterator[Any]:
    """The Chat SDK customer, given what a company's app is given: the keys and where its
    server opens sessions (the shared secret in the environment, never on a command line)."""
    customer = subprocess.Popen(
        app_command(
            server, f"--session-url={session_url}", f"--user-id={user_id}", f"--name={name}"
        ),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PUBNUB_SESSION_SECRET": SHARED_SECRET},
    )
    customer.output, customer.errors = Lines(customer.stdout), Lines(customer.stderr)
    try:
        yield customer
    finally:
        customer.kill()
        customer.wait()


def converse(bot: Any, customer: Any, user_id: str, first_name: str) -> str:
    """The customer writes, an agent claims, replies and resolves; the customer's channel."""
    customer.errors.shows(f"Connected as '{user_id}' in channel '{user_id}-support'")
    customer.stdin.write("Hello from the Chat SDK\n")
    customer.stdin.flush()
    announced = bot.wait_sent(lambda s: s.to == AGENT_ROOM and "Hello from the Chat SDK" in s.body)
    assert f"{first_name} Smith" in announced.body  # its own App Context user: its name
    assert f"customers:{user_id}-support" in announced.body
    number = re.search(r"#(\d+)", announced.body).group(1)
    bot.command("alice", f"!claim {number}")
    bot.say("alice", f"!reply {number} Hi {first_name}, how can I help?")
    customer.output.shows(f"alice: Hi {first_name}, how can I help?")
    bot.command("alice", f"!resolve {number}")
    customer.output.shows(f"resolved: {RESOLVED}")
    return f"{user_id}-support"


def assert_notice_told_apart(server: Any, channel: str) -> None:
    """The notice carries PubNub's customMessageType (what the app shows it by); a reply
    carries only the agent's name."""
    notice = server.history(channel)[-1]
    assert notice.message == {"type": "text", "text": RESOLVED, "kind": "resolved"}
    assert notice.custom_message_type == "support-resolved"
    assert notice.meta == {"kind": "resolved"}
    reply = next(m for m in server.history(channel) if "help?" in str(m.message))
    assert reply.custom_message_type is None and reply.meta == {"author": "alice"}


def test_a_chat_sdk_customer_talks_with_agents_and_tells_the_resolution_apart(
    tmp_path, pubnub_server, node_sdks
):
    """On an open keyset (as ``make demo`` runs): the session service places the channel."""
    with (
        session_service_bot(tmp_path, pubnub_server, secured=False) as (bot, url),
        chat_sdk_customer(pubnub_server, url, "dana", "Dana Smith") as customer,
    ):
        channel = converse(bot, customer, "dana", "Dana")
    assert_notice_told_apart(pubnub_server, channel)
    assert pubnub_server.channels_in_group(GROUP) == ["dana-support"]


def refused(request: Any) -> int | None:
    """The HTTP status PubNub answered a request with, ``None`` when it was allowed."""
    try:
        request.sync()
    except PubNubException as exc:
        return exc.get_status_code()
    return None


def test_under_access_manager_a_chat_sdk_customer_chats_with_its_own_token_alone(
    tmp_path, pubnub_server_factory, node_sdks
):
    secured = pubnub_server_factory(secret_key=SECRET_KEY)
    with session_service_bot(tmp_path, secured, secured=True) as (bot, url):
        assert open_session(url, "erin")[0] == 200  # another customer
        with chat_sdk_customer(secured, url, "dana", "Dana Smith") as customer:
            channel = converse(bot, customer, "dana", "Dana")
        assert_notice_told_apart(secured, channel)

        # Nothing written beyond its own channel and its own user: no membership, no support
        # user's record, no other channel's metadata.
        admin = new_client(pubnub_config(secured, "app-server", secret_key=SECRET_KEY))
        try:
            channels = admin.get_all_channel_metadata().sync().result.data
            assert [c["id"] for c in channels] == ["dana-support"]
            assert admin.get_memberships().uuid("dana").sync().result.data == []
            assert refused(admin.get_uuid_metadata().uuid("support")) == 404
            assert sorted(secured.channels_in_group(GROUP)) == ["dana-support", "erin-support"]
        finally:
            stop_clients([admin])

        # A token the service grants dana: refused on erin's channel and on the group.
        status, dana = open_session(url, "dana")
        assert status == 200 and dana["channel"] == channel
        app = new_client(pubnub_config(secured, "dana"))
        app.set_token(dana["token"])
        events = PubNubEvents()
        app.add_listener(events)
        try:
            assert refused(app.publish().channel("erin-support").message({"text": "x"})) == 403
            assert refused(app.fetch_messages().channels(["erin-support"])) == 403
            assert refused(app.get_channel_metadata().channel("erin-support")) == 403
            assert refused(app.list_channels_in_channel_group().channel_group(GROUP)) == 403
            remove = app.remove_channel_from_channel_group().channels(["erin-support"])
            assert refused(remove.channel_group(GROUP)) == 403
            app.subscribe().channel_groups([GROUP]).execute()
            denied = events.wait_status(PNStatusCategory.PNAccessDeniedCategory)
            assert denied.status_code == 403
        finally:
            stop_clients([app])


def test_without_a_session_or_with_a_refused_one_the_app_says_why_in_one_sentence(
    tmp_path, pubnub_server_factory, node_sdks
):
    secured = pubnub_server_factory(secret_key=SECRET_KEY)
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PUBNUB_")}

    def stopped(*options: str, secret: str | None = None) -> str:
        env = environment if secret is None else {**environment, "PUBNUB_SESSION_SECRET": secret}
        app = subprocess.run(
            app_command(secured, "--user-id=dana", *options),
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )
        assert app.returncode == 1 and app.stdout == "", (app.stdout, app.stderr)
        assert len(app.stderr.strip().splitlines()) == 1, app.stderr
        return app.stderr.strip()

    assert stopped().startswith("No session: give --session-url")
    with session_service_bot(tmp_path, secured, secured=True) as (_, url):
        assert stopped(f"--session-url={url}", secret="not-the-shared-secret") == (
            "The customer session service refused (HTTP 401): "
            "Authorization must be 'Bearer <PUBNUB_SESSION_SECRET>'."
        )
        # A token of the older grants, without GET and UPDATE on the channel's metadata.
        admin = new_client(pubnub_config(secured, "app-server", secret_key=SECRET_KEY))
        try:
            grant = admin.grant_token().ttl(60).authorized_uuid("dana")
            grant = grant.channels([Channel.id("dana-support").read().write()])
            token = grant.uuids([UUID.id("dana").get().update()]).sync().result.token
        finally:
            stop_clients([admin])
        refusal = stopped("--channel=dana-support", f"--token={token}")
        assert refusal.startswith(
            "PubNub refused to open the conversation in 'dana-support' "
            "(HTTP 403 Forbidden on channels dana-support): the token must grant READ, WRITE, "
            "GET and UPDATE on that channel"
        )
