"""A text cut into posts its network takes, without losing a character of it.

Lines are kept whole where they fit. A line too long for one post (or one IRC line) is cut at
a space where there is one, else between two characters (never inside a Markdown escape), and
each piece after the first begins with a mark saying whose continuation it is, e.g.
"**#12** ┆ ", so agents can tell the pieces of a message from the others' messages. A piece of
customer text cut in two stays customer text on both sides: its span
(``errbot_support.literal.span``) is closed at the cut and opened again after the mark.
"""

from __future__ import annotations

from errbot_support.formatting import CONTINUED
from errbot_support.limits import PostLimits
from errbot_support.literal import LINK_START, SPAN_END, SPAN_START

#: Between two messages of a conversation grouped in one post.
GROUP_SEPARATOR = " | "
#: Never cut shorter than this share of a post looking for a space: a long word is cut instead.
WORD_BREAK_SHARE = 0.6


def continuation_mark(number: int | None) -> str:
    """What begins each piece of a message after its first."""
    return f"**#{number}** {CONTINUED} " if number is not None else f"{CONTINUED} "


def split_post(text: str, limits: PostLimits, number: int | None = None) -> list[str]:
    """``text`` as the posts to send, in order: one if it fits; each fits ``limits``."""
    mark = continuation_mark(number)
    lines = [piece for line in text.split("\n") for piece in _line_pieces(line, limits, mark)]
    if limits.per_line:
        return lines or [""]
    posts: list[str] = []
    current: str | None = None
    for line in lines:
        joined = line if current is None else f"{current}\n{line}"
        if current is None or limits.measure(joined) <= limits.size:
            current = joined
            continue
        posts.append(current)
        marked = line if line.startswith(mark) else mark + line
        current = marked if limits.measure(marked) <= limits.size else line
    posts.append(current or "")
    return posts


def _line_pieces(line: str, limits: PostLimits, mark: str) -> list[str]:
    """``line`` as pieces of at most ``limits.size``, all but the first after ``mark``."""
    pieces: list[str] = []
    rest = line
    # Room for a span's end and start, should a cut fall inside customer text.
    spare = limits.measure(SPAN_END + LINK_START)
    budget = max(1, limits.size - spare)
    while limits.measure(rest) > budget:
        cut = _cut(rest, budget, limits)
        piece, rest = rest[:cut].rstrip(" ") or rest[:cut], rest[cut:].lstrip(" ")
        opened = _open_span(piece)
        if opened:  # customer text goes on in the next piece: close it here, reopen there
            piece, rest = piece + SPAN_END, opened + rest
        pieces.append(piece)
        if not pieces[1:]:  # from the second piece on, the mark takes its share
            budget = max(1, limits.size - limits.measure(mark) - spare)
    pieces.append(rest)
    return [pieces[0], *(mark + piece for piece in pieces[1:])]


def _open_span(text: str) -> str:
    """The start of the span ``text`` ends inside of (``SPAN_START`` or ``LINK_START``), or
    ``""`` if every span in it is closed."""
    start = max(text.rfind(SPAN_START), text.rfind(LINK_START))
    if start < 0 or text.rfind(SPAN_END) > start:
        return ""
    return text[start]


def _cut(text: str, budget: int, limits: PostLimits) -> int:
    """Where to cut ``text`` so that its first part fits ``budget``: after the last space
    that leaves a fair piece, else at the last character that fits."""
    low, high = 1, len(text)
    while low < high:  # the longest prefix that fits
        middle = (low + high + 1) // 2
        if limits.measure(text[:middle]) <= budget:
            low = middle
        else:
            high = middle - 1
    fits = low
    space = text.rfind(" ", 0, fits + 1)
    if space > 0 and limits.measure(text[:space]) >= budget * WORD_BREAK_SHARE:
        return space + 1 if text[space] == " " else space
    while fits > 1 and text[fits - 1] == "\\":  # keep an escape with what it escapes
        fits -= 1
    return fits


def grouped(texts: list[str]) -> str:
    """Messages of one conversation as one post: the heading they share ("**#4** **dana**: ")
    said once (only a heading outside customer text: a name may hold ": " too)."""
    head = texts[0][: texts[0].find(": ") + 2] if ": " in texts[0] else ""
    if not head or _open_span(head) or not all(text.startswith(head) for text in texts):
        return GROUP_SEPARATOR.join(texts)
    return head + GROUP_SEPARATOR.join(text[len(head) :] for text in texts)
