"""What a support command's arguments must look like, and the refusal that says so."""

from __future__ import annotations

from errbot.botplugin import CommandError

from errbot_support.literal import span


def usage_error(prefix: str, usage: str, problem: str | None = None) -> CommandError:
    """The refusal of badly written arguments: the problem, then how the command is written."""
    lead = f"{problem} " if problem else ""
    return CommandError(f"{lead}Usage: `{prefix}{usage}`")


def number_and_text(
    args: str, usage: str, prefix: str, *, then: str | None = None
) -> tuple[int, str]:
    """``N`` or ``#N`` first, then the remaining text if ``then`` asks for it (``then`` is the
    question to ask when it is missing)."""
    parts = (args or "").strip().split(None, 1)
    if not parts:
        raise usage_error(prefix, usage, "Which conversation?")
    number = parts[0].lstrip("#")
    if not number.isdecimal():
        raise usage_error(prefix, usage, f"'{span(parts[0])}' is not a conversation number.")
    text = parts[1].strip() if len(parts) > 1 else ""
    if then and not text:
        raise usage_error(prefix, usage, then)
    if not then and text:
        raise usage_error(prefix, usage, f"Unexpected '{span(text)}'.")
    return int(number), text
