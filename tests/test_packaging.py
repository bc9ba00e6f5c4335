"""What ``pip install`` ships is enough for Errbot to find every backend and plugin."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCE_PLUGS = sorted(
    p.relative_to(ROOT)
    for folder in ("backends", "plugins")
    for p in (ROOT / folder).rglob("*.plug")
)
PACKAGE_OF = {"backends/pubnub": "errbot_pubnub", "backends/bridge": "errbot_bridge"}
PACKAGE_OF["plugins/support"] = "errbot_support"
NOT_SOURCE = (
    ".git",
    ".venv*",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    ".*_cache",
    "node_modules",
)


def _wheel_path(plug: Path) -> str:
    """Where a source ``.plug`` lands inside the wheel (``package_dir`` mapping applied)."""
    for source, package in PACKAGE_OF.items():
        if plug.is_relative_to(source):
            return str(Path(package) / plug.relative_to(source))
    raise AssertionError(f"{plug} is outside every package folder")


def _pip(command: str, *args: str) -> None:
    pip = [sys.executable, "-m", "pip", command, "--quiet", "--no-deps", *args]
    subprocess.run(pip, check=True, capture_output=True)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Built from a copy: setuptools writes an .egg-info next to setup.cfg, and one in the
    # working tree would shadow the installed package for Errbot's discovery.
    source = tmp_path_factory.mktemp("source") / "errbot-pubnub-support"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*NOT_SOURCE))
    out = tmp_path_factory.mktemp("wheel")
    _pip("wheel", "--no-build-isolation", "--wheel-dir", str(out), str(source))
    (built,) = out.glob("errbot_pubnub_support-*.whl")
    return built


def test_every_plug_file_is_in_the_wheel(wheel: Path) -> None:
    assert {"backends/pubnub/pubnub.plug", "backends/bridge/bridge.plug"} <= {
        str(p) for p in SOURCE_PLUGS
    }
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = [str(p) for p in SOURCE_PLUGS if _wheel_path(p) not in names]
    assert not missing, f"not shipped in {wheel.name}: {missing}"


def test_the_customer_chat_page_is_in_the_wheel(wheel: Path) -> None:
    """``make demo`` serves the page from the installed package, PubNub's SDK with its licence."""
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {
        f"errbot_support_demo/web/{name}"
        for name in ("index.html", "chat.js", "chat.css", "vendor/pubnub-LICENSE")
    }
    shipped.add("errbot_support_demo/web/vendor/pubnub.12.0.3.min.js")
    assert shipped <= names, f"not shipped: {sorted(shipped - names)}"


def test_wheel_declares_errbot_entry_points(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        (entry_points,) = [n for n in archive.namelist() if n.endswith("entry_points.txt")]
        text = archive.read(entry_points).decode()
    assert "[errbot.backend_plugins]" in text
    assert "[errbot.plugins]" in text


DISCOVER = textwrap.dedent(
    """
    import json, sys
    from types import SimpleNamespace
    from errbot import BotPlugin
    from errbot.backend_plugin_manager import BackendPluginManager
    from errbot.bootstrap import CORE_BACKENDS
    from errbot.core import ErrBot
    from errbot.plugin_info import PluginInfo
    from errbot.utils import collect_roots, entry_point_plugins

    found = {}
    for name in ("PubNub", "Bridge"):
        manager = BackendPluginManager(
            SimpleNamespace(), "errbot.backends", name, ErrBot, CORE_BACKENDS, []
        )
        info = manager.plugin_info
        found[name] = {
            "location": str(info.location),
            "backends": len(info.load_plugin_classes("errbot.backends", ErrBot)),
            "plugins": len(info.load_plugin_classes("errbot.plugins", BotPlugin)),
        }
    roots = collect_roots([entry_point_plugins("errbot.plugins")])
    plugins = {}
    for root in roots:
        for plug in __import__("pathlib").Path(root).glob("*.plug"):
            info = PluginInfo.load(plug)
            plugins[info.name] = len(info.load_plugin_classes("errbot.plugins", BotPlugin))
    found["plugins"] = plugins
    print(json.dumps(found))
    """
)


def test_errbot_finds_everything_in_a_plain_install(wheel: Path, tmp_path: Path) -> None:
    """Install the wheel (not editable) into a folder of its own and let Errbot look."""
    site = tmp_path / "site"
    _pip("install", "--target", str(site), str(wheel))
    result = subprocess.run(
        [sys.executable, "-c", DISCOVER],
        check=False,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout.strip().splitlines()[-1])
    for backend in ("PubNub", "Bridge"):
        assert found[backend]["location"].startswith(str(site)), found[backend]
        # One backend class for Errbot's backend loader, and one admin companion plugin so
        # that the plugin loader (which scans the same folders) finds a plugin, not an error.
        assert found[backend]["backends"] == 1
        assert found[backend]["plugins"] == 1
    assert found["plugins"] == {"PubNub": 1, "Bridge": 1, "Support": 1, "CustomerSessions": 1}
