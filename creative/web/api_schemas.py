"""The ad-serving API's answers as pydantic models: what /openapi.json and /api/docs describe.

The handlers build their JSON directly (the serving hot path skips model validation); the tests check
that real answers validate against these models, so the description cannot drift from the wire.
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class ApiError(BaseModel):
    error: str = Field(description="one line saying what was wrong and what to do")


class ServedCreative(BaseModel):
    experiment: str
    creative: str = Field(description="the creative (arm) chosen for this request")
    size: str = Field(description="its placement, WIDTHxHEIGHT")
    impression_id: str = Field(description="the recorded impression's event id")
    image_url: str = Field(description="the banner image, cacheable")
    click_url: str = Field(description="/v1/click with the signed token: link the banner here")
    token: str = Field(description="signed (experiment, creative, user, impression, time, size, round)")
    matched_tags: list[str] = Field(description="the user's preference tags that steered the choice (holdout traffic only)")
    round: int = Field(description="the experiment's round this impression was served in")
    holdout: bool = Field(description="served outside the randomised experiment: recorded, never counted in its statistics")


class RejectedLine(BaseModel):
    line: int | None = Field(description="1-based line number in the posted body")
    reason: str = Field(description="malformed, unknown_experiment, unknown_creative, click_without_impression, ...")
    detail: str = Field(description="'line N: ...' saying what is wrong with it")


class IngestReport(BaseModel):
    experiment_id: str
    lines: int = Field(description="non-blank lines filed under this experiment")
    accepted: int = 0
    impressions: int = 0
    clicks: int = 0
    duplicates: int = Field(0, description="event ids already stored: re-delivery is harmless")
    rejected: dict[str, int] = Field(description="rejected lines by reason")
    rejected_total: int
    samples: list[RejectedLine] = Field(description="the first 20 rejected lines")
    holdout: int = 0
    error: str | None = Field(None, description="set when the experiment does not exist (all its lines rejected)")


class EventsAnswer(BaseModel):
    lines: int = Field(description="physical lines in the body, blank ones included")
    accepted: int
    duplicates: int
    rejected: int = Field(description="rejected lines in all, the unassigned ones included")
    reports: list[IngestReport] = Field(description="one per experiment the lines name")
    unassigned: list[RejectedLine] = Field(description="the first 20 lines that name no experiment (not JSON, or no 'experiment')")
    unassigned_total: int
    error: str | None = Field(None, description="only with status 422: no line was usable; names the first bad line")
