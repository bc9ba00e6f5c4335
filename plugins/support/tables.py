"""The database schema of the Support plugin (SQLAlchemy Core).

Two rules live in the schema itself, so they hold whatever the code above does and however
many threads or processes write at once:

* at most one open conversation per customer room (a partial unique index);
* a customer message is recorded once, whatever redelivers it (a unique source id per room).
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every database, SQLite included.

    SQLite has no timezone-aware type: values are stored as naive UTC and read back aware.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are ambiguous: pass an aware UTC datetime")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc)


metadata = MetaData()

schema_version = Table(
    "support_schema_version",
    metadata,
    Column("version", Integer, nullable=False),
)

conversations = Table(
    "support_conversations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("customer_room", String(512), nullable=False),
    Column("customer_id", String(512), nullable=False),
    Column("customer_name", String(256), nullable=False),
    Column("state", String(16), nullable=False),
    Column("agent", String(256)),
    Column("agent_name", String(256)),
    Column("opened_at", UTCDateTime, nullable=False),
    Column("first_reply_at", UTCDateTime),
    Column("resolved_at", UTCDateTime),
    Column("rating", Integer),  # schema version 2
    Column("agent_room", String(512)),  # schema version 3; NULL: SUPPORT_AGENT_ROOM
    Column("customer_details", JSON),  # schema version 4
    Column("thread_key", String(64)),  # schema version 5: its thread in the agent room
    CheckConstraint("state IN ('waiting', 'assigned', 'resolved')", name="ck_conversation_state"),
    CheckConstraint("state != 'waiting' OR agent IS NULL", name="ck_waiting_has_no_agent"),
    CheckConstraint("state != 'assigned' OR agent IS NOT NULL", name="ck_assigned_has_agent"),
)

Index("ix_support_conversations_room", conversations.c.customer_room)
Index("ix_support_conversations_thread", conversations.c.thread_key)
Index(
    "uq_support_one_open_conversation_per_room",
    conversations.c.customer_room,
    unique=True,
    sqlite_where=conversations.c.state != "resolved",
    postgresql_where=conversations.c.state != "resolved",
)

tags = Table(
    "support_tags",
    metadata,
    Column(
        "conversation_id",
        Integer,
        ForeignKey("support_conversations.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("tag", String(64), primary_key=True),
)

entries = Table(
    "support_entries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "conversation_id",
        Integer,
        ForeignKey("support_conversations.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("kind", String(16), nullable=False),
    Column("author", String(512)),
    Column("author_name", String(256)),
    Column("body", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    # Customer messages: where they came from (for deduplication) and whether agents saw them.
    Column("source_room", String(512)),
    Column("source_id", String(128)),
    Column("relay", String(16)),
    Column("opens_conversation", Boolean, nullable=False, default=False),
    Column("attachments", JSON),
    # Replies and notices: whether the customer got them.
    Column("delivery", String(16)),
    Column("delivery_error", Text),
    Column("notice", String(32)),
    # Schema version 7: the instance sending it (several bots on PostgreSQL), so that a bot
    # starting marks undelivered only what a dead one was sending.
    Column("sender", String(64)),
    UniqueConstraint("source_room", "source_id", name="uq_support_entry_source"),
)

Index("ix_support_entries_conversation", entries.c.conversation_id, entries.c.id)
Index("ix_support_entries_relay", entries.c.relay)
Index("ix_support_entries_delivery", entries.c.delivery)

# Schema version 6: what a relay is to say in an agent room, kept until it was posted.
relay_notices = Table(
    "support_relay_notices",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("agent_room", String(512), nullable=False),  # the room's key (``AgentRoom.key``)
    Column("number", Integer),  # the conversation it is about, if any
    Column("body", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("posted", Boolean, nullable=False, default=False),
    # What it is about, when that may come again (a message redelivered after a crash).
    Column("source", String(640)),
    UniqueConstraint("source", name="uq_support_relay_notice_source"),
)

Index("ix_support_relay_notices_waiting", relay_notices.c.posted, relay_notices.c.agent_room)

# Schema version 7: the stretch of waiting each conversation's last reminder was for, so that
# an instance taking over does not remind the agents of it again.
reminders = Table(
    "support_reminders",
    metadata,
    Column("conversation_id", Integer, primary_key=True),  # a support_conversations id
    Column("waiting_since", UTCDateTime, nullable=False),
)
