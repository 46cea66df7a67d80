"""CLI commands: sim_replay (under construction; its owner fills it in)."""

from __future__ import annotations
