"""A tiny run of the instances benchmark (``python -m benchmarks instances --smoke``): real bot
processes on a real PostgreSQL server and the local PubNub server, with a few messages, to know
that the harness works and counts every message. No figure is checked: speed and takeover
times are measured by the benchmark itself, never by tests.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.postgres_server import unavailable

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.timeout(420)
def test_the_instances_harness_counts_every_message_and_every_takeover(tmp_path):
    why = unavailable()
    if why:
        pytest.skip(why)
    run = subprocess.run(
        [sys.executable, "-m", "benchmarks", "instances", "--smoke", "--work-dir", str(tmp_path)],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout.splitlines()[-1])
    instances = report["instances"]
    assert report["machine"]["cores"] >= 1
    assert instances["ceiling_before"]["lost"] == 0

    one, two = instances["throughput"]
    assert (one["instances"], two["instances"]) == (1, 2)
    for row in (one, two):
        assert row["recorded"] == row["published"] > 0
        assert row["relay"]["received"] == row["published"] and row["relay"]["lost"] == 0
        assert isinstance(row["intake_msgs_per_s"], float)

    takeover = instances["takeover"]
    active, intake = takeover["active_killed"], takeover["intake_killed"]
    assert active["new_active"] != active["killed"]
    assert active["relays_again_s"] is not None
    assert active["lost"] == 0 and active["relayed_more"] == 0
    # Relayed twice: only what the killed active instance had posted.
    assert active["relayed_twice"] == active["twice_first_posted_by_the_killed_one"]
    assert intake["killed"] not in (active["killed"], active["new_active"])
    assert intake["groups"] >= 1 and intake["groups_taken_s"] is not None
    assert intake["lost"] == 0 and intake["relayed_twice"] == intake["relayed_more"] == 0

    simulation = instances["simulation"]
    assert simulation["every_group_held_by_one"] is True
    assert sum(simulation["groups_per_instance"]) == simulation["groups"]
    assert simulation["sample_groups"] == simulation["groups"]
    assert simulation["relayed_once"] == simulation["published"] == simulation["sample_channels"]
    assert simulation["relayed_more_than_once"] == simulation["lost"] == 0

    targets = report["targets"]
    assert len(targets) == 4
    if not report["cores_for_targets"]:  # too few cores: the throughput ratios are not judged
        assert [t["met"] for t in targets.values()][:2] == [None, None]
