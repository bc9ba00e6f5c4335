"""Chat with the support bot as a customer would, from a terminal or a pipe.

    python -m errbot_pubnub.customer_client --origin 127.0.0.1:8090
    printf 'Hello\\n!echo hi\\n' | errbot-pubnub-customer --linger 5

Agent replies and resolution notices go to standard output, one per line; status and errors go
to standard error, so a pipe carries the conversation only.
"""

from __future__ import annotations

import sys
import threading
import time
import uuid
from collections.abc import Iterator
from typing import TextIO

import click

from errbot_common.lines import StoppableLines
from errbot_pubnub.customer_session import CustomerError, CustomerSession, CustomerSettings
from errbot_pubnub.settings import (
    DEFAULT_CHANNEL_GROUP,
    DEFAULT_CONVERTER,
    PubNubConfigurationError,
    invalid_name_reason,
    load_converter,
    parse_origin,
)

EXIT_INTERRUPTED = 130


def _checked_name(kind: str, value: str) -> str:
    reason = invalid_name_reason(value)
    if reason:
        raise click.BadParameter(f"{value!r} is not a valid PubNub {kind} name: {reason}.")
    return value


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--pubnub-user-id",
    "user_id",
    default=None,
    help="PubNub user ID of the customer  [default: random UUID]",
)
@click.option(
    "--pubnub-display-name",
    "display_name",
    default=None,
    help="The customer's name, stored in PubNub App Context for support to show  [default: none]",
)
@click.option(
    "--pubnub-email",
    "email",
    default=None,
    help="The customer's email, stored in PubNub App Context for support to show  [default: none]",
)
@click.option(
    "--pubnub-channel",
    "channel",
    default=None,
    help="PubNub channel for communication with support  [default: <user id>-support]",
)
@click.option(
    "--pubnub-channel-group",
    "channel_group",
    default=DEFAULT_CHANNEL_GROUP,
    show_default=True,
    envvar="PUBNUB_CHANNEL_GROUP",
    help="PubNub channel group to add the channel to (env PUBNUB_CHANNEL_GROUP)",
)
@click.option(
    "--pubnub-message-converter",
    "converter_path",
    default=DEFAULT_CONVERTER,
    show_default=True,
    envvar="PUBNUB_MESSAGE_CONVERTER",
    help="Class converting messages between PubNub JSON and the chat's messages "
    "(env PUBNUB_MESSAGE_CONVERTER)",
)
@click.option(
    "--origin",
    envvar="PUBNUB_ORIGIN",
    default=None,
    help="PubNub host, e.g. 127.0.0.1:8090 for the local server (env PUBNUB_ORIGIN)  "
    "[default: PubNub]",
)
@click.option(
    "--ssl/--no-ssl",
    "ssl",
    default=None,
    help="Use TLS  [default: yes, except for a loopback or http:// origin]",
)
@click.option(
    "--linger",
    type=click.FloatRange(min=0),
    default=None,
    help="Seconds to keep showing replies after the input ends  [default: 3 for a pipe, "
    "0 for a terminal]",
)
@click.option("--publish-key", envvar="PUBNUB_PUBLISH_KEY", required=True, show_envvar=True)
@click.option("--subscribe-key", envvar="PUBNUB_SUBSCRIBE_KEY", required=True, show_envvar=True)
@click.option(
    "--secret-key",
    envvar="PUBNUB_SECRET_KEY",
    default=None,
    show_envvar=True,
    help="Lets the client open its own session as an app server would: its channel in the "
    "group, a token for that channel alone (prefer the environment variable)",
)
@click.option(
    "--token",
    envvar="PUBNUB_TOKEN",
    default=None,
    show_envvar=True,
    help="An Access Manager token for the customer, when there is no secret key",
)
@click.option(
    "--session-url",
    envvar="PUBNUB_SESSION_URL",
    default=None,
    show_envvar=True,
    help="The bot's customer session service, e.g. "
    "http://127.0.0.1:3141/pubnub/customer-session: it registers the channel and grants the token",
)
@click.option(
    "--session-secret",
    envvar="PUBNUB_SESSION_SECRET",
    default=None,
    show_envvar=True,
    help="The secret shared with the session service (prefer the environment variable)",
)
def cli(
    *,
    user_id: str | None,
    display_name: str | None,
    email: str | None,
    channel: str | None,
    channel_group: str,
    converter_path: str,
    origin: str | None,
    ssl: bool | None,
    linger: float | None,
    publish_key: str,
    subscribe_key: str,
    secret_key: str | None,
    token: str | None,
    session_url: str | None,
    session_secret: str | None,
) -> None:
    """Chat with support over PubNub as a customer."""
    user_id = user_id or str(uuid.uuid4())
    channel = _checked_name("channel", channel or f"{user_id}-support")
    channel_group = _checked_name("channel group", channel_group)
    try:
        converter = load_converter(converter_path, "--pubnub-message-converter")
        host, tls = parse_origin(origin, ssl, "--origin")
    except PubNubConfigurationError as error:
        raise click.UsageError(str(error)) from None
    settings = CustomerSettings(
        user_id=user_id,
        channel=channel,
        channel_group=channel_group,
        publish_key=publish_key,
        subscribe_key=subscribe_key,
        secret_key=secret_key or None,
        token=token or None,
        origin=host,
        ssl=tls,
        display_name=(display_name or "").strip() or None,
        email=(email or "").strip() or None,
        session_url=session_url or None,
        session_secret=session_secret or None,
    )
    interactive = sys.stdin.isatty()
    if linger is None:
        linger = 0.0 if interactive else 3.0
    sys.exit(chat(settings, converter, interactive=interactive, linger=linger))


def _lines(stream: TextIO) -> Iterator[str]:
    """The lines of ``stream``, read so that Ctrl-C stops the client at once, whichever of its
    threads the system hands the signal to."""
    try:
        descriptor = stream.fileno()
    except (OSError, ValueError, AttributeError):  # not a file (a test's stand-in)
        yield from stream
        return
    reader = StoppableLines(descriptor, getattr(stream, "encoding", None) or "utf-8")
    while line := reader.readline():
        yield line


def chat(settings: CustomerSettings, converter: object, *, interactive: bool, linger: float) -> int:
    """Run the conversation; the process exit status."""
    output_lock = threading.Lock()

    def show(text: str) -> None:
        with output_lock:
            click.echo(text)
            sys.stdout.flush()

    session = CustomerSession(settings, converter, show)  # type: ignore[arg-type]
    try:
        session.start()
        opened = session.settings  # the session may have chosen the group
        click.echo(
            f"Connected as {opened.user_id!r} in channel {opened.channel!r} "
            f"(group {opened.channel_group!r}). "
            + ("Type a message and press Enter; Ctrl-D to quit." if interactive else ""),
            err=True,
        )
        for line in _lines(sys.stdin):
            text = line.rstrip("\r\n")
            if text.strip():
                try:
                    session.say(text)
                except CustomerError as error:
                    click.echo(f"Error: {error}", err=True)
        if linger:
            time.sleep(linger)  # replies to the last lines may still be on their way
        return 0
    except CustomerError as error:
        click.echo(f"Error: {error}", err=True)
        return 1
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    finally:
        session.stop()


def main() -> None:
    """Console-script entry point (``errbot-pubnub-customer``)."""
    cli()


if __name__ == "__main__":
    main()
