"""The demo's customers open their sessions with the bot's customer session service.

``errbot-support-demo run`` turns the service on (a random shared secret, a free port on
127.0.0.1, unless ``PUBNUB_SESSION_SECRET`` / ``PUBNUB_SESSION_LISTEN`` say otherwise) and
writes where it is into the data folder, readable by its owner only; ``errbot-support-demo
customer`` reads it there and hands it to the customer client, which then holds nothing but the
token the service granted it; ``errbot-support-demo chat-sdk-customer`` hands it to the Chat SDK
customer (the secret in its environment).
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

from errbot_common.ports import free_port

SESSION_FILE = "customer-sessions.json"
SESSION_PATH = "/pubnub/customer-session"


def turn_on(host: str) -> None:
    """Set what ``config_template.py`` reads to serve customer sessions (kept if already set)."""
    if not os.environ.get("PUBNUB_SESSION_SECRET"):
        os.environ["PUBNUB_SESSION_SECRET"] = secrets.token_hex(16)
    if not os.environ.get("PUBNUB_SESSION_LISTEN"):
        os.environ["PUBNUB_SESSION_LISTEN"] = f"{host}:{free_port(host)}"


def remember(data_dir: Path, pubnub_config: Any) -> None:
    """Write where the service is, if the configuration serves it; remove a stale file if not."""
    path = data_dir / SESSION_FILE
    secret = getattr(pubnub_config, "PUBNUB_SESSION_SECRET", None)
    listen = getattr(pubnub_config, "PUBNUB_SESSION_LISTEN", None)
    if not secret or not listen:
        path.unlink(missing_ok=True)
        return
    data_dir.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        json.dump({"url": f"http://{listen}{SESSION_PATH}", "secret": secret}, file)


def service(data_dir: Path) -> tuple[str, str] | None:
    """The URL and shared secret of the service the running demo serves, if any."""
    try:
        found = json.loads((data_dir / SESSION_FILE).read_text())
    except (OSError, ValueError):
        return None
    return str(found["url"]), str(found["secret"])


def client_options(data_dir: Path) -> list[str]:
    """The customer client's options for the service the running demo serves, if any."""
    found = service(data_dir)
    if found is None:
        return []
    return ["--session-url", found[0], "--session-secret", found[1]]
