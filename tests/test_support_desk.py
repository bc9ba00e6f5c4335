"""The conversation state machine, on a real SQLite store, without any bot."""

from __future__ import annotations

from datetime import timedelta

import pytest

from errbot_support.errors import (
    AlreadyAssigned,
    AlreadyClaimed,
    AlreadyYours,
    BadTag,
    ConversationResolved,
    NoSuchPage,
    NotAssigned,
    NotResolved,
    NotYours,
    OpenElsewhere,
    UnknownConversation,
    UnknownCustomer,
)
from errbot_support.records import Agent, Delivery, Kind, State
from tests.support_fixtures import *  # noqa: F403
from tests.support_fixtures import ALICE, BOB, CAROL, START, all_at_once, customer_message


def opened(desk, room="dana-chat", body="hello", **kwargs) -> int:
    return desk.receive(customer_message(room, body, **kwargs)).conversation.number


def test_claim_assigns_and_records_who(desk):
    n = opened(desk)
    claimed = desk.claim(n, ALICE)
    assert (claimed.state, claimed.agent, claimed.agent_name) == (State.ASSIGNED, "alice", "Alice")
    assert [e.body for e in desk.store.entries(n) if e.kind is Kind.EVENT] == [
        "Alice claimed the conversation"
    ]


def test_claim_refusals_say_why(desk):
    n = opened(desk)
    desk.claim(n, ALICE)
    with pytest.raises(AlreadyYours):
        desk.claim(n, Agent("ALICE", "Alice"))  # keys compare case-insensitively
    with pytest.raises(AlreadyClaimed, match="Alice claimed"):
        desk.claim(n, BOB)
    with pytest.raises(UnknownConversation):
        desk.claim(999, BOB)
    desk.resolve(n, ALICE)
    with pytest.raises(ConversationResolved) as refused:
        desk.claim(n, BOB)
    assert "`!reopen " in refused.value.text("!")


def test_two_agents_claiming_at_once_one_wins_the_others_are_told_who(desk):
    n = opened(desk)
    agents = [Agent(f"agent{i}", f"Agent {i}") for i in range(8)]

    def claim(agent):
        try:
            return desk.claim(n, agent)
        except AlreadyClaimed as lost:
            return lost

    outcomes = all_at_once(claim, agents)

    winners = [o for o in outcomes if not isinstance(o, AlreadyClaimed)]
    assert len(winners) == 1
    winner = winners[0].agent_name
    assert all(
        str(o) == f"Too late: {winner} claimed #{n} first." for o in outcomes if o not in winners
    )
    assert desk.get(n).agent_name == winner


def test_release_puts_it_back_in_the_queue_only_for_its_owner(desk):
    n = opened(desk)
    with pytest.raises(NotAssigned):
        desk.release(n, ALICE)
    desk.claim(n, ALICE)
    with pytest.raises(NotYours) as refused:
        desk.release(n, BOB)
    assert f"`!transfer {n} me`" in refused.value.text("!")
    released = desk.release(n, ALICE)
    assert (released.state, released.agent) == (State.WAITING, None)
    assert desk.claim(n, BOB).agent == "bob"


def test_transfer_from_the_queue_from_someone_and_to_oneself(desk):
    n = opened(desk)
    assert desk.transfer(n, ALICE, BOB).agent == "bob"
    assert desk.transfer(n, CAROL, CAROL).agent == "carol"  # taking over from an absent Bob
    with pytest.raises(AlreadyYours):
        desk.transfer(n, CAROL, CAROL)
    with pytest.raises(AlreadyAssigned, match="already Carol's"):
        desk.transfer(n, ALICE, CAROL)
    events = [e.body for e in desk.store.entries(n) if e.kind is Kind.EVENT]
    assert events == [
        "Alice transferred it from the queue to Bob",
        "Carol transferred it from Bob to Carol",
    ]


def test_resolve_by_owner_or_from_the_queue_then_replies_are_refused(desk, clock):
    n = opened(desk)
    desk.claim(n, ALICE)
    with pytest.raises(NotYours):
        desk.resolve(n, BOB)
    at = clock.advance(minutes=5)
    resolved = desk.resolve(n, ALICE)
    assert (resolved.state, resolved.resolved_at) == (State.RESOLVED, at)
    with pytest.raises(ConversationResolved):
        desk.begin_reply(n, ALICE, "too late")
    with pytest.raises(ConversationResolved):
        desk.resolve(n, ALICE)

    spam = opened(desk, "spam-chat")
    assert desk.resolve(spam, BOB).agent == "bob"


def test_a_message_after_resolution_opens_a_new_conversation(desk):
    n = opened(desk)
    desk.resolve(n, ALICE)
    again = desk.receive(customer_message("dana-chat", "me again"))
    assert again.opened and again.conversation.number != n


def test_reopen_assigns_to_whoever_reopens_unless_the_customer_wrote_again(desk):
    n = opened(desk)
    with pytest.raises(NotResolved):
        desk.reopen(n, ALICE)
    desk.resolve(n, ALICE)
    reopened = desk.reopen(n, BOB)
    assert (reopened.state, reopened.agent, reopened.resolved_at) == (State.ASSIGNED, "bob", None)

    desk.resolve(n, BOB)
    newer = opened(desk, body="new question")
    with pytest.raises(OpenElsewhere, match=f"open conversation #{newer}"):
        desk.reopen(n, BOB)


def test_reply_to_a_waiting_conversation_claims_it_and_stamps_the_first_reply(desk, clock):
    n = opened(desk)
    at = clock.advance(minutes=3)
    conversation, entry = desk.begin_reply(n, ALICE, "hi Dana")
    assert conversation.agent == "alice"
    assert (entry.kind, entry.delivery, entry.author_name) == (
        Kind.REPLY,
        Delivery.PENDING,
        "Alice",
    )
    clock.advance(minutes=3)
    desk.begin_reply(n, ALICE, "anything else?")
    assert desk.get(n).first_reply_at == at
    with pytest.raises(NotYours):
        desk.begin_reply(n, BOB, "me too")


