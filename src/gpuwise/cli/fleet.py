"""CLI commands: fleet."""

from __future__ import annotations
