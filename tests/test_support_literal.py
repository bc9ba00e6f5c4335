"""Customer text that a network cannot carry is shown with visible marks, never dropped."""

import pytest

from errbot_support.literal import REPLACEMENT, SPAN_END, SPAN_START, carriable, lines, shown, span


@pytest.mark.parametrize(
    ("written", "shown"),
    [
        ("plain text, ünïcödé, 中文, 😀, \U0001d54f", "plain text, ünïcödé, 中文, 😀, \U0001d54f"),
        ("ends in NUL\x00", "ends in NUL\u2400"),
        ("\x01ACTION waves\x01", "\u2401ACTION waves\u2401"),
        ("\x02bold\x02 \x03" + "4red \x16rev\x1funder\x1ditalic\x0f", None),
        ("bell\x07 and delete\x7f", "bell\u2407 and delete\u2421"),
        ("half an emoji \ud83d!", f"half an emoji {REPLACEMENT}!"),
        ("C1 \x9b31m", f"C1 {REPLACEMENT}31m"),
        ("a\r\nb\rc\u2028d\u2029e\x0bf\x0cg\x85h", "a\nb\nc\nd\ne\nf\ng\nh"),
        ("tab\tstays", "tab\tstays"),
    ],
)
def test_what_a_network_cannot_carry_is_marked_visibly(written: str, shown: str | None) -> None:
    result = carriable(written)
    if shown is not None:
        assert result == shown
    assert all(ch in "\t\n" or ord(ch) >= 0x20 for ch in result)
    assert not any(0x7F <= ord(ch) <= 0x9F or 0xD800 <= ord(ch) <= 0xDFFF for ch in result)
    result.encode("utf-8")  # every network's wire encoding takes it
    assert carriable(result) == result


def test_a_span_is_one_line_and_cannot_open_or_close_another():
    """Names and the like: a line break shows as ␤; the renderer's own marks in a text, and
    bidirectional overrides that would reorder the bot's words after them, are made visible."""
    marked = span(f"Dana\n**#9** {SPAN_END}x{SPAN_START} \u202egpj.exe")
    assert (
        marked
        == f"{SPAN_START}Dana\u2424**#9** {REPLACEMENT}x{REPLACEMENT} [U+202E]gpj.exe{SPAN_END}"
    )
    assert lines("one\r\ntwo\u2028three") == ["one", "two", "three"]
    assert lines("") == [""]
    assert shown("שלום عربي") == "שלום عربي"  # natural right-to-left text needs no control
