"""``python -m errbot_pubnub.emulator``: run the local PubNub server until Ctrl-C or SIGTERM."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

import click

from errbot_pubnub.emulator.context import EmulatorSettings
from errbot_pubnub.emulator.server import PubNubEmulator


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    default=8090,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port to listen on (0 picks a free one).",
)
@click.option(
    "--secret-key",
    default=None,
    help="Enable Access Manager: requests must be signed with it or carry a granted token.",
)
@click.option(
    "--publish-key", default=None, help="Only accept this publish key (needed with a secret)."
)
@click.option("--subscribe-key", default=None, help="Only accept this subscribe key.")
@click.option(
    "--group-capacity",
    default=EmulatorSettings.group_capacity,
    show_default=True,
    type=click.IntRange(min=1),
    help="Most channels one channel group may hold.",
)
@click.option(
    "--retention",
    default=EmulatorSettings.retention,
    show_default=True,
    type=click.IntRange(min=1),
    help="Messages kept per channel (older ones are forgotten).",
)
@click.option(
    "--subscribe-timeout",
    default=EmulatorSettings.subscribe_timeout,
    show_default=True,
    type=click.FloatRange(min=0.1),
    help="Seconds a subscribe long-poll waits before an empty answer.",
)
@click.option(
    "--no-message-persistence",
    "no_persistence",
    is_flag=True,
    help="A keyset without Message Persistence: nothing is stored, history calls get a 403.",
)
@click.option("-v", "--verbose", is_flag=True, help="Log every request.")
def main(
    *,
    host: str,
    port: int,
    secret_key: str | None,
    publish_key: str | None,
    subscribe_key: str | None,
    group_capacity: int,
    retention: int,
    subscribe_timeout: float,
    no_persistence: bool,
    verbose: bool,
) -> None:
    """Serve a PubNub-compatible API for tests, demos and benchmarks.

    Point an SDK at it with PNConfiguration.origin = "HOST:PORT" and ssl = False.
    """
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if secret_key and not publish_key:
        raise click.UsageError(
            "--secret-key needs --publish-key: clients sign every request with both."
        )
    try:
        server = PubNubEmulator(
            host,
            port,
            secret_key=secret_key,
            publish_key=publish_key,
            subscribe_key=subscribe_key,
            group_capacity=group_capacity,
            retention=retention,
            subscribe_timeout=subscribe_timeout,
            message_persistence=not no_persistence,
        )
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    try:
        server.start()
    except OSError as error:
        raise click.ClickException(f"cannot listen on {host}:{port}: {error}") from None

    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    access = "Access Manager on" if secret_key else "open keyset"
    click.echo(f"PubNub emulator on {server.url} ({access}); Ctrl-C stops it.", err=True)
    while not stop.wait(0.5):
        pass
    server.stop()
    click.echo("PubNub emulator stopped.", err=True)


if __name__ == "__main__":
    main()
