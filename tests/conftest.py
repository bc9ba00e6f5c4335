"""Fixtures shared by the whole suite.

Everything runs against the installed distribution (``make test`` installs it), so the
tests see exactly what ``pip install`` ships, ``.plug`` files and entry points included.
"""

pytest_plugins = ["errbot.backends.test"]
