"""CLI commands: catalog."""

from __future__ import annotations
