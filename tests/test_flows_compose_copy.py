"""compose_batch and generate_copy flows: chunk tasks, Dask scale-out, cached copy, validated params."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from creative.catalog import list_products
from creative.compose import enumerate_specs, resolve_selection
from creative.db import open_database
from creative.elements.store import ElementStore
from flows.compose import ComposeParams, compose_batch_flow, compose_batch_on
from flows.copy import CopyParams, generate_copy


def _codes(home, kind):
    return [e.code for e in ElementStore(home, open_database(home.db_url)).list(kind)]


def _compose_params(home, out, **extra):
    return ComposeParams(home=str(home.root), products=_codes(home, "product")[:2], logos=_codes(home, "logo")[:2],
                         templates=["hero", "promo", "split"], sizes=["300x250", "728x90", "160x600"],
                         out=str(out), chunk_size=5, **extra)


def _comparable(manifest_path):
    creatives = json.loads(open(manifest_path).read())["creatives"]
    return [(c["id"], c["file"], c["attributes"], c["metrics"]) for c in creatives]


def test_compose_flow_renders_chunks_as_tasks_and_publishes_a_gallery(prefect_harness, sample_home, tmp_path):
    params = _compose_params(sample_home, tmp_path / "local")
    expected, _, _ = enumerate_specs(resolve_selection(sample_home, open_database(sample_home.db_url), params.selection()))
    result = compose_batch_flow(params)
    # every template x size x product, each with its own brand's logo only
    assert result["creatives"] == len(expected) >= 3 * 3 * 2 and result["rejected"] == 0
    assert (tmp_path / "local" / "index.html").is_file()
    for record in json.loads((tmp_path / "local" / "manifest.json").read_text())["creatives"]:
        assert (tmp_path / "local" / record["file"]).is_file()


def test_compose_on_a_dask_cluster_gives_the_same_manifest(prefect_harness, sample_home, tmp_path):
    distributed = pytest.importorskip("distributed")
    local = compose_batch_flow(_compose_params(sample_home, tmp_path / "local"))
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        on_dask = compose_batch_on(_compose_params(sample_home, tmp_path / "dask", dask_address=cluster.scheduler_address))
    assert on_dask["creatives"] == local["creatives"]
    assert _comparable(on_dask["manifest"]) == _comparable(local["manifest"])


def test_copy_flow_stores_titles_and_reuses_generation_for_unchanged_facts(prefect_harness, sample_home, monkeypatch):
    from creative.copy.pipeline import CopyPipeline

    calls = []
    original = CopyPipeline.titles
    monkeypatch.setattr(CopyPipeline, "titles", lambda self, *a, **k: calls.append(1) or original(self, *a, **k))
    product = [p for p in list_products(open_database(sample_home.db_url)) if p.language == "zh"][0]
    params = CopyParams(home=str(sample_home.root), products=[product.product_id], engine="grammar", n=2, seed=11)
    first = generate_copy(params)
    assert len(first[0]["titles"]) == 2 * 4 and all(code.startswith("T-") for code in first[0]["titles"])
    again = generate_copy(params)
    assert again[0]["titles"] == first[0]["titles"]
    assert len(calls) == 1  # the second run took the cached candidates


def test_flow_params_are_validated_before_any_work(tmp_path):
    with pytest.raises(ValidationError):
        ComposeParams(products=[], out=str(tmp_path))
    with pytest.raises(ValidationError):
        CopyParams(engine="gpt")
    with pytest.raises(ValidationError):
        ComposeParams(products=["P-1"], out=str(tmp_path), unknown_option=1)
