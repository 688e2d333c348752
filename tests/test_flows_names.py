"""Flow runs are named after what they made, and log it: what an operator reads in Prefect's run list."""

from __future__ import annotations

import logging

from creative.db import open_database
from creative.elements.store import ElementStore
from flows.compose import ComposeParams, compose_batch_flow


def test_a_batch_run_is_renamed_with_its_batch_id_and_banner_count(prefect_harness, sample_home, tmp_path, caplog):
    from prefect import get_client

    products = [e.code for e in ElementStore(sample_home, open_database(sample_home.db_url)).list("product")][:2]
    params = ComposeParams(home=str(sample_home.root), products=products, templates=["hero"], sizes=["300x250"], max_n=2,
                           out=str(tmp_path / "spring-batch"))
    with caplog.at_level(logging.INFO):
        result = compose_batch_flow(params)
    with get_client(sync_client=True) as client:
        names = [r.name for r in client.read_flow_runs() if result["batch"] in r.name]
    assert names == [f"batch {result['batch']} · {result['creatives']} banners"]
    assert f"batch {result['batch']}: {result['creatives']} banners" in caplog.text
