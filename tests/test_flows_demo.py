"""The end-to-end demo (grammar engine, a few rounds) and next_generation on a running experiment."""

from __future__ import annotations

import json
import multiprocessing as mp
import re
import signal

import pytest
from support.cli import run_creative

from creative.creatives import get_creatives
from creative.db import open_database
from experiments.store import ExperimentStore
from flows.demo import DemoConfig, run_demo
from flows.generation import NextGenerationParams, next_generation
from layouts import ALL_SIZES, builtin_templates


def test_demo_writes_gallery_report_and_tags(prefect_harness, home, tmp_path):
    steps: list[str] = []
    config = DemoConfig(out=tmp_path / "demo-out", rounds=4, impressions_per_round=4000, engine="grammar")
    summary = run_demo(str(home.root), None, config, steps.append)
    out = tmp_path / "demo-out"
    assert steps[0] == "loading the sample library" and steps[-1] == "writing the experiment report and user tags"
    gallery = json.loads((out / "gallery" / "manifest.json").read_text())
    pairs = {(c["template"], c["size"]) for c in gallery["creatives"]}
    assert pairs == {(t, s.name) for t in builtin_templates() for s in ALL_SIZES}
    assert not any(c["violations"] for c in gallery["creatives"])
    report = (out / "report" / "index.html").read_text()
    assert summary["experiment_id"] in report and (out / "report" / "ctr.png").is_file()
    assert (out / "tags.csv").read_text().splitlines()[0].startswith("user")
    assert summary["next_generation"] and len(summary["next_generation"]["added"]) == 4
    assert json.loads((out / "summary.json").read_text())["experiment_id"] == summary["experiment_id"]
    arms = ExperimentStore(open_database(home.db_url)).arms(summary["experiment_id"])
    new = {a.id for a in arms if a.id in summary["next_generation"]["added"]}
    assert new == set(summary["next_generation"]["added"])


def test_next_generation_recombines_the_experiments_own_elements(prefect_harness, home, tmp_path):
    from assets.samples import SAMPLES_DIR
    from flows.campaign import CampaignParams, launch_campaign
    from flows.demo import _serve_round, planted_audience
    from flows.ingest import IngestParams, ingest_elements
    from flows.rounds import RoundParams, experiment_round

    shared = {"home": str(home.root)}
    ingest_elements(IngestParams(folder=str(SAMPLES_DIR), **shared))
    campaign = launch_campaign(CampaignParams(**shared, name="gen test", products=["SKU-1001", "SKU-1002", "SKU-1003"],
                                              engine="grammar", max_creatives=6, out=str(tmp_path / "batch1")))
    experiment_id = campaign["experiment_id"]
    store = ExperimentStore(open_database(home.db_url))
    before = store.arms(experiment_id)
    config = DemoConfig(impressions_per_round=3000)
    _serve_round(planted_audience(before, config), store, experiment_id, 1, config, home.root)
    assert experiment_round(RoundParams(**shared, experiment_id=experiment_id, write_report=False))["decision"] != "promote"
    result = next_generation(NextGenerationParams(**shared, experiment_id=experiment_id, n=3, out=str(tmp_path / "gen2")))
    after = store.arms(experiment_id)
    assert len(after) == len(before) + 3 and set(result["added"]).isdisjoint({a.id for a in before})
    registry = get_creatives(store.engine, [a.id for a in after])
    old = [registry[a.id] for a in before]
    used = {code for c in old for code in c.elements.values()}
    assert used and len(registry) == len(after)  # every arm is a registered creative
    for arm in after[len(before):]:
        new = registry[arm.id]
        assert set(new.elements.values()) <= used  # only elements already in the experiment
        assert new.offer_id in {c.offer_id for c in old}
        assert new.template in {c.template for c in old} and new.size == arm.size == "300x250"
    assert (tmp_path / "gen2" / "index.html").is_file()


def test_render_workers_do_not_inherit_a_flows_sigterm_handler():
    """Inside a flow run Prefect's SIGTERM handler raises; Pool.terminate() SIGTERMs the render workers, which
    then printed a ForkPoolWorker traceback each (or hung, when one died holding the queue's lock)."""
    from creative.compose.batch import _pool_init

    def raising(signum, frame):
        raise RuntimeError("the flow's handler")

    before = signal.signal(signal.SIGTERM, raising)
    try:
        with mp.get_context("fork").Pool(2, initializer=_pool_init, initargs=(None,)) as pool:
            in_workers = pool.map(signal.getsignal, [signal.SIGTERM] * 2)
    finally:
        signal.signal(signal.SIGTERM, before)
    assert in_workers == [signal.SIG_DFL, signal.SIG_DFL]


@pytest.mark.slow
def test_demo_on_a_fresh_home_prints_only_its_own_lines(tmp_path):
    """The real command with the embedded model on a fresh home (so the GGUF is converted): no tracebacks, no library
    warnings, no foreign progress bars; the summary names creatives by alias with a legend and gives the tag figures."""
    done = run_creative(tmp_path / "home", "demo", "--out", str(tmp_path / "out"), "--rounds", "3")
    assert "Traceback" not in done.stderr and "Warning" not in done.stderr, done.stderr
    assert "de-quantizing" not in done.stderr + done.stdout and "it/s]" not in done.stderr + done.stdout
    assert "Traceback" not in done.stdout and "Warning" not in done.stdout
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    figures = re.search(r"against the (\d+) planted tastes: precision (\d\.\d\d), recall (\d\.\d\d)", done.stdout)
    assert figures, done.stdout
    assert int(figures[1]) == summary["planted_users"] > 0
    assert float(figures[2]) == round(summary["tag_precision"], 2) and float(figures[3]) == round(summary["tag_recall"], 2)
    named = summary["winner"] or summary["best"]
    assert re.search(rf"^#1\s+{re.escape(named)}$", done.stdout, re.M), done.stdout  # the legend gives the full id
