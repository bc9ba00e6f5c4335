"""A customer app made with PubNub's Chat SDK, end to end with the bot on ChatSDKMessageConverter.

The customer is ``js/chat-sdk-customer.mjs`` (npm ``@pubnub/chat`` under Node) as a real process
on pipes; the bot is a real bridged Errbot bot with agents on Errbot's Test backend, customers
on the local PubNub server. Nothing is mocked.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import threading

from tests.botrunner import wait_for
from tests.node_fixtures import JS
from tests.pubnub_fixtures import PUBLISH_KEY, SUBSCRIBE_KEY
from tests.support_fixtures import AGENT_ROOM, bridged_support_bot

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


def test_a_chat_sdk_customer_talks_with_agents_and_tells_the_resolution_apart(
    tmp_path, pubnub_server, node_sdks
):
    with bridged_support_bot(
        tmp_path,
        pubnub_server,
        PUBNUB_MESSAGE_CONVERTER="errbot_pubnub.ChatSDKMessageConverter",
        SUPPORT_RESOLVED_NOTICE=RESOLVED,
    ) as bot:
        customer = subprocess.Popen(
            [
                shutil.which("node"),
                str(JS / "chat-sdk-customer.mjs"),
                f"--origin={pubnub_server.origin}",
                f"--publish-key={PUBLISH_KEY}",
                f"--subscribe-key={SUBSCRIBE_KEY}",
                "--user-id=dana",
                "--name=Dana Smith",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        output, errors = Lines(customer.stdout), Lines(customer.stderr)
        try:
            errors.shows("Connected as 'dana'")
            customer.stdin.write("Hello from the Chat SDK\n")
            customer.stdin.flush()
            announced = bot.wait_sent(
                lambda s: s.to == AGENT_ROOM and "Hello from the Chat SDK" in s.body
            )
            assert "Dana Smith" in announced.body
            number = re.search(r"#(\d+)", announced.body).group(1)
            channel = re.search(r"customers:(direct\.[\w.-]+)", announced.body).group(1)

            bot.command("alice", f"!claim {number}")
            bot.say("alice", f"!reply {number} Hi Dana, how can I help?")
            output.shows("alice: Hi Dana, how can I help?")
            bot.command("alice", f"!resolve {number}")
            output.shows(f"resolved: {RESOLVED}")
        finally:
            customer.kill()
            customer.wait()
        notice = pubnub_server.history(channel)[-1]
        assert notice.message == {"type": "text", "text": RESOLVED, "kind": "resolved"}
        assert notice.custom_message_type == "support-resolved"
        assert notice.meta == {"kind": "resolved"}
        reply = next(m for m in pubnub_server.history(channel) if "help?" in str(m.message))
        assert reply.custom_message_type is None and reply.meta == {"author": "alice"}
