"""ingest_elements as a real Prefect flow run, and its parameter validation."""

from __future__ import annotations

import logging
import shutil

import pytest
from pydantic import ValidationError

from assets.samples import SAMPLES_DIR
from flows.ingest import IngestParams, ingest_elements


def test_ingest_flow_adds_a_folder_and_its_catalogs(prefect_harness, tmp_path, caplog):
    from prefect import get_client

    folder = tmp_path / "uploads"
    shutil.copytree(SAMPLES_DIR, folder)
    params = IngestParams(folder=str(folder), home=str(tmp_path / "home"))
    with caplog.at_level(logging.INFO):
        result = ingest_elements(params)
    assert f"13 elements from {folder}: 13 new" in caplog.text and "catalog" in caplog.text
    with get_client(sync_client=True) as client:
        assert "ingest · uploads" in [r.name for r in client.read_flow_runs()]
    assert len(result["elements"]) == 13 and all(r["new"] for r in result["elements"])
    assert [c["added"] for c in result["catalogs"]] == [5, 3]
    again = ingest_elements(params)  # idempotent: same bytes, same rows
    assert not any(r["new"] for r in again["elements"]) and [c["unchanged"] for c in again["catalogs"]] == [5, 3]


def test_ingest_params_refuse_a_missing_folder(tmp_path):
    with pytest.raises(ValidationError, match="is not a folder"):
        IngestParams(folder=str(tmp_path / "nope"))
