"""CLI commands: plan_train (under construction; its owner fills it in)."""

from __future__ import annotations
