"""What the Bridge must know about particular backends to host them side by side.

Errbot's backends were written to own the process: none has a common way to stop, IRC's
reconnection strategy is one object shared by every IRC connection in the process, and Text
reads the terminal. Each class here handles one such backend; :func:`quirks_for` picks it.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from errbot.utils import rate_limited

from errbot_bridge.errors import NetworkUnavailableError, StopRequested
from errbot_common.lines import StoppableLines

if TYPE_CHECKING:
    from errbot_bridge.network import Network

log = logging.getLogger(__name__)


class Quirks:
    """Defaults for a backend that offers ``stop_serving()`` (or nothing better)."""

    #: When the serve loop ends by itself, stop the whole bot instead of restarting the network.
    ends_bot_when_done = False

    def prepare(self, network: Network) -> None:
        """Adapt a freshly loaded backend before its serve loop first runs."""

    def finish(self, network: Network) -> None:
        """Undo what :meth:`prepare` changed, once the serve loop has ended for good."""

    def stop(self, network: Network) -> bool:
        """Ask the serve loop to end; ``False`` when this backend cannot be stopped."""
        stop_serving = getattr(network.backend, "stop_serving", None)
        if callable(stop_serving):
            stop_serving()
            return True
        log.warning(
            'The "%s" network (%s) has no way to stop its serve loop; it is left running until '
            "the process exits.",
            network.name,
            network.backend_name,
        )
        return False


class TestQuirks(Quirks):
    """Errbot's ``Test`` backend stops on its quit message."""

    def stop(self, network: Network) -> bool:
        module = sys.modules.get(type(network.backend).__module__)
        network.backend.push_message(getattr(module, "QUIT_MESSAGE", "$STOP$"))
        return True


class TextQuirks(Quirks):
    """``Text`` reads the terminal with ``input()`` on its own thread; end of input means "quit".

    A blocked ``input()`` cannot be interrupted. On a terminal that only leaves the thread
    behind at exit; but when standard input is a pipe, the blocked read holds the lock of
    ``sys.stdin`` and the interpreter aborts at exit ("could not acquire lock for
    <_io.BufferedReader name='<stdin>'>"). So, on a pipe, Text's own ``input`` (a name in its
    module only: ``sys.stdin`` stays the process's) reads through a line reader that can be
    stopped.
    """

    ends_bot_when_done = True

    def __init__(self) -> None:
        self._reader: StoppableLines | None = None
        self._namespace: dict[str, Any] | None = None

    def prepare(self, network: Network) -> None:
        stdin = sys.stdin
        try:
            interactive = stdin is None or stdin.isatty()
            descriptor = stdin.fileno() if stdin is not None else -1
        except (OSError, ValueError, AttributeError):  # replaced or closed: leave it alone
            return
        if interactive or descriptor < 0:
            return
        self._reader = StoppableLines(descriptor, getattr(stdin, "encoding", None) or "utf-8")
        # The globals of the module Text's serve loop runs in: its ``input()`` looks there
        # before the builtins.
        self._namespace = type(network.backend).serve_forever.__globals__
        self._namespace["input"] = self._input

    def _input(self, prompt: str = "") -> str:
        """``input()`` on the line reader: end of input (or the stop) raises ``EOFError``."""
        assert self._reader is not None
        sys.stdout.write(prompt)
        sys.stdout.flush()
        line = self._reader.readline()
        if not line:
            raise EOFError
        return line[:-1] if line.endswith("\n") else line

    def stop(self, network: Network) -> bool:
        if self._reader is None:
            log.info(
                'The "%s" network (Text) is waiting for a line on the terminal and cannot be '
                "interrupted; the process exits without waiting for it.",
                network.name,
            )
            return False
        self._reader.stop()  # a later input() of Text's ends too
        return True

    def finish(self, network: Network) -> None:
        if self._namespace is not None and self._namespace.get("input") == self._input:
            del self._namespace["input"]


