"""``errbot-support-demo run`` (``make demo``), ``customer`` and ``chat-sdk-customer``.

``run`` keeps everything in its own process: the local PubNub server on a thread, Errbot in the
main thread, where Ctrl-C reaches it as it does under ``errbot`` itself. A child process could
outlive a killed parent, or get Ctrl-C twice (once from the terminal, once forwarded).
"""

from __future__ import annotations

import io
import logging
import os
import random
import signal
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

import click

from errbot_pubnub.emulator import PubNubEmulator
from errbot_pubnub.settings import PubNubSettings
from errbot_support_demo import chat_sdk_customer as chat_sdk_app
from errbot_support_demo import sessions
from errbot_support_demo.configuration import (
    DemoError,
    agents_on_this_terminal,
    find_config,
    fresh_data_folder,
    load_config,
    point_config_at,
    pubnub_config,
    pubnub_settings,
    uses_pubnub_itself,
)
from errbot_support_demo.page import ChatPage, PageSettings, session_source

LOCAL_HOST = "127.0.0.1"
DEFAULT_PORT = 8090
#: How long the ready notice waits for the bot to subscribe before saying where to look.
READY_PATIENCE = 120.0

config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="The Errbot configuration  [default: ./config.py, else ./config_template.py]",
)
port_option = click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=DEFAULT_PORT,
    show_default=True,
    help="Port of the local PubNub server (run: 0 picks a free one).",
)
page_port_option = click.option(
    "--page-port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Port of the customer chat page  [default: the PubNub server's port + 1; 0 with --port 0]",
)
data_option = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="The bot's data  [default: data/demo, emptied at each start with the local PubNub "
    "server; data/demo-pubnub, kept, with PubNub itself]",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Customer support over PubNub on this machine: a bot, the local PubNub server, a customer."""


@cli.command()
@config_option
@port_option
@page_port_option
@data_option
def run(config_path: Path | None, port: int, page_port: int | None, data_dir: Path | None) -> None:
    """Run the bot: agents in this terminal, customers on the local PubNub server and on
    the customer chat page.

    With PUBNUB_PUBLISH_KEY set, customers are on PubNub itself and no local server starts.
    """
    config_file = find_config(config_path)
    data_dir = _data_dir(data_dir)
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)  # a pipe sees every line as it comes
    server = None if uses_pubnub_itself() else _start_local_server(port)
    previous_sigterm = signal.signal(signal.SIGTERM, _interrupt)
    ready: _ReadyNotice | None = None
    page: ChatPage | None = None
    try:
        if server is not None:  # after the port: a demo already running there keeps its data
            fresh_data_folder(data_dir)
        point_config_at(data_dir, server.origin if server else None)
        sessions.turn_on(LOCAL_HOST)
        config = load_config(config_file)
        settings = pubnub_settings(config)
        sessions.remember(data_dir, pubnub_config(config))
        if server is not None and settings.origin != server.origin:
            raise DemoError(
                f"{config_file.name} sends customers to {settings.origin or 'PubNub'}, not to the "
                f"local PubNub server on {server.origin}: let PUBNUB_ORIGIN come from the "
                "environment, as config_template.py does."
            )
        page = _start_chat_page(settings, config, port if page_port is None else page_port)
        instructions = _instructions(config, settings.origin, server, page)
        click.echo(f"Starting Errbot with {config_file.name}; its log: {_log_file(config)}")
        if server is None:
            click.echo(instructions)
        else:
            ready = _ReadyNotice(server, settings.user_id, settings.channel_groups[0], instructions)
            ready.start()
        _run_errbot(config_file)
    except KeyboardInterrupt:
        pass  # before or after the bot served: nothing more to stop than below
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut teardown
        signal.signal(signal.SIGTERM, previous_sigterm)
        if ready is not None:
            ready.cancel()
        if page is not None:
            page.stop()
        if server is not None:
            server.stop()
        click.echo("The demo has stopped.", err=True)


@cli.command(context_settings={"ignore_unknown_options": True})
@config_option
@port_option
@data_option
@click.option("--name", default=None, help="The customer's PubNub user id  [default: random]")
@click.argument("client_options", nargs=-1, type=click.UNPROCESSED)
def customer(
    config_path: Path | None,
    port: int,
    data_dir: Path | None,
    name: str | None,
    client_options: tuple[str, ...],
) -> None:
    """Chat as a customer, with the keys, server, group and converter of the bot's configuration.

    Other options go to the customer client (python -m errbot_pubnub.customer_client --help).
    """
    config_file = find_config(config_path)
    origin = None
    if not uses_pubnub_itself():
        origin = f"{LOCAL_HOST}:{port}"
        _check_local_server(port)
    point_config_at(_data_dir(data_dir), origin)
    settings = pubnub_settings(load_config(config_file))
    converter = type(settings.converter)
    arguments = [
        "--publish-key",
        settings.publish_key,
        "--subscribe-key",
        settings.subscribe_key,
        "--pubnub-channel-group",
        settings.channel_groups[0],
        "--pubnub-message-converter",
        f"{converter.__module__}.{converter.__qualname__}",
        "--ssl" if settings.ssl else "--no-ssl",
        "--pubnub-user-id",
        name or f"customer-{random.randint(1000, 9999)}",
    ]
    if settings.origin:
        arguments += ["--origin", settings.origin]
    service = sessions.client_options(_data_dir(data_dir))
    if service:  # the running demo's customer session service registers it and grants its token
        arguments += service
    elif settings.secret_key:  # the client opens its session itself, as an app server would
        arguments += ["--secret-key", settings.secret_key]
    from errbot_pubnub.customer_client import cli as customer_client

    customer_client.main(args=[*arguments, *client_options], prog_name="customer")


@cli.command(name="chat-sdk-customer", context_settings={"ignore_unknown_options": True})
@config_option
@port_option
@data_option
@click.argument("app_options", nargs=-1, type=click.UNPROCESSED)
def chat_sdk_customer(
    config_path: Path | None, port: int, data_dir: Path | None, app_options: tuple[str, ...]
) -> None:
    """Chat as a customer from the app made with PubNub's Chat SDK (Node), with the keys and
    server of the bot's configuration and the running demo's customer session service.

    Other options go to the app (--user-id, --name, --email).
    """
    config_file = find_config(config_path)
    origin = None
    if not uses_pubnub_itself():
        origin = f"{LOCAL_HOST}:{port}"
        _check_local_server(port)
    point_config_at(_data_dir(data_dir), origin)
    settings = pubnub_settings(load_config(config_file))
    service = sessions.service(_data_dir(data_dir))
    arguments, environment = chat_sdk_app.command(settings, service, app_options)
    os.execve(arguments[0], arguments, environment)  # Ctrl-C and the exit status are the app's


def main() -> None:
    """Console-script entry point (``errbot-support-demo``)."""
    cli()


def _data_dir(chosen: Path | None) -> Path:
    """The demo's data folder: conversations held on PubNub itself are kept apart from the
    local server's, which the next local demo empties."""
    if chosen is None:
        chosen = Path("data/demo-pubnub" if uses_pubnub_itself() else "data/demo")
    return chosen.resolve()


