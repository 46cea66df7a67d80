"""CLI commands: sim_pack (under construction; its owner fills it in)."""

from __future__ import annotations
