"""Settings: every mistake in config.py is one sentence that names the setting."""

from __future__ import annotations

import runpy
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from errbot_pubnub import ChatSDKMessageConverter, DefaultMessageConverter
from errbot_pubnub.settings import PubNubConfigurationError, load_converter, read_settings
from tests.pubnub_converters import ShoutingConverter

TEMPLATE = Path(__file__).resolve().parent.parent / "config_template.py"
KEYS = {"publish_key": "pub-c-1", "subscribe_key": "sub-c-1"}


def config(**settings: Any) -> SimpleNamespace:
    settings.setdefault("BOT_IDENTITY", dict(KEYS))
    return SimpleNamespace(**settings)


def refusal(**settings: Any) -> str:
    with pytest.raises(PubNubConfigurationError) as caught:
        read_settings(config(**settings))
    sentence = str(caught.value)
    assert "\n" not in sentence
    assert sentence.endswith(".")
    assert isinstance(caught.value, SystemExit)
    return sentence


def test_defaults() -> None:
    settings = read_settings(config())
    assert settings.user_id == "support"
    assert settings.channel_groups == ("support",)
    assert isinstance(settings.converter, DefaultMessageConverter)
    assert (settings.origin, settings.ssl) == (None, True)
    assert (settings.secret_key, settings.token) == (None, None)
    assert settings.access == "none (open keyset)"


def test_everything_set() -> None:
    settings = read_settings(
        config(
            BOT_IDENTITY={**KEYS, "secret_key": "sec-c-1", "user_id": "helpdesk", "token": "tok"},
            PUBNUB_CHANNEL_GROUP=["support-eu", "support-us"],
            PUBNUB_MESSAGE_CONVERTER="errbot_pubnub.ChatSDKMessageConverter",
            PUBNUB_ORIGIN="http://127.0.0.1:8090",
            PUBNUB_CHANNEL_WORKERS=2,
        )
    )
    assert settings.user_id == "helpdesk"
    assert settings.channel_groups == ("support-eu", "support-us")
    assert isinstance(settings.converter, ChatSDKMessageConverter)
    assert (settings.origin, settings.ssl) == ("127.0.0.1:8090", False)
    assert settings.access == "secret key"
    assert settings.channel_workers == 2


@pytest.mark.parametrize(
    ("origin", "ssl", "expected"),
    [
        (None, None, (None, True)),
        ("ps.pndsn.com", None, ("ps.pndsn.com", True)),
        ("127.0.0.1:8090", None, ("127.0.0.1:8090", False)),
        ("localhost:8090", None, ("localhost:8090", False)),
        ("127.0.0.1:8443", True, ("127.0.0.1:8443", True)),
        ("https://127.0.0.1:8443/", None, ("127.0.0.1:8443", True)),
        ("http://pubnub.internal:80", None, ("pubnub.internal:80", False)),
        ("pubnub.internal", False, ("pubnub.internal", False)),
    ],
)
def test_tls_follows_the_origin_unless_set(origin: Any, ssl: Any, expected: Any) -> None:
    settings = read_settings(config(PUBNUB_ORIGIN=origin, PUBNUB_SSL=ssl))
    assert (settings.origin, settings.ssl) == expected


def test_comma_separated_groups_from_an_environment_variable() -> None:
    assert read_settings(config(PUBNUB_CHANNEL_GROUP="a, b")).channel_groups == ("a", "b")


def test_a_converter_from_a_test_module() -> None:
    settings = read_settings(
        config(PUBNUB_MESSAGE_CONVERTER="tests.pubnub_converters.ShoutingConverter")
    )
    assert isinstance(settings.converter, ShoutingConverter)
    assert isinstance(
        load_converter("tests.pubnub_converters:ShoutingConverter"), ShoutingConverter
    )


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"BOT_IDENTITY": None}, "BOT_IDENTITY must be a dict"),
        ({"BOT_IDENTITY": {"subscribe_key": "s"}}, "BOT_IDENTITY['publish_key'] is missing"),
        (
            {"BOT_IDENTITY": {"publish_key": "p", "subscribe_key": " "}},
            "BOT_IDENTITY['subscribe_key'] is missing: set it (or the environment variable "
            "PUBNUB_SUBSCRIBE_KEY",
        ),
        ({"BOT_IDENTITY": {**KEYS, "user_id": 7}}, "BOT_IDENTITY['user_id'] must be a string"),
        ({"PUBNUB_CHANNEL_GROUP": ""}, "PUBNUB_CHANNEL_GROUP names no channel group."),
        ({"PUBNUB_CHANNEL_GROUP": 5}, "PUBNUB_CHANNEL_GROUP must be a channel group name"),
        ({"PUBNUB_CHANNEL_GROUP": ["a/b"]}, "PUBNUB_CHANNEL_GROUP entry 'a/b' is not a valid"),
        ({"PUBNUB_CHANNEL_GROUP": ["a", "a"]}, "names the same group twice"),
        (
            {"PUBNUB_CHANNEL_GROUP": [f"g{i}" for i in range(11)]},
            "names 11 groups but PubNub lets one client subscribe to at most 10",
        ),
        ({"PUBNUB_MESSAGE_CONVERTER": ""}, "PUBNUB_MESSAGE_CONVERTER must be the dotted path"),
        ({"PUBNUB_MESSAGE_CONVERTER": "Converter"}, "is not a dotted path"),
        (
            {"PUBNUB_MESSAGE_CONVERTER": "no_such_module.Converter"},
            "PUBNUB_MESSAGE_CONVERTER 'no_such_module.Converter' cannot be imported: "
            "ModuleNotFoundError",
        ),
        (
            {"PUBNUB_MESSAGE_CONVERTER": "errbot_pubnub.NoSuchConverter"},
            "module 'errbot_pubnub' has no 'NoSuchConverter'",
        ),
        (
            {"PUBNUB_MESSAGE_CONVERTER": "tests.pubnub_converters.NotAConverter"},
            "'tests.pubnub_converters.NotAConverter' is not a subclass of "
            "errbot_pubnub.MessageConverter",
        ),
        (
            {"PUBNUB_MESSAGE_CONVERTER": "tests.pubnub_converters.NeedsArguments"},
            "could not be created: TypeError",
        ),
        ({"PUBNUB_ORIGIN": "a host/with path"}, "PUBNUB_ORIGIN must be a host name"),
        ({"PUBNUB_SSL": "yes"}, "PUBNUB_SSL must be True, False or None (automatic)"),
        ({"PUBNUB_CHANNEL_WORKERS": 0}, "PUBNUB_CHANNEL_WORKERS must be a number of at least 1"),
        ({"PUBNUB_WARNING_INTERVAL": -1}, "PUBNUB_WARNING_INTERVAL must be a number"),
    ],
)
def test_each_mistake_is_one_sentence_naming_the_setting(
    settings: dict[str, Any], expected: str
) -> None:
    assert expected in refusal(**settings)


