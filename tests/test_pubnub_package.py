"""What users import: a light package, stable names, a .plug module loadable both ways."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.resources import files

from errbot import BotPlugin
from errbot.core import ErrBot
from errbot.plugin_info import PluginInfo

import errbot_pubnub


def test_importing_the_package_stays_light() -> None:
    probe = (
        "import json, sys, errbot_pubnub; "
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('pubnub', 'errbot', 'aiohttp', 'httpx'))))"
    )
    loaded = json.loads(subprocess.check_output([sys.executable, "-c", probe], text=True))
    assert loaded == []


def test_the_public_names() -> None:
    for name in errbot_pubnub.__all__:
        assert getattr(errbot_pubnub, name) is not None
    from errbot_pubnub.backend import PubNubBackend
    from errbot_pubnub.outbound import PublishError

    assert errbot_pubnub.PubNubBackend is PubNubBackend
    assert errbot_pubnub.PublishError is PublishError


def test_the_plug_module_offers_one_backend_and_one_plugin() -> None:
    plug = files("errbot_pubnub") / "pubnub.plug"
    info = PluginInfo.load(plug)  # type: ignore[arg-type]
    assert (info.name, info.module) == ("PubNub", "pubnub_backend")
    backends = info.load_plugin_classes("errbot.backends", ErrBot)
    plugins = info.load_plugin_classes("errbot.plugins", BotPlugin)
    assert [cls.__name__ for _, cls in backends] == ["PubNubBackend"]
    assert [cls.__name__ for _, cls in plugins] == ["PubNubAdmin"]
