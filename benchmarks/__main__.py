"""``python -m benchmarks`` (``make bench``): measure, print a summary, end with one JSON line.

Progress goes to stderr; stdout gets a readable summary and, as its last line, the whole
report as one JSON object whose first keys are the headline figures (``relay_ceiling_ratio``:
relay / ceiling at 100 customers; ``p99_customer_to_agent_ms``: at 100 messages per second),
so a script can compare runs with ``tail -n 1``.
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

from benchmarks import machine
from benchmarks.scenarios import Bench, Plan

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


def progress(text: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {text}", file=sys.stderr, flush=True)


def run(plan: Plan, work_dir: Path) -> dict[str, Any]:
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
    finally:
        bench.close()
    report["machine"]["load_average_at_end"] = machine.describe()["load_average_at_start"]
    return {**headline(report, plan), **report}


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


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
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
    help="Throughput and latency only: no catch-up, no memory (to compare changes quickly).",
)
@click.option("--work-dir", type=click.Path(file_okay=False, path_type=Path), default=None)
def main(
    *,
    smoke: bool,
    customers: str | None,
    flood_seconds: float | None,
    latency_seconds: float | None,
    channel_workers: int | None,
    only_throughput: bool,
    work_dir: Path | None,
) -> None:
    """Measure relay throughput, latency, catch-up and memory; the last line is JSON."""
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
    with tempfile.TemporaryDirectory(prefix="errbot-bench-") as scratch:
        where = work_dir or Path(scratch)
        where.mkdir(parents=True, exist_ok=True)
        progress(f"working in {where}")
        report = run(plan, where)
    for line in summary(report):
        click.echo(line)
    click.echo(json.dumps(report))


if __name__ == "__main__":
    main()
