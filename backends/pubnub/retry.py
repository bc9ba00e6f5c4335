"""The backend's backoff is the project's one (:mod:`errbot_common.backoff`)."""

from __future__ import annotations

from errbot_common.backoff import Backoff

__all__ = ["Backoff"]