def _interrupt(signum: int, frame: Any) -> None:
    """SIGTERM outside Errbot's serve loop (start-up, teardown) stops the demo like Ctrl-C."""
    raise KeyboardInterrupt


def _start_local_server(port: int) -> PubNubEmulator:
    server = PubNubEmulator(LOCAL_HOST, port)
    try:
        server.start()
    except OSError as error:
        raise DemoError(
            f"The local PubNub server cannot listen on {LOCAL_HOST}:{port} "
            f"({error.strerror or error}): stop what uses it (another demo?), or pick another "
            f"port: make demo PORT={port + 1}, then make customer PORT={port + 1}."
        ) from None
    click.echo(f"Local PubNub server on {server.origin}.")
    return server


def _start_chat_page(settings: PubNubSettings, config: Any, pubnub_port: int) -> ChatPage:
    """The customer chat page, one port above the PubNub server's (any free one for 0)."""
    port = pubnub_port + 1 if pubnub_port and pubnub_port < 65535 else 0
    source = session_source(pubnub_config(config), settings)
    rating_question = getattr(config, "SUPPORT_RATING_QUESTION", None)
    page_settings = PageSettings.of(settings, rating_question, sessions=source is not None)
    try:
        page = ChatPage(page_settings, source, LOCAL_HOST, port).start()
    except OSError as error:
        if source is not None:
            source.close()
        raise DemoError(
            f"The customer chat page cannot be served on {LOCAL_HOST}:{port} "
            f"({error.strerror or error}): stop what uses it, or pick another port with "
            "--page-port."
        ) from None
    click.echo(f"Customer chat page on {page.url}")
    return page


