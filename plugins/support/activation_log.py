"""A setting that stops the plugin is one sentence in the log too, not a traceback.

Errbot's plugin manager logs any exception raised by ``activate()`` with its traceback (twice),
as if the plugin had a bug; a wrong ``SUPPORT_*`` setting is the operator's to fix, and the
sentence naming it is all they need. This filter keeps those records, with the sentence in
place of the traceback; any other failure keeps its traceback.
"""

from __future__ import annotations

import logging

from errbot_support.settings import SettingsError

PLUGIN_MANAGER_LOGGER = "errbot.plugin_manager"


def _settings_error(error: BaseException | None) -> SettingsError | None:
    """The settings error behind ``error`` (Errbot wraps it), if that is what it is."""
    seen = 0
    while error is not None and seen < 8:
        if isinstance(error, SettingsError):
            return error
        error = error.__cause__ or error.__context__
        seen += 1
    return None


class SettingsErrorsWithoutTraceback(logging.Filter):
    """Turns a record carrying a :class:`SettingsError` into one line with its sentence."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = _settings_error(record.exc_info[1] if record.exc_info else None)
        if error is not None:
            record.msg = f"{record.getMessage()} {error}"
            record.args = None
            record.exc_info = None
            record.exc_text = None
        return True


def install() -> None:
    """Once per process, on the logger of Errbot's plugin manager."""
    logger = logging.getLogger(PLUGIN_MANAGER_LOGGER)
    if not any(isinstance(f, SettingsErrorsWithoutTraceback) for f in logger.filters):
        logger.addFilter(SettingsErrorsWithoutTraceback())
