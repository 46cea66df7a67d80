"""CLI commands: plan_serve (under construction; its owner fills it in)."""

from __future__ import annotations