class IRCQuirks(Quirks):
    """Errbot's ``IRC`` backend runs the ``irc`` library's reactor until an exception ends it.

    Its reconnection strategy is a default argument (one object for every IRC connection in the
    process, waiting at least 60 s), so each IRC network gets its own, driven by the Bridge's
    backoff; the reactor is stopped by raising inside it, as nothing else ends it; and a line it
    cannot write is dropped without a word, so sending is made to raise instead, still pausing
    between lines as Errbot does (``IRC_CHANNEL_RATE``, ``IRC_PRIVATE_RATE``: servers
    disconnect a client that floods them).
    """

    def prepare(self, network: Network) -> None:
        irc = network.backend.conn
        config = network.settings.config
        irc.recon = _irc_reconnect_strategy(network)
        send = _irc_send_or_raise(network)
        irc.send_public_message = _paced(send, getattr(config, "IRC_CHANNEL_RATE", 1))
        irc.send_private_message = _paced(send, getattr(config, "IRC_PRIVATE_RATE", 1))

    def stop(self, network: Network) -> bool:
        reactor = network.backend.conn.reactor

        def end_reactor() -> None:
            raise StopRequested(f'the "{network.name}" network is stopping')

        with reactor.mutex:
            reactor.scheduler.execute_after(0, end_reactor)
        return True


def _paced(send: Callable[[str, str], None], interval: float) -> Callable[[str, str], None]:
    """``send`` with Errbot's pause of ``interval`` seconds between two lines, which the
    threads that send take in turns (Errbot's own limiter lets two of them through at once)."""
    if not interval:
        return send
    limited = rate_limited(interval)(send)
    turn = threading.Lock()

    def paced(target: str, line: str) -> None:
        with turn:
            limited(target, line)

    return paced


def _irc_send_or_raise(network: Network) -> Any:
    """Errbot's IRC backend ignores a connection that is closed or closing when it sends (and
    the ``irc`` library only disconnects on a failed write), so a plugin would believe a lost
    line was sent. A line whose connection was not up from before to after writing it raises
    :class:`~errbot_bridge.errors.NetworkUnavailableError`: the caller keeps its message."""
    from irc.client import ServerNotConnectedError

    def send(target: str, line: str) -> None:
        connection = network.backend.conn.connection
        if connection.is_connected():
            with contextlib.suppress(ServerNotConnectedError):
                connection.privmsg(target, line)
                if connection.is_connected():
                    return
        raise NetworkUnavailableError(network.name, network.backend_name, target)

    return send


def _irc_reconnect_strategy(network: Network) -> Any:
    from irc.bot import ReconnectStrategy

    class BridgeReconnect(ReconnectStrategy):
        """Reconnect one IRC network with the Bridge's backoff, until the network stops."""

        def __init__(self) -> None:
            self.scheduled = False

        def run(self, bot: Any) -> None:
            if self.scheduled or network.stopping:
                return
            self.scheduled = True
            bot.reactor.scheduler.execute_after(
                network.next_reconnect_delay(), lambda: self.check(bot)
            )

        def check(self, bot: Any) -> None:
            self.scheduled = False
            if network.stopping or bot.connection.is_connected():
                return
            log.info('Reconnecting the "%s" network (IRC).', network.name)
            self.run(bot)  # in case this attempt fails without a disconnect event
            bot.jump_server()

    return BridgeReconnect()


_BY_MODE: dict[str, type[Quirks]] = {"irc": IRCQuirks, "test": TestQuirks, "text": TextQuirks}


def quirks_for(backend: Any) -> Quirks:
    """The quirks of ``backend``; a backend with ``stop_serving()`` needs none."""
    if callable(getattr(backend, "stop_serving", None)):
        return Quirks()
    try:
        mode = backend.mode
    except Exception:  # a backend may only know its mode once connected
        mode = None
    return _BY_MODE.get(mode, Quirks)()
