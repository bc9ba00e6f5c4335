"""Bridge settings: each mistake stops start-up with one sentence naming the setting."""

from __future__ import annotations

import logging
import runpy
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from errbot.bootstrap import setup_bot

from errbot_bridge import BridgeConfigurationError
from errbot_bridge.settings import read_settings, split_network
from tests.botrunner import make_config

TWO_NETWORKS = {"tests": {"BACKEND": "Test"}, "console": {"BACKEND": "Text"}}


def one_sentence(raised: pytest.ExceptionInfo[BridgeConfigurationError]) -> str:
    sentence = str(raised.value)
    assert "\n" not in sentence and sentence.endswith("."), sentence
    return sentence


def refusal(tmp_path: Path, **settings: Any) -> str:
    """The sentence the settings check gives (before any backend is built)."""
    settings.setdefault("BOT_ADMINS", ("tests:admin",))
    with pytest.raises(BridgeConfigurationError) as raised:
        read_settings(make_config(tmp_path, **settings))
    return one_sentence(raised)


def refusal_at_start(tmp_path: Path, **settings: Any) -> str:
    """The sentence a bot started the way ``errbot`` starts it stops with."""
    settings.setdefault("BOT_ADMINS", ("tests:admin",))
    config = make_config(tmp_path, **settings)
    with pytest.raises(BridgeConfigurationError) as raised:
        setup_bot("Bridge", logging.getLogger("errbot"), config)
    # A SystemExit: Errbot's bootstrap lets it through, so no traceback is printed.
    assert isinstance(raised.value, SystemExit)
    return one_sentence(raised)


def test_missing_mapping(tmp_path: Path) -> None:
    assert refusal_at_start(tmp_path).startswith("BRIDGE_BACKENDS is missing")


@pytest.mark.parametrize("value", [{}, (), "IRC", 42])
def test_empty_or_wrong_mapping(tmp_path: Path, value: Any) -> None:
    assert "BRIDGE_BACKENDS must be a non-empty mapping" in refusal(tmp_path, BRIDGE_BACKENDS=value)


@pytest.mark.parametrize("name", ["a:b", "two words", "", "agents*"])
def test_network_names_that_cannot_prefix_identifiers(tmp_path: Path, name: str) -> None:
    sentence = refusal(tmp_path, BRIDGE_BACKENDS={name: {"BACKEND": "Test"}})
    assert sentence.startswith("BRIDGE_BACKENDS: the network name")


def test_entry_without_backend(tmp_path: Path) -> None:
    sentence = refusal(tmp_path, BRIDGE_BACKENDS={"tests": {"BOT_IDENTITY": {}}})
    assert sentence.startswith('BRIDGE_BACKENDS["tests"] has no "BACKEND" key')


def test_unknown_backend_lists_the_installed_ones(tmp_path: Path) -> None:
    sentence = refusal_at_start(tmp_path, BRIDGE_BACKENDS={"tests": {"BACKEND": "Ircc"}})
    assert sentence.startswith('BRIDGE_BACKENDS["tests"]["BACKEND"] = "Ircc" names no installed')
    assert "IRC" in sentence and "PubNub" in sentence and "Test" in sentence


def test_a_bridge_cannot_host_a_bridge(tmp_path: Path) -> None:
    sentence = refusal(tmp_path, BRIDGE_BACKENDS={"tests": {"BACKEND": "Bridge"}})
    assert sentence == 'BRIDGE_BACKENDS["tests"]["BACKEND"] cannot be "Bridge" itself.'


def test_commands_switch_must_be_a_boolean(tmp_path: Path) -> None:
    backends = {"tests": {"BACKEND": "Test", "BRIDGE_COMMANDS": "no"}}
    sentence = refusal(tmp_path, BRIDGE_BACKENDS=backends)
    assert sentence.startswith('BRIDGE_BACKENDS["tests"]["BRIDGE_COMMANDS"] must be True or False')


def test_a_backend_refusing_its_settings_is_reported_with_its_network(tmp_path: Path) -> None:
    backends = {"tests": {"BACKEND": "Test"}, "customers": {"BACKEND": "PubNub"}}
    sentence = refusal_at_start(tmp_path, BRIDGE_BACKENDS=backends)
    assert sentence.startswith('BRIDGE_BACKENDS["customers"]: the PubNub backend refused to start')
    assert "BOT_IDENTITY" in sentence


