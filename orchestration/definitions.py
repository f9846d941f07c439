"""The Dagster code location (``workspace.yaml`` points here): the settings of this process
(environment and config file, read once here) wired into the definitions."""

from orchestration.config import Settings
from orchestration.defs.definitions import build_definitions

defs = build_definitions(Settings.load())