def _check_local_server(port: int) -> None:
    try:
        socket.create_connection((LOCAL_HOST, port), timeout=5).close()
    except OSError:
        raise DemoError(
            f"Nothing listens on {LOCAL_HOST}:{port}: start the bot and the local PubNub "
            "server first, with make demo in another terminal."
        ) from None


def _run_errbot(config_file: Path) -> None:
    """Errbot's own command line, as ``errbot -c <config>`` runs it."""
    from errbot import cli as errbot_cli
    from errbot.logs import console_hdlr

    console_hdlr.setLevel(logging.WARNING)  # start-up chatter goes to BOT_LOG_FILE only
    saved = sys.argv
    sys.argv = ["errbot", "--config", str(config_file)]
    try:
        errbot_cli.main()
    finally:
        sys.argv = saved


def _log_file(config: Any) -> str:
    log_file = getattr(config, "BOT_LOG_FILE", None)
    if not log_file:
        return "none (BOT_LOG_FILE is not set)"
    try:
        return str(Path(log_file).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(log_file)


def _customer_command(config: Any) -> str:
    """The demo customer that speaks the configured converter's message shape."""
    converter = getattr(config, "PUBNUB_MESSAGE_CONVERTER", "")
    name = converter if isinstance(converter, str) else getattr(converter, "__name__", "")
    if name.rsplit(".", 1)[-1] == "ChatSDKMessageConverter":
        return "make chat-sdk-customer"
    return "make customer"


def _instructions(
    config: Any, origin: str | None, server: PubNubEmulator | None, page: ChatPage
) -> str:
    room = getattr(config, "SUPPORT_AGENT_ROOM", "the agent room")
    where = "here" if agents_on_this_terminal(config) else f"in {room}"
    customer, number = _customer_command(config), "1"
    if server is None:
        state = f"Customers are on {origin or 'PubNub itself'} (PUBNUB_PUBLISH_KEY is set)"
        number = "N"  # earlier conversations are kept: numbers go on from there
    else:
        state = f"The bot is up: customers on the local PubNub server ({server.origin})"
        if server.port != DEFAULT_PORT:
            customer += f" PORT={server.port}"
    return "\n".join(
        (
            f"{state}, agents {where}.",
            f"  1. In a second terminal, run `{customer}` and type a message:",
            f"     it appears {where} as conversation #{number}.",
            f"  2. {where[0].upper()}{where[1:]}, type `!queue`, `!claim {number}`, "
            f"`!reply {number} Hello, how can I help?` and `!resolve {number}`:",
            "     the customer sees your reply, then the resolution notice.",
            f"  Or open {page.url} in a browser and chat there as a customer.",
            "  `!help Support` lists every agent command. Ctrl-C stops the demo.",
        )
    )


class _ReadyNotice(threading.Thread):
    """Prints the instructions once the bot listens to the customers' channel group, so that
    nobody types as a customer before the bot can hear it."""

    def __init__(self, server: PubNubEmulator, user_id: str, group: str, text: str) -> None:
        super().__init__(name="demo-ready-notice", daemon=True)
        self._server, self._user_id, self._group, self._text = server, user_id, group, text
        self._cancelled = threading.Event()

    def cancel(self) -> None:
        self._cancelled.set()
        self.join(timeout=5)

    def run(self) -> None:
        deadline = time.monotonic() + READY_PATIENCE
        while not self._cancelled.is_set():
            try:
                self._server.wait_for_subscriber(self._user_id, group=self._group, timeout=0.5)
            except TimeoutError:
                if time.monotonic() > deadline:
                    click.echo("The bot has not subscribed yet: see its log.", err=True)
                    return
                continue
            except Exception:  # the server is stopping under us
                return
            click.echo(self._text)
            return
