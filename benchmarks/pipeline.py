"""``python -m benchmarks.pipeline [--messages N] [--profile]``: the bot's own cost for one
customer message (measured by :mod:`benchmarks.own_path`); prints JSON."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import click

from benchmarks.scenarios import Bench, Plan


@click.command()
@click.option("--messages", default=3000, show_default=True)
@click.option("--profile", is_flag=True, help="Print where the time goes (to stderr).")
def main(messages: int, profile: bool) -> None:
    """The bot's CPU per customer message on its own path (one thread); prints JSON."""
    with tempfile.TemporaryDirectory(prefix="errbot-bench-") as scratch:
        bench = Bench(Plan(), Path(scratch), lambda text: print(text, file=sys.stderr))
        try:
            click.echo(json.dumps(bench.pipeline(messages, profile)))
        finally:
            bench.close()


if __name__ == "__main__":
    main()