def test_admins_must_name_their_network(tmp_path: Path) -> None:
    sentence = refusal(tmp_path, BRIDGE_BACKENDS=TWO_NETWORKS, BOT_ADMINS=("admin",))
    assert sentence == (
        'BOT_ADMINS entry "admin" names no network: write it as "<network>:admin" with one of '
        "tests, console, so it cannot match a user of another network."
    )


def test_acl_user_patterns_must_name_their_network(tmp_path: Path) -> None:
    acls = {"BridgeRelay:whereami": {"denyusers": ("tests:mallory", "eve")}}
    sentence = refusal(tmp_path, BRIDGE_BACKENDS=TWO_NETWORKS, ACCESS_CONTROLS=acls)
    assert sentence.startswith(
        'ACCESS_CONTROLS["BridgeRelay:whereami"]["denyusers"] pattern "eve" names no network'
    )


def test_acl_patterns_may_say_any_network_explicitly(tmp_path: Path) -> None:
    config = make_config(
        tmp_path,
        BRIDGE_BACKENDS=TWO_NETWORKS,
        BOT_ADMINS=("tests:admin", "console:@boss"),
        ACCESS_CONTROLS={"*": {"allowusers": ("*",), "denyrooms": ("*:#quiet",)}},
    )
    settings = read_settings(config)
    assert settings.names == ("tests", "console")


def test_each_network_gets_a_private_configuration(tmp_path: Path) -> None:
    identity = {"username": "@console-bot"}
    backends = {
        "tests": {"BACKEND": "Test"},
        "console": {"BACKEND": "Text", "BOT_IDENTITY": identity, "CHATROOM_FN": "Console"},
    }
    config = make_config(
        tmp_path,
        BRIDGE_BACKENDS=backends,
        BOT_IDENTITY={"username": "top"},
        BOT_ADMINS=("tests:admin", "console:@boss", "console:@chief"),
        CHATROOM_PRESENCE=("console:#lobby", "#default", ("tests:secret", "pw")),
    )
    bot = setup_bot("Bridge", logging.getLogger("errbot"), config)
    tests, console = (bot.networks[name].settings.config for name in ("tests", "console"))
    # The Test backend rewrites BOT_IDENTITY in its own copy, and only there.
    assert tests.BOT_IDENTITY == {"username": "err"}
    assert console.BOT_IDENTITY == {"username": "@console-bot"}
    assert console.BOT_IDENTITY is not identity
    assert config.BOT_IDENTITY == {"username": "top"}
    assert console.CHATROOM_FN == "Console" and not hasattr(tests, "BRIDGE_BACKENDS")
    assert (tests.BACKEND, console.BACKEND) == ("Test", "Text")
    # Admins and rooms are shared out by network prefix; bare room names go to the first one.
    assert tests.BOT_ADMINS == ("admin",)
    assert console.BOT_ADMINS == ("@boss", "@chief")
    assert console.CHATROOM_PRESENCE == ("#lobby",)
    assert bot.networks["tests"].settings.name == "tests"
    # The Bridge joins rooms itself on every (re)connection; the ChatRoom plugin gets none,
    # and the configuration the bot was given is left as it was.
    assert bot.bot_config.CHATROOM_PRESENCE == ()
    assert config.CHATROOM_PRESENCE == ("console:#lobby", "#default", ("tests:secret", "pw"))
    assert bot.networks["console"].backend.user.person == "boss"


def test_bare_room_names_belong_to_the_first_network(tmp_path: Path) -> None:
    config = make_config(
        tmp_path,
        BRIDGE_BACKENDS=TWO_NETWORKS,
        BOT_ADMINS=("tests:admin",),
        CHATROOM_PRESENCE=("console:#lobby", "#default", ("tests:secret", "pw")),
    )
    tests, console = read_settings(config).networks
    assert tests.config.CHATROOM_PRESENCE == ("#default", ("secret", "pw"))
    assert console.config.CHATROOM_PRESENCE == ("#lobby",)


def test_reconnect_delays_are_checked(tmp_path: Path) -> None:
    sentence = refusal(tmp_path, BRIDGE_BACKENDS=TWO_NETWORKS, BRIDGE_RECONNECT_DELAY=0)
    assert sentence.startswith("BRIDGE_RECONNECT_DELAY must be a positive number of seconds")
    backends = {"tests": {"BACKEND": "Test", "BRIDGE_RECONNECT_MAX_DELAY": 0.5}}
    sentence = refusal(tmp_path, BRIDGE_BACKENDS=backends, BRIDGE_RECONNECT_DELAY=2)
    assert sentence.startswith('BRIDGE_BACKENDS["tests"]: BRIDGE_RECONNECT_MAX_DELAY (0.5)')


