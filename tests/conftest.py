"""Fixtures shared by the whole suite.

Everything runs against the installed distribution (``make test`` installs it), so the
tests see exactly what ``pip install`` ships, ``.plug`` files and entry points included.

The local PubNub server and SDK client fixtures (``pubnub_server``, ``pubnub_server_factory``,
``pubnub_client``) come from ``tests/pubnub_fixtures.py``, with the test keyset's keys.
The IRC server and client fixtures (``irc_server``, ``irc_client``) come from
``tests/irc_fixtures.py``: a real ``miniircd`` process on a free port. A real PostgreSQL
server (``postgres_url``, ``postgres_database``) comes from ``tests/postgres_fixtures.py``.
"""

import os
import signal
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytest_plugins = [
    "errbot.backends.test",
    "tests.errbot_pools",
    "tests.pubnub_fixtures",
    "tests.irc_fixtures",
    "tests.postgres_fixtures",
    "tests.browser_fixtures",
    "tests.node_fixtures",
]


def pytest_configure(config: object) -> None:
    """Give the processes the tests start a Ctrl-C that works.

    A shell starts background jobs (``make test &``, ``nohup``, some CI runners) with SIGINT
    ignored, and an ignored signal stays ignored in every child: the bots the tests stop with
    SIGINT would never hear it. A handled signal is reset to its default in a child.
    """
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_sessionstart(session: object) -> None:
    """Refuse to run when build metadata sits in the source root.

    An ``.egg-info`` there (left by a plain ``pip install .``) is taken by Errbot's discovery for
    the installed distribution, so bots would load ``.plug`` files from the source tree instead
    of what ships. ``make install`` removes it.
    """
    stray = sorted(ROOT.glob("*.egg-info"))
    if stray:
        raise RuntimeError(
            f"Remove {', '.join(p.name for p in stray)} from {ROOT} (or run `make install`)."
        )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail a run that skipped anything where every real part must be present (CI sets
    ``SUPPORT_TESTS_REQUIRE_ALL_PARTS=1``): a missing Chromium, Node or PostgreSQL must not
    pass as green."""
    if not os.environ.get("SUPPORT_TESTS_REQUIRE_ALL_PARTS"):
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if skipped:
        reporter.ensure_newline()
        reporter.write_sep(
            "=",
            f"{len(skipped)} tests skipped where every part must be present: "
            + "; ".join(sorted({str(report.longrepr[-1]) for report in skipped})),
            red=True,
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session", autouse=True)
def installed_distribution_first() -> None:
    """Put the source root behind the installed packages on ``sys.path`` (``tests`` stays
    importable), once pytest has set up the ``tests`` package, which puts the root first.

    With the root first, an ``.egg-info`` appearing there while tests run (for the seconds a
    ``make install`` in the same tree takes) is what Errbot's discovery takes for the
    distribution: the root becomes a plugin folder, and the ``.plug`` files below it (the
    sources, ``build/``, virtualenvs) are loaded in place of the installed ones or reported as
    "already loaded".
    """
    sys.path[:] = [entry for entry in sys.path if Path(entry or os.curdir).resolve() != ROOT]
    sys.path.append(str(ROOT))
