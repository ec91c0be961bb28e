"""Kept for tests that import the API keys from here; they live in :mod:`tests.keys`."""

from __future__ import annotations

from tests.keys import KEYS, auth

__all__ = ["KEYS", "auth"]
