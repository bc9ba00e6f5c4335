"""The instances figures against the targets, and their readable summary.

The targets are set for a machine with the cores for them (16): four instances take in at
least three times what one does, and the system relays at least 0.8 of what a bare SDK
subscriber receives on the same machine. On fewer cores the instances, the publishers, the
server and PostgreSQL share too little CPU for intake to grow with instances: the ratios are
printed, and the machine said to be too small for the targets, never counted as a pass.
"""

from __future__ import annotations

from typing import Any

TARGET_SCALING = 3.0  # intake of the most instances measured (4) / intake of one
TARGET_RELAY_RATIO = 0.8  # relay / the bare SDK subscriber's ceiling
TARGET_TAKEOVER_S = 10.0
CORES_FOR_TARGETS = 16


def headline(instances: dict[str, Any], cores: int) -> dict[str, Any]:
    """The figures a run is compared by, and each target with its value."""
    rows = {row["instances"]: row for row in instances["throughput"]}
    one, most = rows.get(1), rows[max(rows)] if rows else None
    scaling = (
        round(most["intake_msgs_per_s"] / one["intake_msgs_per_s"], 2)
        if one and most and one["intake_msgs_per_s"]
        else None
    )
    ceiling = instances["ceiling_msgs_per_s"]
    relay = max((row["relay_msgs_per_s"] for row in rows.values()), default=None)
    ratio = round(relay / ceiling, 3) if relay and ceiling else None
    takeover = instances.get("takeover") or {}
    active = (takeover.get("active_killed") or {}).get("relays_again_s")
    intake = takeover.get("intake_killed") or {}
    intake_s = max(
        (s for s in (intake.get("groups_taken_s"), intake.get("caught_up_s")) if s is not None),
        default=None,
    )
    enough = cores >= CORES_FOR_TARGETS
    most_label = max(rows) if rows else "N"
    return {
        "intake_scaling": scaling,
        "intake_scaling_instances": max(rows) if rows else None,
        "relay_ceiling_ratio": ratio,
        "takeover_active_s": active,
        "takeover_intake_s": intake_s,
        "cores_for_targets": enough,
        "targets": {
            f"intake {most_label} instances / 1 >= {TARGET_SCALING:g}": _judged(
                scaling, scaling is not None and scaling >= TARGET_SCALING, enough
            ),
            f"relay / bare SDK ceiling >= {TARGET_RELAY_RATIO:g}": _judged(
                ratio, ratio is not None and ratio >= TARGET_RELAY_RATIO, enough
            ),
            f"takeover after kill -9 of the active instance <= {TARGET_TAKEOVER_S:g} s": _judged(
                active, active is not None and active <= TARGET_TAKEOVER_S, True
            ),
            f"intake-only instance's groups taken and caught up <= {TARGET_TAKEOVER_S:g} s": (
                _judged(intake_s, intake_s is not None and intake_s <= TARGET_TAKEOVER_S, True)
            ),
        },
    }


def _judged(value: Any, met: bool, judged: bool) -> dict[str, Any]:
    """A target's value, and whether it is met (None: not measured, or this machine cannot
    tell)."""
    return {"value": value, "met": met if judged and value is not None else None}


def summary(instances: dict[str, Any], head: dict[str, Any], cores: int) -> list[str]:
    lines = [
        "",
        f"Instances on one PostgreSQL database ({cores} cores); bare SDK subscriber ceiling "
        f"{instances['ceiling_msgs_per_s']} msg/s",
        "instances  published msg/s  intake msg/s  relay msg/s  relay/ceiling  published  "
        "recorded  relay lost",
    ]
    ceiling = instances["ceiling_msgs_per_s"]
    for row in instances["throughput"]:
        ratio = round(row["relay_msgs_per_s"] / ceiling, 3) if ceiling else None
        lines.append(
            f"{row['instances']:>9}  {row['relay']['published_per_s']:>15}  "
            f"{row['intake_msgs_per_s']:>12}  {row['relay_msgs_per_s']:>11}"
            f"  {ratio!s:>13}  {row['published']:>9}  {row['recorded']:>8}  "
            f"{row['relay']['lost']:>10}"
        )
    for row in instances["throughput"]:
        shares = ", ".join(f"{k} {v}" for k, v in row["relay"]["cpu_percent"].items())
        lines.append(f"CPU during the flood of {row['instances']} (% of a core): {shares}")
    lines += _takeover_lines(instances.get("takeover"))
    lines += _simulation_lines(instances.get("simulation"))
    for name, target in head["targets"].items():
        verdict = {True: "met", False: "NOT met", None: "not judged"}[target["met"]]
        if target["value"] is None:
            verdict = "not measured"
        lines.append(f"target {name}: {target['value']} ({verdict})")
    if not head["cores_for_targets"]:
        lines.append(
            f"This machine has {cores} cores, too few for the throughput targets (set for "
            f"{CORES_FOR_TARGETS}): the figures above are printed, not judged."
        )
    return lines


def _takeover_lines(takeover: dict[str, Any] | None) -> list[str]:
    if not takeover:
        return []
    active, intake = takeover["active_killed"], takeover["intake_killed"]
    return [
        f"kill -9 of the active instance ({takeover['instances']} instances, takeover setting "
        f"{takeover['takeover_seconds_setting']:g} s): another active after "
        f"{active['active_s']} s, relaying again after {active['relays_again_s']} s; "
        f"{active['lost']} lost, {active['relayed_twice']} relayed twice "
        f"({active['twice_first_posted_by_the_killed_one']} posted by the killed one)",
        f"kill -9 of an intake-only instance ({intake['groups']} groups): groups taken after "
        f"{intake['groups_taken_s']} s, the {intake['written_meanwhile']} messages written "
        f"meanwhile relayed after {intake['caught_up_s']} s; {intake['lost']} lost, "
        f"{intake['relayed_twice']} relayed twice",
    ]


def _simulation_lines(simulation: dict[str, Any] | None) -> list[str]:
    if not simulation:
        return []
    s = simulation
    return [
        f"{s['channels']} channels in {s['groups']} groups of {s['group_size']}, "
        f"{s['instances']} instances: settled in {s['settle_s']} s, groups per instance "
        f"{s['groups_per_instance']}, every group held by one: {s['every_group_held_by_one']}; "
        f"one message in each of {s['sample_channels']} channels ({s['sample_groups']} groups): "
        f"{s['relayed_once']} relayed once, {s['relayed_more_than_once']} more than once, "
        f"{s['lost']} lost",
    ]
