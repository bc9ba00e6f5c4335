"""A tiny run of the benchmark harness (``python -m benchmarks --smoke``): two customers and a
few messages, to know that ``make bench`` works and counts every message. No figure is checked:
speed is measured by the benchmarks themselves, never by tests.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_harness_reports_every_measurement_and_counts_every_message(tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--smoke", "--work-dir", str(tmp_path)],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=110,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout.splitlines()[-1])

    assert isinstance(report["relay_ceiling_ratio"], float)
    assert isinstance(report["p99_customer_to_agent_ms"], float)
    assert report["machine"]["cores"] >= 1 and report["machine"]["python"]
    assert report["command"] == "python -m benchmarks --smoke --work-dir " + str(tmp_path)

    pipeline = report["pipeline"]
    assert pipeline["relayed"] == pipeline["messages"] > 0

    (row,) = report["throughput"]
    assert row["customers"] == 2
    for flood in (row["ceiling_before"], row["relay"]):
        assert flood["published"] > 0 and flood["publish_failures"] == 0
        assert flood["received"] == flood["published"] and flood["lost"] == 0
        assert flood["in_order"] is True
    inbound = row["latency"]["customer_to_agent"]
    assert inbound["count"] == inbound["published"] > 0 and inbound["lost"] == 0
    outbound = row["latency"]["reply_to_customer"]
    assert outbound["count"] == outbound["sent"] > 0 and outbound["lost"] == 0
    assert all(step["lost"] == 0 for step in row["sustained"]["steps"])

    (catch_up,) = report["catch_up"]
    assert (catch_up["channels"], catch_up["active_channels"]) == (4, 2)
    assert catch_up["relayed"] == catch_up["messages"] == 4 and catch_up["in_order"] is True

    memory = report["memory"]
    assert memory["relayed"] == memory["open_conversations"] == 2
    assert memory["rss_mb_after_each_open_customer_wrote"] > 0

    paced = report["paced"]
    burst, flood = paced["burst"], paced["flood"]
    assert burst["published"] == burst["customers"] == burst["announced"] == 3
    assert burst["recorded_and_acknowledged_s"] is not None
    assert burst["queue_counts_all_s"] is not None and burst["announced_all_s"] is not None
    assert flood["flood_recorded"] == flood["flood_published"] > 0
    # One notice if the flood went past the rate that makes one (a loaded machine may publish
    # fewer in its fraction of a second), none otherwise.
    flooded = flood["flood_published"] > flood["flood_per_minute"]
    assert flood["flooding_notices"] == (1 if flooded else 0)
    assert flood["calm_shown"] == flood["calm_messages"]
