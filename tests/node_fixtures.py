"""PubNub's JavaScript SDKs under Node: ``js/`` holds their pinned versions (package-lock.json).

``node_sdks`` installs them once per session with ``npm ci`` (into ``js/node_modules``, ignored
by git; skipped when the lock file has not changed since; one install at a time, as parallel test
workers share ``js/``) and returns ``run(script, *args)``,
which runs a script of ``js/`` with Node and returns its process. Where Node or npm is missing,
the tests that need them skip, saying so.
"""

from __future__ import annotations

import fcntl
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

JS = Path(__file__).resolve().parent.parent / "js"
INSTALL_TIMEOUT = 300
#: The oldest Node the npm packages run on (pubnub 12 asks for 22; 20 runs it).
MIN_NODE = 20


def _installed() -> bool:
    """Whether ``js/node_modules`` holds what the lock file pins (npm copies it there)."""
    installed = JS / "node_modules" / ".package-lock.json"
    lock = JS / "package-lock.json"
    return installed.exists() and installed.stat().st_mtime >= lock.stat().st_mtime


@pytest.fixture(scope="session")
def node_sdks() -> Callable[..., subprocess.CompletedProcess[str]]:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("Node.js and npm are not installed (Debian: apt-get install nodejs npm)")
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=True)
    major = int(version.stdout.strip().lstrip("v").split(".")[0])
    if major < MIN_NODE:
        pytest.skip(
            f"Node.js {version.stdout.strip()} is too old for PubNub's JavaScript SDK 12 "
            f"(its HTTP client needs Node {MIN_NODE} or newer)"
        )
    with (JS / ".npm-ci.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not _installed():
            subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=JS,
                check=True,
                timeout=INSTALL_TIMEOUT,
            )

    def run(script: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [node, str(JS / script), *args],
            check=False,
            cwd=JS,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    return run
