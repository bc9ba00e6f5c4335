"""``errbot-support-demo chat-sdk-customer``: the Chat SDK customer (``js/chat-sdk-customer.mjs``,
under Node) with the keys and server of the bot's configuration, opening its session with the
running demo's customer session service, as a company's app opens it through its own server.

The shared secret travels in the app's environment (``PUBNUB_SESSION_SECRET``), not on its
command line, where other users of the machine could read it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from errbot_pubnub.settings import PubNubSettings
from errbot_support_demo.configuration import DemoError

SCRIPT = Path("js") / "chat-sdk-customer.mjs"


def command(
    settings: PubNubSettings, service: tuple[str, str] | None, app_options: tuple[str, ...]
) -> tuple[list[str], dict[str, str]]:
    """The app's command line and environment; ``DemoError`` when it cannot run."""
    node = shutil.which("node")
    if node is None:
        raise DemoError(
            "The Chat SDK customer runs on Node.js 20 or newer, which is not installed "
            "(Debian: apt-get install nodejs npm)."
        )
    script = Path.cwd() / SCRIPT
    if not script.is_file():
        raise DemoError(f"{SCRIPT} is not in {Path.cwd()}: run it from the project's folder.")
    if service is None:
        raise DemoError(
            "The running demo serves no customer sessions, and the Chat SDK customer never puts "
            "its channel in a channel group itself: set PUBNUB_SESSION_SECRET in your "
            "configuration, as config_template.py does, and restart make demo."
        )
    url, secret = service
    arguments = [
        node,
        str(script),
        "--publish-key",
        settings.publish_key,
        "--subscribe-key",
        settings.subscribe_key,
        "--session-url",
        url,
    ]
    if settings.origin:
        arguments += ["--origin", settings.origin]
    if settings.ssl:
        arguments.append("--ssl")
    return [*arguments, *app_options], {**os.environ, "PUBNUB_SESSION_SECRET": secret}
