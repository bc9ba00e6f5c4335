"""``python -m benchmarks`` (``make bench``): measure, print a summary, end with one JSON line.

Progress goes to stderr; stdout gets a readable summary and, as its last line, the whole
report as one JSON object whose first keys are the headline figures (``relay_ceiling_ratio``:
relay / ceiling at 100 customers; ``p99_customer_to_agent_ms``: at 100 messages per second),
so a script can compare runs with ``tail -n 1``.

``python -m benchmarks instances`` measures only the instances dimension (several bots on one
PostgreSQL database, :mod:`benchmarks.instances`), which ``make bench`` runs last.
"""

from __future__ import annotations

import json
import shlex
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from benchmarks import instances, instances_report, machine
from benchmarks.instances import InstancesPlan
from benchmarks.scenarios import Bench, Plan
from tests.postgres_server import unavailable

TARGET_RATIO = 0.8
TARGET_P99_MS = 100.0

#: A few messages and two customers: checks that the harness works, measures nothing.
SMOKE = Plan(
    customers=(2,),
    flood_seconds=0.6,
    warm_up_seconds=0.2,
    publisher_threads=1,
    latency_customers=2,
    rate=50.0,
    latency_seconds=0.2,
    catch_up=((4, 2),),
    catch_up_messages=2,
    stored_conversations=20,
    open_conversations=2,
    entries_per_conversation=2,
    pipeline_messages=50,
    pipeline_customers=2,
    sustained_rates=(50.0,),
    sustained_seconds=0.2,
    ceiling_twice=False,
    memory_of_an_empty_bot=False,
    burst_customers=3,
    paced_rate=0.05,
    burst_announce_timeout=30.0,
    one_customer_flood_seconds=0.2,
    flood_window_seconds=5.0,
)

#: The instances dimension at its smallest: checks the harness, measures nothing.
INSTANCES_SMOKE = InstancesPlan(
    instances=(1, 2),
    groups=2,
    customers=4,
    flood_seconds=0.6,
    warm_up_seconds=0.2,
    takeover_seconds=4.0,
    takeover_rate=20.0,
    takeover_kill_after=1.5,
    takeover_stream_seconds=8.0,
    simulation_channels=400,
    simulation_group_size=100,
    simulation_instances=3,
    simulation_sample=8,
)


