"""The Support plugin's runtime, built once in ``activate`` by :func:`build_runtime`: the
database and the desk over it, the two parts that serve customers and agents, and what they
share (the posts to agent rooms, the deliveries to customers).

- ``intake`` (``errbot_support.intake``): customers' messages recorded, deduplicated, new
  conversations acknowledged; started before the plugin takes messages.
- ``agents`` (``errbot_support.agent_side``): the relays to the agent rooms, the answers to
  agents' commands, reminders and auto-resolve; started once the plugin is active.

Each has its own ``start`` and ``stop``: one bot may take customers' messages in while another
serves the agents.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from errbot_instances import process
from errbot_instances.postgres import Liveness, is_postgresql
from errbot_instances.sole import AlreadyServed, SoleInstance
from errbot_support.access import Access
from errbot_support.actions import AgentActions
from errbot_support.agent_posts import AgentPosts
from errbot_support.agent_side import AgentSide, Pollers
from errbot_support.desk import Desk
from errbot_support.intake import Intake
from errbot_support.migrations import SchemaError
from errbot_support.relay_settings import RelaySettings
from errbot_support.relay_switch import IntakeRelays
from errbot_support.relays import AgentRoomRelays
from errbot_support.routing import AgentRooms, agent_rooms
from errbot_support.settings import Settings, SettingsError
from errbot_support.store import Store
from errbot_support.threads import ConversationThreads
from errbot_support.to_customers import RESTART_REASON, CustomerDelivery


@dataclass
class SupportRuntime:
    settings: Settings
    rooms: AgentRooms
    access: Access
    desk: Desk
    threads: ConversationThreads
    customers: CustomerDelivery
    intake: Intake
    agents: AgentSide
    database: str  # its URL without the password, as shown
    sole: SoleInstance | None  # this bot's claim on an SQLite database

    def start(self) -> None:
        self.intake.start()
        self.agents.start()

    def stop(self) -> None:
        """Nothing more sent, taken in or relayed; the database stays open (see ``close``)."""
        self.customers.stop()
        self.intake.stop()
        if self.agents.running:
            self.agents.stop()

    def close(self) -> None:
        """Let go of the database (once stopped)."""
        try:
            self.desk.close()
        finally:
            if self.sole is not None:
                self.sole.release()


def build_runtime(
    settings: Settings,
    bot: Any,
    pollers: Pollers,
    *,
    query_room: Callable[[str], Any],
    warn_admins: Callable[[str], None],
    prefix: str,
    join_as: str | None,
    liveness: Liveness,
) -> SupportRuntime:
    """Everything the plugin runs on, built (nothing started); raises ``SettingsError`` with
    one sentence when the settings or the database cannot be used."""
    rooms = agent_rooms(settings, query_room, _bridge_networks(bot))
    try:
        sole = SoleInstance.hold(settings.db_url)
    except AlreadyServed as problem:  # a setting to fix, in one line
        raise SettingsError(str(problem)) from None
    try:
        store = _open_store(settings)
    except BaseException:
        if sole is not None:  # the store could not be opened: let the database go
            sole.release()
        raise
    several = is_postgresql(settings.db_url)
    desk = Desk(store, sender=process.me(settings.db_url).id if several else None)
    threads = ConversationThreads(desk)
    posts = AgentPosts(bot, threads, rooms, use_threads=settings.threads)
    relays = AgentRoomRelays(
        rooms,
        desk,
        posts,
        RelaySettings(
            prefix=prefix,
            join_as=join_as,
            warn_admins=warn_admins,
            retry_interval=settings.retry_interval,
            flood_per_minute=settings.flood_per_minute,
        ),
    )
    # Intake runs on every instance; it hands messages to the relays while they run here, and
    # standing by keeps its notices for the active instance.
    handed = IntakeRelays(relays, posts, lambda: not several or agents.running, warn_admins)
    customers = CustomerDelivery(desk, bot, handed, prefix)
    access = Access(settings, rooms)
    database = store.engine.url.render_as_string(hide_password=True)
    actions = AgentActions(
        desk,
        access,
        rooms,
        posts=posts,
        customers=customers,
        relays=relays,
        settings=settings,
        prefix=prefix,
        database=database,
    )
    # Sending is synchronous: whatever is still pending now was cut short by a stop (of this
    # bot, or of another one that died; one alive is sending its own).
    interrupted = desk.abandon_pending_deliveries(RESTART_REASON, liveness.stale)
    agents = AgentSide(
        desk,
        rooms,
        posts=posts,
        customers=customers,
        relays=relays,
        actions=actions,
        settings=settings,
        pollers=pollers,
        prefix=prefix,
        interrupted=interrupted,
    )
    intake = Intake(desk, handed, rooms, settings, customers, warn_admins=warn_admins)
    return SupportRuntime(
        settings=settings,
        rooms=rooms,
        access=access,
        desk=desk,
        threads=threads,
        customers=customers,
        intake=intake,
        agents=agents,
        database=database,
        sole=sole,
    )


def _bridge_networks(bot: Any) -> set[str] | None:
    networks = getattr(bot, "networks", None)
    if callable(networks):
        networks = networks()
    if networks is None:
        return None
    return {str(n) for n in networks}


def _open_store(settings: Settings) -> Store:
    try:
        return Store(settings.db_url)
    except SchemaError as exc:
        raise SettingsError(f"SUPPORT_DB_URL: {exc}") from None
    except (SQLAlchemyError, OSError, ImportError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise SettingsError(
            f"SUPPORT_DB_URL cannot be used ({reason}): check the URL, that the database "
            "exists and is reachable, and that its driver is installed"
        ) from None