def test_delivery_outcomes_are_kept_on_the_entry(desk):
    n = opened(desk)
    _, ok = desk.begin_reply(n, ALICE, "one")
    _, failed = desk.begin_reply(n, ALICE, "two")
    desk.delivered(ok)
    desk.undelivered(failed, "publish failed: 403")
    stored = {e.body: e for e in desk.store.entries(n)}
    assert stored["one"].delivery is Delivery.DELIVERED
    assert (stored["two"].delivery, stored["two"].delivery_error) == (
        Delivery.UNDELIVERED,
        "publish failed: 403",
    )


def test_deliveries_cut_short_by_a_stop_are_marked_undelivered(desk):
    n = opened(desk)
    _, cut = desk.begin_reply(n, ALICE, "sent while stopping")
    notice = desk.begin_notice(n, "Thanks!", "acknowledgement")
    abandoned = desk.abandon_pending_deliveries("stopped", 6.0)
    assert {e.id for e in abandoned} == {cut.id, notice.id}
    assert desk.store.entry(cut.id).delivery is Delivery.UNDELIVERED
    assert desk.abandon_pending_deliveries("stopped", 6.0) == []


def test_notes_are_internal_entries_and_work_on_resolved_conversations(desk):
    n = opened(desk)
    desk.resolve(n, ALICE)
    note = desk.note(n, BOB, "refund approved")
    assert (note.kind, note.delivery) == (Kind.NOTE, None)


def test_tags_are_normalised_added_once_and_removed(desk):
    n = opened(desk)
    conversation, added = desk.tag(n, ALICE, ["VIP", "#billing", "vip"])
    assert (conversation.tags, added) == (("billing", "vip"), ["vip", "billing"])
    assert desk.tag(n, ALICE, ["vip"])[1] == []
    conversation, removed = desk.untag(n, ALICE, ["vip", "nope"])
    assert (conversation.tags, removed) == (("billing",), ["vip"])
    with pytest.raises(BadTag):
        desk.tag(n, ALICE, ["no spaces allowed"])


def test_queue_lists_waiting_first_then_assigned_oldest_first(desk):
    late_wait = opened(desk, "a-chat", sent_at=START + timedelta(minutes=9))
    early_assigned = opened(desk, "b-chat", sent_at=START)
    early_wait = opened(desk, "c-chat", sent_at=START + timedelta(minutes=1))
    gone = opened(desk, "d-chat")
    desk.claim(early_assigned, ALICE)
    desk.resolve(gone, ALICE)
    assert [c.number for c in desk.queue()] == [early_wait, late_wait, early_assigned]


def test_transcript_pages_from_the_oldest_and_counts_back_from_the_latest(desk):
    n = opened(desk, body="m0")
    for i in range(1, 5):
        desk.receive(customer_message(body=f"m{i}"))
    first = desk.transcript(n, 1, page_size=2)
    assert ([e.body for e in first.entries], first.page, first.pages) == (["m0", "m1"], 1, 3)
    latest = desk.transcript(n, 0, page_size=2)
    assert ([e.body for e in latest.entries], latest.page) == (["m4"], 3)
    with pytest.raises(NoSuchPage, match="3 page"):
        desk.transcript(n, 4, page_size=2)


def test_customer_history_by_number_name_id_or_room(desk):
    first = opened(desk, "dana-chat")
    desk.resolve(first, ALICE)
    second = opened(desk, "dana-chat", body="again")
    opened(desk, "erin-chat", name="Erin")
    expected = [first, second]
    assert [c.number for c in desk.customer_history(second)] == expected
    assert [c.number for c in desk.customer_history("dana")] == expected
    assert [c.number for c in desk.customer_history("dana-chat/dana")] == expected
    assert [c.number for c in desk.customer_history("dana-chat")] == expected
    with pytest.raises(UnknownCustomer):
        desk.customer_history("nobody")


def test_customer_history_by_a_name_beyond_ascii(desk):
    number = opened(desk, "emile-chat", name="Émile")
    assert [c.number for c in desk.customer_history("Émile")] == [number]
    assert [c.number for c in desk.customer_history("ÉMILE")] == [number]


def test_stats_count_states_and_time_first_replies_and_resolutions(desk, clock):
    one = opened(desk, "a-chat", sent_at=clock.now)
    two = opened(desk, "b-chat", sent_at=clock.now)
    opened(desk, "c-chat", sent_at=clock.now)  # left waiting
    clock.advance(minutes=2)
    desk.begin_reply(one, ALICE, "hi")
    clock.advance(minutes=2)
    desk.begin_reply(two, BOB, "hello")
    clock.advance(minutes=6)
    desk.resolve(one, ALICE)

    stats = desk.stats(since=START)
    assert stats.by_state == {State.WAITING: 1, State.ASSIGNED: 1, State.RESOLVED: 1}
    assert (stats.opened, stats.resolved) == (3, 1)
    assert stats.first_reply.count == 2
    assert stats.first_reply.median == timedelta(minutes=3)
    assert stats.resolution.median == timedelta(minutes=10)
    by_name = {a.name: a for a in stats.agents}
    assert (by_name["Alice"].resolved, by_name["Alice"].open_now) == (1, 0)
    assert (by_name["Bob"].resolved, by_name["Bob"].open_now) == (0, 1)
    assert by_name["Bob"].first_reply.median == timedelta(minutes=4)
    assert desk.stats(since=START + timedelta(days=1)).opened == 0