def progress(text: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {text}", file=sys.stderr, flush=True)


def run(plan: Plan, work_dir: Path, more: InstancesPlan | None = None) -> dict[str, Any]:
    report: dict[str, Any] = {
        "command": shlex.join(["python", "-m", "benchmarks", *sys.argv[1:]]),
        "machine": machine.describe(),
        "plan": _plan(plan),
    }
    bench = Bench(plan, work_dir, progress)
    try:
        report["pipeline"] = bench.pipeline()
        throughput = []
        for customers in plan.customers:
            then = bench.steady if customers == plan.latency_customers else None
            throughput.append(bench.throughput(customers, then))
        report["throughput"] = throughput
        report["catch_up"] = [bench.catch_up(c, a) for c, a in plan.catch_up]
        report["memory"] = bench.memory() if plan.stored_conversations else None
        report["paced"] = bench.paced() if plan.burst_customers else None
        report["instances"] = _instances(bench, more, work_dir) if more else None
    finally:
        bench.close()
    report["machine"]["load_average_at_end"] = machine.describe()["load_average_at_start"]
    figures = headline(report, plan)
    if report["instances"]:
        judged = instances_report.headline(report["instances"], report["machine"]["cores"])
        figures["instances_figures"] = judged
    return {**figures, **report}


def _instances(bench: Bench, plan: InstancesPlan, work_dir: Path) -> dict[str, Any]:
    return instances.run(
        plan,
        work_dir,
        progress,
        server=bench.server,
        customers=bench.customers,
        admin=bench.admin,
    )


def _plan(plan: Plan) -> dict[str, Any]:
    return {name: getattr(plan, name) for name in plan.__dataclass_fields__}


def headline(report: dict[str, Any], plan: Plan) -> dict[str, Any]:
    at = {row["customers"]: row for row in report["throughput"]}
    main = at.get(plan.latency_customers, {})
    latency = main.get("latency", {})
    inbound = latency.get("customer_to_agent", {})
    outbound = latency.get("reply_to_customer", {})
    ratio = main.get("ratio")
    p99 = inbound.get("p99_ms")
    sustained = main.get("sustained", {}).get("msgs_per_s")
    burst = (report.get("paced") or {}).get("burst", {})
    flood = (report.get("paced") or {}).get("flood", {})
    ceiling = main.get("ceiling_msgs_per_s")
    return {
        "relay_ceiling_ratio": ratio,
        "p99_customer_to_agent_ms": p99,
        "p50_customer_to_agent_ms": inbound.get("p50_ms"),
        "p50_reply_to_customer_ms": outbound.get("p50_ms"),
        "p99_reply_to_customer_ms": outbound.get("p99_ms"),
        "sustained_msgs_per_s": sustained,
        "sustained_ceiling_ratio": round(sustained / ceiling, 3) if sustained and ceiling else None,
        "bot_cpu_ms_per_msg": report["pipeline"]["cpu_ms_per_msg"],
        "burst_recorded_and_acknowledged_s": burst.get("recorded_and_acknowledged_s"),
        "burst_queue_counts_all_s": burst.get("queue_counts_all_s"),
        "burst_announced_all_s": burst.get("announced_all_s"),
        "flood_posts_per_minute": flood.get("posts_per_minute"),
        "relay_msgs_per_s": {str(c): row["relay_msgs_per_s"] for c, row in at.items()},
        "ceiling_msgs_per_s": {str(c): row["ceiling_msgs_per_s"] for c, row in at.items()},
        "targets_met": {
            "relay_ceiling_ratio>=0.8": ratio is not None and ratio >= TARGET_RATIO,
            "p99_customer_to_agent_ms<100": p99 is not None and p99 < TARGET_P99_MS,
        },
    }


def _shown(figure: float | None) -> str:
    """A figure, or "n/a" where none could be measured (nothing arrived in the window)."""
    return "n/a" if figure is None else str(figure)


def summary(report: dict[str, Any]) -> list[str]:
    lines = [
        f"Machine: {report['machine']['cores']} cores, {report['machine']['cpu_model']}, "
        f"Python {report['machine']['python']}; load average at start "
        f"{report['machine']['load_average_at_start']}",
        f"Command: {report['command']}",
        "",
        f"The bot's own path (one thread, nothing competing): "
        f"{report['pipeline']['cpu_ms_per_msg']} ms of CPU per customer message",
        "",
        "customers  ceiling msg/s  relay msg/s  relay/ceiling  lost  in order",
    ]
    for row in report["throughput"]:
        relay = row["relay"]
        lines.append(
            f"{row['customers']:>9}  {_shown(row['ceiling_msgs_per_s']):>13}  "
            f"{_shown(row['relay_msgs_per_s']):>11}  {_shown(row['ratio']):>13}  "
            f"{relay['lost']:>4}  {relay['in_order']}"
        )
    for row in report["throughput"]:
        for name, figures in row.get("latency", {}).items():
            lines.append(
                f"latency {name} at {figures['rate_per_s']:g} msg/s: p50 "
                f"{figures.get('p50_ms')} ms, p99 {figures.get('p99_ms')} ms, max "
                f"{figures.get('max_ms')} ms ({figures.get('count', 0)} messages, "
                f"{figures['lost']} lost)"
            )
    for row in report["throughput"]:
        if "sustained" in row:
            sustained = row["sustained"]
            lines.append(
                f"sustained with {row['customers']} customers: {sustained['msgs_per_s']:g} msg/s "
                f"relayed with p99 under {sustained['p99_limit_ms']:g} ms and none lost"
            )
    for row in report["catch_up"]:
        lines.append(
            f"catch-up {row['active_channels']} active of {row['channels']} channels, "
            f"{row['messages']} messages: {row['seconds']} s from start "
            f"({row['start_seconds']} s to start the bot, {row['after_start_seconds']} s after)"
        )
    lines += _paced_summary(report.get("paced"))
    memory = report["memory"]
    if memory is None:
        return lines
    empty = memory["rss_mb_empty_bot"]
    lines.append(
        f"memory with {memory['stored_conversations']} stored / {memory['open_conversations']} "
        f"open conversations: {memory['rss_mb_after_each_open_customer_wrote']} MB RSS"
        + (f" (empty bot {empty} MB)" if empty is not None else "")
    )
    return lines


def _paced_summary(paced: dict[str, Any] | None) -> list[str]:
    if not paced:
        return []
    burst, flood = paced["burst"], paced["flood"]
    return [
        f"burst of {burst['customers']} new customers, agents on {burst['server']} at one line "
        f"every {burst['irc_channel_rate_s']:g} s: all recorded and acknowledged in "
        f"{burst['recorded_and_acknowledged_s']} s, counted by !queue in "
        f"{burst['queue_counts_all_s']} s, all announced in {burst['announced_all_s']} s "
        f"({burst['announced']} announced, {burst['announcements_per_minute']} a minute)",
        f"one customer's flood of {flood['flood_published']} messages in "
        f"{flood['flood_seconds']} s ({flood['flood_recorded']} recorded): "
        f"{flood['posts_per_minute']} posts a minute in the room carrying "
        f"{flood['flood_messages_shown_in_window']} of them in {flood['window_s']:g} s, "
        f"{flood['flooding_notices']} flooding notice(s); the other customer waited at most "
        f"{flood['calm_max_wait_s']} s ({flood['calm_shown']} of {flood['calm_messages']} shown)",
    ]


def _numbers(given: str) -> tuple[int, ...]:
    """``1,2,4`` -> (1, 2, 4); ``none`` -> ()."""
    return () if given.strip().lower() == "none" else tuple(int(n) for n in given.split(","))


def _printed(report: dict[str, Any], lines: list[str]) -> None:
    if report.get("instances"):
        judged = report.get("instances_figures") or instances_report.headline(
            report["instances"], report["machine"]["cores"]
        )
        lines += instances_report.summary(report["instances"], judged, report["machine"]["cores"])
    for line in lines:
        click.echo(line)
    click.echo(json.dumps(report))


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--smoke", is_flag=True, help="A few messages and two customers (a harness check).")
@click.option(
    "--customers",
    default=None,
    help="Comma-separated customer counts for throughput (default 1,100,1000).",
)
@click.option("--flood-seconds", type=float, default=None, help="Length of each flood.")
@click.option("--latency-seconds", type=float, default=None, help="Length of each latency run.")
@click.option(
    "--channel-workers",
    type=click.IntRange(min=1),
    default=None,
    help="PUBNUB_CHANNEL_WORKERS of the bot (default: the backend's).",
)
@click.option(
    "--only-throughput",
    is_flag=True,
    help="Throughput and latency only: no catch-up, no memory, no instances (to compare "
    "changes quickly).",
)
@click.option(
    "--instances",
    "instance_counts",
    default=None,
    help="Instance counts of the instances dimension (default 1,2,4; 'none' leaves it out; "
    "left out by --smoke and --only-throughput).",
)
@click.option("--work-dir", type=click.Path(file_okay=False, path_type=Path), default=None)
@click.pass_context
def main(
    context: click.Context,
    *,
    smoke: bool,
    customers: str | None,
    flood_seconds: float | None,
    latency_seconds: float | None,
    channel_workers: int | None,
    only_throughput: bool,
    instance_counts: str | None,
    work_dir: Path | None,
) -> None:
    """Measure relay throughput, latency, catch-up, memory and several instances; the last
    line is JSON. ``instances`` measures the instances alone."""
    if context.invoked_subcommand is not None:
        return
    plan = SMOKE if smoke else Plan()
    if customers:
        plan = replace(plan, customers=tuple(int(c) for c in customers.split(",")))
    if flood_seconds:
        plan = replace(plan, flood_seconds=flood_seconds)
    if latency_seconds:
        plan = replace(plan, latency_seconds=latency_seconds)
    if channel_workers:
        plan = replace(plan, channel_workers=channel_workers)
    if only_throughput:
        plan = replace(plan, catch_up=(), stored_conversations=0, burst_customers=0)
    more = None if smoke or only_throughput else InstancesPlan()
    if instance_counts:
        counts = _numbers(instance_counts)
        more = replace(more or InstancesPlan(), instances=counts) if counts else None
    why = unavailable() if more else None
    if why:  # the rest is worth measuring all the same
        progress(f"the instances are left out: {why}")
        more = None
    with tempfile.TemporaryDirectory(prefix="errbot-bench-") as scratch:
        where = work_dir or Path(scratch)
        where.mkdir(parents=True, exist_ok=True)
        progress(f"working in {where}")
        report = run(plan, where, more)
    _printed(report, summary(report))


@main.command("instances", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--smoke", is_flag=True, help="Tiny sizes: checks the harness, measures nothing.")
@click.option("--instances", "instance_counts", default=None, help="Instance counts, e.g. 1,2,4.")
@click.option("--groups", type=click.IntRange(1, 10), default=None, help="Channel groups.")
@click.option("--customers", type=click.IntRange(min=1), default=None, help="Customer channels.")
@click.option("--flood-seconds", type=float, default=None, help="Length of each flood.")
@click.option(
    "--takeover-seconds",
    type=float,
    default=None,
    help="The bots' INSTANCES_TAKEOVER_SECONDS (default 10, as the bots' default).",
)
@click.option(
    "--takeover-instances",
    type=click.IntRange(min=0),
    default=None,
    help="Instances of the takeover measurement (at least 3; 0 leaves it out).",
)
@click.option(
    "--simulation-channels",
    type=click.IntRange(min=0),
    default=None,
    help="Customer channels of the simulation (default 100,000; 0 leaves it out).",
)
@click.option(
    "--simulation-group-size",
    type=click.IntRange(1, 2000),
    default=None,
    help="Channels per group in the simulation (default 2,000, PubNub's most).",
)
@click.option(
    "--simulation-instances",
    type=click.IntRange(min=1),
    default=None,
    help="Instances of the simulation (default 5).",
)
@click.option(
    "--simulation-sample",
    type=click.IntRange(min=1),
    default=None,
    help="Channels that each get one message in the simulation (default 250).",
)
@click.option("--work-dir", type=click.Path(file_okay=False, path_type=Path), default=None)
def instances_command(
    *,
    smoke: bool,
    instance_counts: str | None,
    work_dir: Path | None,
    **sizes: Any,
) -> None:
    """Several bots on one PostgreSQL database: intake and relay throughput by instance
    count, takeover after kill -9, 100,000 channels shared out; the last line is JSON."""
    plan = INSTANCES_SMOKE if smoke else InstancesPlan()
    if instance_counts:
        plan = replace(plan, instances=_numbers(instance_counts))
    plan = replace(plan, **{name: value for name, value in sizes.items() if value is not None})
    if plan.takeover_instances and plan.takeover_instances < 3:
        raise click.BadParameter("at least 3 (or 0)", param_hint="--takeover-instances")
    why = unavailable()
    if why:
        raise click.ClickException(f"no PostgreSQL server can be started here: {why}")
    report: dict[str, Any] = {
        "command": shlex.join(["python", "-m", "benchmarks", *sys.argv[1:]]),
        "machine": machine.describe(),
    }
    with tempfile.TemporaryDirectory(prefix="errbot-bench-") as scratch:
        where = work_dir or Path(scratch)
        where.mkdir(parents=True, exist_ok=True)
        progress(f"working in {where}")
        bench = Bench(Plan(), where, progress)
        try:
            report["instances"] = _instances(bench, plan, where)
        finally:
            bench.close()
    report["machine"]["load_average_at_end"] = machine.describe()["load_average_at_start"]
    figures = instances_report.headline(report["instances"], report["machine"]["cores"])
    report = {**figures, **report}
    _printed(
        report,
        [
            f"Machine: {report['machine']['cores']} cores, {report['machine']['cpu_model']}, "
            f"Python {report['machine']['python']}; load average at start "
            f"{report['machine']['load_average_at_start']}",
            f"Command: {report['command']}",
        ],
    )


if __name__ == "__main__":
    main()