def test_config_template_reads_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ERRBOT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("PUBNUB_PUBLISH_KEY", "pub-c-live")
    monkeypatch.setenv("PUBNUB_SUBSCRIBE_KEY", "sub-c-live")
    monkeypatch.setenv("PUBNUB_SECRET_KEY", "sec-c-live")
    monkeypatch.setenv("PUBNUB_USER_ID", "helpdesk")
    monkeypatch.setenv("PUBNUB_CHANNEL_GROUP", "support-eu,support-us")
    monkeypatch.setenv("PUBNUB_MESSAGE_CONVERTER", "errbot_pubnub.ChatSDKMessageConverter")
    monkeypatch.delenv("PUBNUB_ORIGIN", raising=False)
    settings = read_settings(SimpleNamespace(**runpy.run_path(str(TEMPLATE), run_name="config")))
    assert (settings.publish_key, settings.subscribe_key, settings.secret_key) == (
        "pub-c-live",
        "sub-c-live",
        "sec-c-live",
    )
    assert settings.user_id == "helpdesk"
    assert settings.channel_groups == ("support-eu", "support-us")
    assert isinstance(settings.converter, ChatSDKMessageConverter)
    assert (settings.origin, settings.ssl) == (None, True)  # real keys: PubNub itself


def test_config_template_defaults_to_the_local_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ERRBOT_DATA_DIR", str(tmp_path))
    for name in ("PUBLISH_KEY", "SUBSCRIBE_KEY", "SECRET_KEY", "TOKEN", "ORIGIN", "CHANNEL_GROUP"):
        monkeypatch.delenv(f"PUBNUB_{name}", raising=False)
    settings = read_settings(SimpleNamespace(**runpy.run_path(str(TEMPLATE), run_name="config")))
    assert (settings.origin, settings.ssl) == ("127.0.0.1:8090", False)
    assert settings.channel_groups == ("support",)
    assert settings.access == "none (open keyset)"


def test_sharing_the_groups_needs_the_instances_postgresql_database() -> None:
    assert read_settings(config()).share_groups is False
    url = "postgresql+psycopg://support@db/support"
    shared = read_settings(config(PUBNUB_SHARE_GROUPS=True, PUBNUB_DELIVERY_DB_URL=url))
    assert shared.share_groups is True
    for where in (None, "sqlite:////var/lib/errbot/pubnub.sqlite", "pubnub.sqlite"):
        sentence = refusal(PUBNUB_SHARE_GROUPS=True, PUBNUB_DELIVERY_DB_URL=where)
        assert "PUBNUB_SHARE_GROUPS" in sentence and "PostgreSQL" in sentence
    assert "PUBNUB_SHARE_GROUPS" in refusal(PUBNUB_SHARE_GROUPS="yes", PUBNUB_DELIVERY_DB_URL=url)


def test_shared_groups_may_be_more_than_one_subscriber_holds_alone_not() -> None:
    url = "postgresql+psycopg://support@db/support"
    fifty = [f"support-{n}" for n in range(1, 51)]
    shared = read_settings(
        config(PUBNUB_CHANNEL_GROUP=fifty, PUBNUB_SHARE_GROUPS=True, PUBNUB_DELIVERY_DB_URL=url)
    )
    assert shared.channel_groups == tuple(fifty)
    alone = refusal(PUBNUB_CHANNEL_GROUP=fifty, PUBNUB_DELIVERY_DB_URL=url)
    assert alone == (
        "PUBNUB_CHANNEL_GROUP names 50 groups but PubNub lets one client subscribe to at most "
        "10 (with PUBNUB_SHARE_GROUPS several instances of the bot share more out, at most 10 "
        "each)."
    )
    too_many = [f"g{n}" for n in range(201)]
    assert refusal(
        PUBNUB_CHANNEL_GROUP=too_many, PUBNUB_SHARE_GROUPS=True, PUBNUB_DELIVERY_DB_URL=url
    ) == ("PUBNUB_CHANNEL_GROUP names 201 groups but the instances share out at most 200.")
