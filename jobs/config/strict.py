"""The one base of every settings section: unknown keys are errors (a typo must not pass silently) and
settings never change after start-up."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
