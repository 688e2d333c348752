"""ingest_elements as a real Prefect flow run, and its parameter validation."""

from __future__ import annotations

import shutil

import pytest
from pydantic import ValidationError

from assets.samples import SAMPLES_DIR
from flows.ingest import IngestParams, ingest_elements


def test_ingest_flow_adds_a_folder_and_its_catalogs(prefect_harness, tmp_path):
    folder = tmp_path / "uploads"
    shutil.copytree(SAMPLES_DIR, folder)
    params = IngestParams(folder=str(folder), home=str(tmp_path / "home"))
    result = ingest_elements(params)
    assert len(result["elements"]) == 13 and all(r["new"] for r in result["elements"])
    assert [c["added"] for c in result["catalogs"]] == [5, 3]
    again = ingest_elements(params)  # idempotent: same bytes, same rows
    assert not any(r["new"] for r in again["elements"]) and [c["unchanged"] for c in again["catalogs"]] == [5, 3]


def test_ingest_params_refuse_a_missing_folder(tmp_path):
    with pytest.raises(ValidationError, match="is not a folder"):
        IngestParams(folder=str(tmp_path / "nope"))
