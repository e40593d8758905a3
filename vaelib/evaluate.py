"""Evaluating generative models: likelihood estimates (lesson 05)."""

from __future__ import annotations
