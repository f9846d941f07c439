"""The Dagster code location (``workspace.yaml`` points here)."""

from orchestration.defs.definitions import build_definitions

defs = build_definitions()