def test_only_a_configured_network_counts_as_a_prefix() -> None:
    names = ("agents", "customers")
    assert split_network("agents:#support", names) == ("agents", "#support")
    assert split_network("customers:alice-support/alice", names) == (
        "customers",
        "alice-support/alice",
    )
    # An IRC mask with an IPv6 host, or an unknown prefix, is an unprefixed identifier.
    assert split_network("bob!b@2001:db8::1", names) == (None, "bob!b@2001:db8::1")
    assert split_network("#support", names) == (None, "#support")


TEMPLATE = Path(__file__).resolve().parent.parent / "config_template.py"


def template(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **environment: str) -> Any:
    monkeypatch.setenv("ERRBOT_DATA_DIR", str(tmp_path))
    for name in ("ERRBOT_BACKEND", "BRIDGE_AGENTS_BACKEND", "BRIDGE_ADMINS", "PUBNUB_PUBLISH_KEY"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return SimpleNamespace(**runpy.run_path(str(TEMPLATE), run_name="config"))


def test_config_template_bridges_terminal_agents_and_pubnub_customers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = template(tmp_path, monkeypatch)
    assert config.BACKEND == "Bridge"
    agents, customers = read_settings(config).networks
    assert (agents.name, agents.backend_name) == ("agents", "Text")
    assert (customers.name, customers.backend_name) == ("customers", "PubNub")
    assert agents.commands and not customers.commands
    assert agents.config.BOT_ADMINS == ("@admin",) and customers.config.BOT_ADMINS == ()
    assert customers.config.BOT_IDENTITY["user_id"] == "support"


def test_config_template_puts_agents_on_irc(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = template(
        tmp_path,
        monkeypatch,
        BRIDGE_AGENTS_BACKEND="IRC",
        IRC_SERVER="irc.example.org",
        IRC_PORT="6697",
        BRIDGE_ADMINS="agents:alice!*@trusted.example, agents:bob!*@trusted.example",
    )
    agents = read_settings(config).networks[0]
    assert agents.config.BOT_IDENTITY == {
        "nickname": "support-bot",
        "server": "irc.example.org",
        "port": 6697,
    }
    assert agents.config.BOT_ADMINS == ("alice!*@trusted.example", "bob!*@trusted.example")
    assert agents.config.CHATROOM_PRESENCE == ("#support",)
    with pytest.raises(SystemExit, match="BRIDGE_AGENTS_BACKEND must be one of Text, IRC"):
        template(tmp_path, monkeypatch, BRIDGE_AGENTS_BACKEND="Slack")


def test_two_networks_on_one_backend_keep_their_own_settings(tmp_path: Path) -> None:
    def irc(nickname: str, pattern: str) -> dict[str, Any]:
        identity = {"nickname": nickname, "server": "127.0.0.1", "port": 6667}
        return {"BACKEND": "IRC", "BOT_IDENTITY": identity, "IRC_ACL_PATTERN": pattern}

    config = make_config(
        tmp_path,
        BRIDGE_BACKENDS={"staff": irc("staffbot", "{nick}@{host}"), "ops": irc("opsbot", "{nick}")},
        BOT_ADMINS=("staff:alice@*",),
        CORE_PLUGINS=("ACLs",),
    )
    bot = setup_bot("Bridge", logging.getLogger("errbot"), config)
    staff, ops = bot.networks["staff"], bot.networks["ops"]
    # Errbot loads the backend module once per network, so class-level settings stay apart.
    assert type(staff.backend) is not type(ops.backend)
    assert bot.build_identifier("staff:alice!a@host.example").aclattr == "staff:alice@host.example"
    assert bot.build_identifier("ops:alice!a@host.example").aclattr == "ops:alice"
    assert (str(bot.bot_identifier_on("staff")), str(bot.bot_identifier_on("ops"))) == (
        "staff:staffbot!staffbot@127.0.0.1",
        "ops:opsbot!opsbot@127.0.0.1",
    )
    # Their backend storage does not collide either.
    assert (staff.storage_namespace, ops.storage_namespace) == (
        "irc_backend_staff",
        "irc_backend_ops",
    )
    bot.shutdown()
