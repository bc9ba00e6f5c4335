"""What agents read in their room: announcements, relays, lists, transcripts, stats.

Light Markdown only (bold, code): Errbot renders it for each chat network, and it stays
readable where nothing is rendered (IRC, a terminal). Everything a customer (or an agent)
wrote is a :func:`~errbot_support.literal.span`, escaped for the network where it is posted
(:mod:`errbot_support.rendering`), never Markdown of its own. One line of the output is one
line on every network; a message of several lines keeps, on each of them, the conversation's
number and its author, so that no line anybody writes can pass for another conversation's or
the bot's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from errbot_support.desk import TranscriptPage
from errbot_support.figures import Durations, Ratings, Stats
from errbot_support.literal import lines, link, span
from errbot_support.records import Conversation, Delivery, Entry, Kind, Pending, State

DELAY_WORTH_SAYING = timedelta(minutes=1)
SNIPPET = 60
#: Starts each further line of a message, after its number and author.
CONTINUED = "\u2506"  # ┆
#: The link schemes shown as links; an attachment's other addresses are shown as text.
WEB_SCHEMES = ("http://", "https://")


def duration(span: timedelta) -> str:
    """A short human duration: 45s, 12m, 3h 05m, 2d 4h."""
    seconds = max(0, int(span.total_seconds()))
    if seconds < 60:
        return f"{seconds}s"
    minutes, _ = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h"


def said(first: str, more: str, text: str, after: str = "") -> list[str]:
    """``text`` as lines: the first after ``first``, each further one after ``more`` and
    ``CONTINUED``; ``after`` ends the last one (the bot's own words)."""
    written = lines(text)
    shown = [f"{first}{span(written[0])}"]
    shown += [
        f"{more} {CONTINUED} {span(line)}" if line else f"{more} {CONTINUED}"
        for line in written[1:]
    ]
    shown[-1] += after
    return shown


def attachment(item: dict) -> str:
    """An attachment as one line: its name and type, its address a link only if it is one
    to the web."""
    name, kind = item.get("name") or "file", item.get("type") or "unknown type"
    url = str(item.get("url") or "")
    if not url:
        where = "no link"
    elif url.casefold().startswith(WEB_SCHEMES):
        where = link(url)
    else:
        where = f"{span(url)} (not a web link, shown as text)"
    return f"[attachment] {span(str(name))} ({span(str(kind))}): {where}"


def _attachments(entry: Entry, more: str) -> list[str]:
    return [f"{more} {CONTINUED} {attachment(a)}" for a in entry.attachments]


def _delay(entry: Entry, now: datetime) -> str:
    late = now - entry.created_at
    return f" _(written {duration(late)} ago)_" if late >= DELAY_WORTH_SAYING else ""


DETAIL_LABELS = {"email": "email", "external_id": "customer id", "profile_url": "profile"}


def details(conversation: Conversation) -> str:
    """What the customer's network said of them: "email dana@example.com, customer id 4411"."""
    return ", ".join(
        f"{DETAIL_LABELS.get(key, key)} {span(value)}"
        for key, value in conversation.customer_details.items()
    )


def where(conversation: Conversation) -> str:
    """The customer's chat, and their details if known: "(dana-chat; email dana@...)"."""
    about = details(conversation)
    return f"({span(conversation.customer_room)}{'; ' + about if about else ''})"


def name(text: str | None) -> str:
    """A person's name as the network gave it, on one line."""
    return span(text or "")


def relay(pending: Pending, prefix: str, now: datetime) -> str:
    """A customer message for the agent room; the first one announces the conversation."""
    entry, conversation = pending.entry, pending.conversation
    n, who = conversation.number, name(conversation.customer_name)
    more = f"**#{n}** {who}"
    if entry.kind is Kind.RATING:
        return (
            f"**#{n}** ({_state(conversation)}) **{who}** rated the "
            f"conversation **{conversation.rating}**/5{_delay(entry, now)}"
        )
    if entry.opens_conversation:
        return "\n".join(
            [
                f"**#{n}** New conversation with **{who}** {where(conversation)}"
                f"{_delay(entry, now)}:",
                *said(f"**#{n}** **{who}**: ", more, entry.body),
                *_attachments(entry, more),
                f"Type `{prefix}claim {n}` to take it.",
            ]
        )
    owner = f" ({name(conversation.agent_name)})" if conversation.state is State.ASSIGNED else ""
    return "\n".join(
        [
            *said(f"**#{n}**{owner} **{who}**{_delay(entry, now)}: ", more, entry.body),
            *_attachments(entry, more),
        ]
    )


def reminder(conversation: Conversation, waited: timedelta, prefix: str) -> str:
    """A customer who has waited too long, pointed out in their agent room."""
    n, who = conversation.number, name(conversation.customer_name)
    if conversation.state is State.ASSIGNED:
        return (
            f"**#{n}** ({name(conversation.agent_name)}) **{who}** has waited "
            f"{duration(waited)} for an answer: `{prefix}reply {n} ...`"
        )
    return f"**#{n}** **{who}** has waited {duration(waited)} for an agent: `{prefix}claim {n}`"


def undelivered(conversation: Conversation, entry: Entry, reason: str, prefix: str) -> str:
    """A reply or automatic text that did not reach the customer, for the agent room."""
    n = conversation.number
    what = (
        f"the reply by {name(entry.author_name)}"
        if entry.kind is Kind.REPLY
        else f"the automatic {entry.notice or 'message'}"
    )
    shown = [
        f"**#{n}** NOT DELIVERED: {what} did not reach "
        f"{name(conversation.customer_name)} ({span(reason)}):",
        *said(f"**#{n}** {CONTINUED} ", f"**#{n}**", entry.body),
    ]
    if entry.kind is Kind.REPLY:
        shown.append(f"Send it again with `{prefix}reply {n} ...`")
    return "\n".join(shown)


def agent_said(number: int, first: str, author: str | None, text: str) -> str:
    """What an agent wrote (a reply, a note) as the agent room is told of it: ``first`` is
    the bot's own words after the number, e.g. "[note] "."""
    return "\n".join(said(f"**#{number}** {first}", f"**#{number}** {name(author)}", text))


def conversation_line(conversation: Conversation, now: datetime, room: str | None = None) -> str:
    who = name(conversation.agent_name) if conversation.state is State.ASSIGNED else "waiting"
    tags = f" [{span(', '.join(conversation.tags))}]" if conversation.tags else ""
    where = f" in {room}" if room else ""
    return (
        f"**#{conversation.number}** {who}{where}, {duration(now - conversation.opened_at)}: "
        f"{name(conversation.customer_name)} ({span(conversation.customer_room)}){tags}"
    )


def queue(
    conversations: list[Conversation],
    prefix: str,
    now: datetime,
    *,
    where: str | None = None,
    more: str | None = None,
    room_of: Callable[[Conversation], str] | None = None,
) -> str:
    """Open conversations (those ``where`` says, e.g. of an agent room; each in its
    ``room_of``)."""
    scope = f" {where}" if where else ""
    if not conversations:
        return f"No open conversations{scope}." + (f" {more}" if more else "")
    waiting = sum(1 for c in conversations if c.state is State.WAITING)
    lines = [
        f"{len(conversations)} open conversation(s){scope}, {waiting} waiting:",
        *(conversation_line(c, now, room_of(c) if room_of else None) for c in conversations),
    ]
    if waiting:
        first = next(c for c in conversations if c.state is State.WAITING)
        lines.append(f"Type `{prefix}claim {first.number}` to take the oldest waiting one.")
    if more:
        lines.append(more)
    return "\n".join(lines)


def agents_queue(
    conversations: list[Conversation],
    now: datetime,
    *,
    room_of: Callable[[Conversation], str] | None = None,
) -> str:
    """The open conversations an agent has."""
    if not conversations:
        return "You have no open conversation."
    return "\n".join(
        [
            f"You have {len(conversations)} open conversation(s):",
            *(conversation_line(c, now, room_of(c) if room_of else None) for c in conversations),
        ]
    )


def status(
    *,
    rooms: list[tuple[str, bool]],
    database: str,
    schema: int | None,
    unrelayed: int,
    queue: list[Conversation],
    reminder_after: timedelta | None,
    auto_resolve_after: timedelta | None,
    open_now: bool | None,
) -> str:
    """Where support stands, for whoever runs the bot."""
    waiting = sum(1 for c in queue if c.state is State.WAITING)
    shown = ", ".join(f"{room} ({'ok' if ok else 'UNREACHABLE'})" for room, ok in rooms)
    reminders = f"after {duration(reminder_after)} of waiting" if reminder_after else "off"
    silence = f"after {duration(auto_resolve_after)} of silence" if auto_resolve_after else "off"
    hours = {None: "always open", True: "open now", False: "closed now"}[open_now]
    return "\n".join(
        [
            f"Agent room(s): {shown}",
            f"Database: {database} (schema version {schema})",
            f"Customer messages waiting for their agent room: {unrelayed}",
            f"Open conversations: {len(queue)}, {waiting} waiting for an agent",
            f"Reminders: {reminders}; automatic resolution: {silence}; business hours: {hours}",
        ]
    )


def rooms_load(rooms: list[tuple[str, list[Conversation]]]) -> str:
    """What each agent room has open now."""
    parts = []
    for room, found in rooms:
        waiting = sum(1 for c in found if c.state is State.WAITING)
        parts.append(f"{room} {waiting} waiting, {len(found) - waiting} assigned")
    return "Open by agent room: " + "; ".join(parts) + "."


def _entry_lines(entry: Entry, customer: str) -> list[str]:
    at = entry.created_at.strftime("%H:%M")
    author = name(entry.author_name)
    if entry.kind is Kind.CUSTOMER:
        more = f"{at} {author}"
        return [*said(f"{at} **{author}**: ", more, entry.body), *_attachments(entry, more)]
    if entry.kind in (Kind.REPLY, Kind.NOTICE):
        author = author if entry.author_name else "(automatic)"
        status = ""
        if entry.delivery is Delivery.UNDELIVERED:
            status = f" [NOT DELIVERED: {span(entry.delivery_error or '')}]"
        elif entry.delivery is Delivery.PENDING:
            status = " [sending]"
        return said(f"{at} {author} to {name(customer)}: ", f"{at} {author}", entry.body, status)
    if entry.kind is Kind.NOTE:
        return said(f"{at} [note] {author}: ", f"{at} [note] {author}", entry.body)
    if entry.kind is Kind.RATING:
        return [f"{at} **{author}** rated the conversation: {span(entry.body.strip())}"]
    return said(f"{at} - ", f"{at} -", entry.body)


def transcript_heading(conversation: Conversation, page: TranscriptPage) -> str:
    return (
        f"**#{conversation.number}** {name(conversation.customer_name)} {where(conversation)}, "
        f"{_state(conversation)}, page {page.page}/{page.pages}:"
    )


def transcript(page: TranscriptPage, prefix: str, *, heading: str | None = None) -> str:
    conversation = page.conversation
    n = conversation.number
    lines = [heading or transcript_heading(conversation, page)]
    day = None
    for entry in page.entries:
        if entry.created_at.date() != day:
            day = entry.created_at.date()
            lines.append(f"-- {day.isoformat()} (UTC) --")
        lines.extend(_entry_lines(entry, conversation.customer_name))
    if page.page < page.pages:
        lines.append(f"More: `{prefix}transcript {n} {page.page + 1}`")
    elif page.page > 1 and heading is not None:
        lines.append(f"Earlier: `{prefix}transcript {n} {page.page - 1}`")
    return "\n".join(lines)


def _state(conversation: Conversation) -> str:
    agent = name(conversation.agent_name)
    if conversation.state is State.ASSIGNED:
        return f"assigned to {agent}"
    if conversation.state is State.RESOLVED:
        return f"resolved by {agent}" if conversation.agent_name else "resolved"
    return "waiting"


def history(conversations: Iterable[Conversation]) -> str:
    """A customer's conversations, grouped by room (two customers may share a name)."""
    by_room: dict[str, list[Conversation]] = {}
    for conversation in conversations:
        by_room.setdefault(conversation.customer_room, []).append(conversation)
    lines = []
    for found in by_room.values():
        latest = next((c for c in reversed(found) if c.customer_details), found[-1])
        lines.append(
            f"**{name(found[-1].customer_name)}** {where(latest)}: {len(found)} conversation(s)"
        )
        for c in found:
            tags = f" [{span(', '.join(c.tags))}]" if c.tags else ""
            opened = c.opened_at.strftime("%Y-%m-%d %H:%M")
            rated = f", rated {c.rating}/5" if c.rating is not None else ""
            lines.append(f"**#{c.number}** opened {opened} UTC, {_state(c)}{rated}{tags}")
    return "\n".join(lines)


def snippet(text: str, wanted: str) -> str:
    """About ``SNIPPET`` characters of ``text`` around the first ``wanted``, on one line."""
    flat = " ".join(text.split())
    at = _find_folded(flat, wanted)
    start = max(0, at - SNIPPET // 3) if at >= 0 else 0
    if start:  # begin with a whole word
        start = flat.find(" ", start - 1, max(at, start)) + 1 or start
    cut = flat[start : start + SNIPPET]
    return ("..." if start else "") + cut + ("..." if start + SNIPPET < len(flat) else "")


def _find_folded(text: str, wanted: str) -> int:
    """Where ``wanted`` first is in ``text``, in any case (Unicode case folding, which may
    change a text's length: "ß" folds to "ss"); -1 if nowhere."""
    folded, starts = "", []
    for at, char in enumerate(text):
        fold = char.casefold()
        starts += [at] * len(fold)
        folded += fold
    found = folded.find(wanted.casefold())
    return starts[found] if found >= 0 else -1


def search(found: list[tuple[Conversation, Entry]], wanted: str, limit: int, prefix: str) -> str:
    if not found:
        return f"No conversation mentions '{span(wanted)}'."
    more = " (the latest ones: give more words to narrow it down)" if len(found) >= limit else ""
    lines = [f"{len(found)} conversation(s) mention '{span(wanted)}'{more}:"]
    for conversation, entry in found:
        who = name(entry.author_name) if entry.author_name else "(automatic)"
        if entry.kind is Kind.NOTE:
            who = f"[note] {who}"
        lines.append(
            f"**#{conversation.number}** {name(conversation.customer_name)}, "
            f"{_state(conversation)}, {entry.created_at.strftime('%Y-%m-%d')}: {who}: "
            f"{span(snippet(entry.body, wanted))}"
        )
    lines.append(f"`{prefix}transcript <number>` shows one.")
    return "\n".join(lines)


def _durations(label: str, summary: Durations) -> str:
    if not summary.count:
        return f"{label}: no data yet"
    return (
        f"{label}: median {duration(summary.median)}, mean {duration(summary.mean)} "
        f"({summary.count} conversation(s))"
    )


def _rating(ratings: Ratings) -> str:
    return f"{ratings.mean:.1f}"


def stats(summary: Stats, days: int, *, scope: str | None = None) -> str:
    """The figures (of one agent room's conversations: ``scope``)."""
    by_state = summary.by_state
    lines = [
        f"Now{' in ' + scope if scope else ''}: {by_state[State.WAITING]} waiting, "
        f"{by_state[State.ASSIGNED]} assigned, "
        f"{by_state[State.RESOLVED]} resolved in all.",
        f"Last {days} day(s): {summary.opened} opened, {summary.resolved} of them resolved.",
        _durations("Time to first reply", summary.first_reply),
        _durations("Time to resolution", summary.resolution),
    ]
    if summary.rating.count:
        lines.append(
            f"Customer rating: {_rating(summary.rating)}/5 on average "
            f"({summary.rating.count} rating(s))"
        )
    for agent in summary.agents:
        first_reply = duration(agent.first_reply.median) if agent.first_reply.count else "-"
        resolution = duration(agent.resolution.median) if agent.resolution.count else "-"
        rating = f", rating {_rating(agent.rating)}/5" if agent.rating.count else ""
        lines.append(
            f"{name(agent.name)}: {agent.open_now} open, {agent.resolved} resolved, "
            f"median first reply {first_reply}, median resolution {resolution}{rating}"
        )
    return "\n".join(lines)
