"""The customer chat page in a real browser (headless Chromium), on PubNub's JavaScript SDK.

The page is served by the demo's own code for a local PubNub server; the bot is a real bridged
Errbot bot with customers on that server and agents on Errbot's Test backend. What is checked
is what the customer sees on the page and what the agents see in their room. Nothing is mocked.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from types import SimpleNamespace
from typing import Any

import pytest

from errbot_common.ports import free_port
from errbot_pubnub.settings import read_settings
from errbot_support.settings import DEFAULT_ACKNOWLEDGEMENT
from errbot_support_demo.page import ServiceSessions, session_source
from tests.botrunner import wait_for
from tests.bridge_fixtures import CORE_PLUGINS
from tests.pubnub_fixtures import PUBLISH_KEY, SECRET_KEY, SUBSCRIBE_KEY
from tests.support_fixtures import AGENT_ROOM, bridged_support_bot, customers_network
from tests.test_customer_sessions import service_serves

playwright_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed")
expect = playwright_api.expect

RATING_QUESTION = "How did we do? Rate us from 1 to 5."
SESSION_SECRET = "shared-with-the-app-server-only"
WAIT_MS = 20_000  # generous: several test runs may share two cores
expect.set_options(timeout=WAIT_MS)  # Playwright's assertions wait 5 s unless told otherwise


def messages(page: Any) -> Any:
    return page.locator("#support-chat-messages li")


def bubble(page: Any, kind: str, text: str) -> Any:
    return page.locator(f"#support-chat-messages li.{kind}", has_text=text)


def write(page: Any, text: str) -> None:
    """Type a message and press Enter, as a customer does."""
    page.get_by_label("Your message").fill(text)
    page.get_by_label("Your message").press("Enter")


def test_a_customer_chats_from_the_page_through_an_outage_to_a_rating(
    tmp_path, pubnub_server, browser, chat_page_server
):
    with bridged_support_bot(
        tmp_path,
        pubnub_server,
        SUPPORT_RATING_QUESTION=RATING_QUESTION,
        PUBNUB_RECONNECT_MAX_DELAY=1,
    ) as bot:
        served = chat_page_server(pubnub_server, ratingQuestion=RATING_QUESTION)
        context = browser.new_context(viewport={"width": 390, "height": 800})  # a phone
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        page.goto(served.url)
        expect(page.get_by_role("status").first).to_have_text("Connected")

        # Name and email go to App Context before the first message: agents see them.
        page.get_by_text("Your name and email (optional)").click()
        page.get_by_label("Name").fill("Dana Smith")
        page.get_by_label("Email").fill("dana@example.com")
        write(page, "Hello, my parcel <b>has not</b> arrived")
        expect(bubble(page, "from-customer", "my parcel <b>has not</b> arrived")).to_be_visible()
        announced = bot.wait_sent(lambda s: s.to == AGENT_ROOM and "my parcel" in s.body)
        assert "Dana Smith" in announced.body and "dana@example.com" in announced.body
        number = re.search(r"#(\d+)", announced.body).group(1)

        channel = announced_channel(announced.body)
        # A message from support clears "Support is typing…": the acknowledgement is shown
        # first, so that the signal below is the latest word from support.
        expect(bubble(page, "from-agent", DEFAULT_ACKNOWLEDGEMENT)).to_be_visible()
        typing = {"type": "typing", "value": True}  # as the Chat SDK sends it
        assert typing in [m.message for m in pubnub_server.published(channel) if m.signal]
        # No agents' network of Errbot reports typing; a support side that can, signals it so:
        pubnub_server.publish(channel, typing, publisher="support", signal=True)
        expect(page.get_by_text("Support is typing…")).to_be_visible()

        bot.command("alice", f"!claim {number}")
        bot.say("alice", f"!reply {number} Sorry about that! What is your order number?")
        reply = bubble(page, "from-agent", "What is your order number?")
        expect(reply.locator(".author")).to_have_text("alice")
        expect(page.get_by_text("Support is typing…")).to_be_hidden()  # the reply came
        fits_the_phone(page)

        page.reload()  # the history comes back, the same customer goes on
        expect(bubble(page, "from-customer", "my parcel")).to_be_visible()
        expect(bubble(page, "from-agent", "What is your order number?")).to_be_visible()
        expect(messages(page)).to_have_count(3)  # with the acknowledgement, nothing twice

        # The server goes away: the page says so, keeps what the customer writes, and once
        # the server is back sends it and shows what the agent wrote meanwhile.
        pubnub_server.go_down()
        expect(page.locator("#support-chat-connection")).to_contain_text("Reconnecting")
        write(page, "It is 4411")
        expect(bubble(page, "from-customer", "It is 4411").locator(".state")).to_be_visible()
        bot.say("alice", f"!reply {number} Found it!")  # the bot retries its publish
        pubnub_server.come_back()
        expect(page.locator("#support-chat-connection")).to_have_text("Connected")
        expect(bubble(page, "from-agent", "Found it!")).to_be_visible()
        expect(bubble(page, "from-customer", "It is 4411").locator(".state")).to_have_count(0)
        bot.wait_sent(lambda s: s.to == AGENT_ROOM and "It is 4411" in s.body)
        sent = [m.message["text"] for m in pubnub_server.history(channel)]
        assert sent.count("It is 4411") == 1

        resolves_and_is_rated(page, bot, number)
        context.close()


def resolves_and_is_rated(page: Any, bot: Any, number: str) -> None:
    """Resolved: the notice, then the rating question as five buttons, answered once."""
    bot.command("alice", f"!resolve {number}")
    expect(page.locator("li.notice")).to_contain_text("Conversation resolved")
    rating = page.get_by_role("group", name=RATING_QUESTION)
    expect(rating.get_by_role("button")).to_have_count(5)
    # Asked once: in the conversation, with the buttons below it (named by it, not repeating it).
    expect(page.get_by_text(RATING_QUESTION, exact=True).filter(visible=True)).to_have_count(1)
    rating.get_by_role("button", name="4 out of 5").focus()
    page.keyboard.press("Enter")  # the keyboard alone rates
    bot.wait_sent(
        lambda s: s.to == AGENT_ROOM and "rated the conversation 4/5" in s.body.replace("*", "")
    )
    expect(rating).to_be_hidden()
    page.reload()
    answers = page.locator("#support-chat-messages li.from-customer .text")
    expect(answers.get_by_text("4", exact=True)).to_be_visible()
    expect(rating).to_be_hidden()  # rated already: not asked again


def fits_the_phone(page: Any) -> None:
    """Nothing is wider than the phone's screen: no sideways scrolling, the composer in view."""
    width = page.viewport_size["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    for control in (page.get_by_label("Your message"), page.get_by_role("button", name="Send")):
        box = control.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width


def announced_channel(announcement: str) -> str:
    """The customer's channel, as the agent room's announcement names it."""
    return re.search(r"customers:([\w.-]+-support)", announcement).group(1)


def test_with_access_manager_the_page_chats_in_the_session_the_bots_service_opens(
    tmp_path, pubnub_server_factory, browser, chat_page_server
):
    """The page's server plays the company's app server: it asks the bot's customer session
    service for the customer's channel and token, and the browser holds nothing more."""
    secured = pubnub_server_factory(secret_key=SECRET_KEY)
    customers = customers_network(secured)
    customers["BOT_IDENTITY"] = {**customers["BOT_IDENTITY"], "secret_key": SECRET_KEY}
    listen = f"127.0.0.1:{free_port()}"
    with bridged_support_bot(
        tmp_path,
        secured,
        BRIDGE_BACKENDS={"agents": {"BACKEND": "Test"}, "customers": customers},
        CORE_PLUGINS=(*CORE_PLUGINS, "Webserver"),
        PUBNUB_SESSION_SECRET=SESSION_SECRET,
        PUBNUB_SESSION_LISTEN=listen,
        PUBNUB_CUSTOMER_CHANNEL="web-{user_id}",
    ) as bot:
        service = ServiceSessions(f"http://{listen}/pubnub/customer-session", SESSION_SECRET)
        wait_for(lambda: service_serves(service.url), timeout=30)
        served = chat_page_server(secured, sessions=service)
        with urllib.request.urlopen(served.url + "config.js", timeout=10) as settings:
            script = settings.read().decode()
        assert SECRET_KEY not in script and SESSION_SECRET not in script  # never in a browser
        page = browser.new_page()
        page.set_default_timeout(WAIT_MS)
        page.goto(served.url)
        expect(page.locator("#support-chat-connection")).to_have_text("Connected")
        page.get_by_text("Your name and email (optional)").click()
        page.get_by_label("Name").fill("Erin Smith")
        write(page, "Hello with a token")
        announced = bot.wait_sent(lambda s: s.to == AGENT_ROOM and "with a token" in s.body)
        assert "Erin Smith" in announced.body  # the token lets the page set its own name
        assert "customers:web-customer-" in announced.body  # the channel the service chose
        number = re.search(r"#(\d+)", announced.body).group(1)
        bot.command("alice", f"!claim {number}")
        bot.say("alice", f"!reply {number} Your token works.")
        expect(bubble(page, "from-agent", "Your token works.")).to_be_visible()
        expect(page.locator("#support-chat-connection")).to_have_text("Connected")
        page.close()


def test_the_page_speaks_the_chat_sdk_shape_with_a_bot_on_the_chat_sdk_converter(
    tmp_path, pubnub_server, browser, chat_page_server
):
    with bridged_support_bot(
        tmp_path, pubnub_server, PUBNUB_MESSAGE_CONVERTER="errbot_pubnub.ChatSDKMessageConverter"
    ) as bot:
        served = chat_page_server(pubnub_server, messageFormat="chat-sdk")
        page = browser.new_page()
        page.set_default_timeout(WAIT_MS)
        pubnub_server.go_down()  # PubNub away from the start: the page waits for it
        page.goto(served.url)
        expect(page.locator("#support-chat-connection")).to_contain_text("Reconnecting")
        pubnub_server.come_back()
        expect(page.locator("#support-chat-connection")).to_have_text("Connected")
        write(page, "Hello in the Chat SDK shape")
        announced = bot.wait_sent(lambda s: s.to == AGENT_ROOM and "Chat SDK shape" in s.body)
        number = re.search(r"#(\d+)", announced.body).group(1)
        channel = announced_channel(announced.body)
        [sent] = [m.message for m in pubnub_server.history(channel) if m.publisher != "support"]
        assert sent == {"type": "text", "text": "Hello in the Chat SDK shape", "files": []}
        bot.command("alice", f"!claim {number}")
        bot.say("alice", f"!reply {number} Hello from alice")
        expect(bubble(page, "from-agent", "Hello from alice").locator(".author")).to_have_text(
            "alice"
        )
        bot.command("alice", f"!resolve {number}")
        expect(page.locator("li.notice")).to_contain_text("Conversation resolved")

        pubnub_server.faults.fail_next(1, 403, operation="publish")  # refused for good
        write(page, "Refused")
        refused = bubble(page, "from-customer", "Refused").locator(".state")
        expect(refused).to_have_text("Not sent: PubNub refused it (HTTP 403)")
        write(page, "Sent after a refusal")  # the refusal holds nothing up
        bot.wait_sent(lambda s: s.to == AGENT_ROOM and "Sent after a refusal" in s.body)
        expect(page.locator("#support-chat-connection")).to_have_text("Connected")
        page.close()


def test_without_the_service_the_page_server_opens_sessions_with_the_secret_key(
    pubnub_server_factory, pubnub_client, chat_page_server
):
    """A configuration that serves no sessions: the page's server opens them itself."""
    secured = pubnub_server_factory(secret_key=SECRET_KEY)
    settings = read_settings(
        SimpleNamespace(
            BOT_IDENTITY={
                "publish_key": PUBLISH_KEY,
                "subscribe_key": SUBSCRIBE_KEY,
                "secret_key": SECRET_KEY,
            },
            PUBNUB_CHANNEL_GROUP="support",
            PUBNUB_ORIGIN=secured.origin,
        )
    )
    sessions = session_source(SimpleNamespace(), settings)
    served = chat_page_server(secured, sessions=sessions)
    with urllib.request.urlopen(served.url + "session?user_id=dana", timeout=30) as answer:
        session = json.loads(answer.read())
    assert (session["channel"], session["channel_group"]) == ("dana-support", "support")
    assert secured.channels_in_group("support") == ["dana-support"]
    token = pubnub_client("reader", server=secured).parse_token(session["token"])
    assert token["authorized_uuid"] == "dana"  # for dana alone, managing no group
    assert set(token["resources"]["channels"]) == {"dana-support"}
    assert token["resources"]["groups"] == {}
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(served.url + "session?user_id=", timeout=30)
    assert refused.value.code == 400
