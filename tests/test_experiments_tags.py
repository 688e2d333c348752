"""Preference tags from ingested events, their exports, and preference-aware serving."""

import csv
import json

import numpy as np
import pytest

from experiments.errors import ExperimentError, InvalidAllocation
from experiments.model import UserExposures
from experiments.serving import PreferenceAwareServer
from experiments.simulator import Audience, make_creatives
from experiments.tags import PreferenceTag, TagConfig, estimate_tags, export_csv, export_json, export_tags, precision_recall


def test_tags_come_from_the_incremental_user_aggregates_after_ingestion(experiment_store):
    store = experiment_store
    arms = make_creatives(36, seed=0)  # enough creatives that attributes are nearly uncorrelated
    exp = store.create_experiment("tags", arms, "fixed")
    audience = Audience(120, base_ctr=0.03, preference_multiplier=4.0, seed=1)
    store.ingest(exp, audience.events(exp, arms, {a.id: 1 / 36 for a in arms}, 72_000, seconds=86_400, rng=np.random.default_rng(2)))
    result = estimate_tags(store.user_exposures(exp), store.arms(exp), TagConfig(min_impressions=100))
    precision, recall = precision_recall(result.tags, audience.planted_tags())
    assert result.tags and precision >= 0.8 and recall > 0.2


def test_a_user_who_clicks_everything_more_is_not_tagged_with_everything():
    arms = make_creatives(12, seed=0)
    users, creatives = ("keen", "calm"), tuple(a.id for a in arms)
    ui, ci = np.repeat([0, 1], 12), np.tile(np.arange(12), 2)
    imps = np.full(24, 400)
    clicks = np.r_[np.full(12, 40), np.full(12, 8)]  # 10% vs 2% on every creative alike
    result = estimate_tags(UserExposures(users, creatives, ui, ci, imps, clicks), arms)
    assert result.tags == ()


def test_users_below_the_exposure_minimum_are_not_tagged():
    arms = make_creatives(6, seed=0)
    preferred = [i for i, a in enumerate(arms) if a.attributes["has_model"]]
    clicks = np.array([5 if i in preferred else 0 for i in range(6)])
    ex = UserExposures(("u",), tuple(a.id for a in arms), np.zeros(6, int), np.arange(6), np.full(6, 5), clicks)
    assert estimate_tags(ex, arms, TagConfig(min_impressions=50)).tags == ()


def test_exports_write_csv_rows_and_one_json_object_per_user(tmp_path):
    tags = [PreferenceTag("u1", "colour_family", "warm", 0.97, 2.4, 300, 20), PreferenceTag("u1", "has_model", True, 0.93, 1.8, 200, 12),
            PreferenceTag("u2", "template", "hero", 0.91, 1.5, 150, 7)]
    rows = list(csv.DictReader(export_csv(tags, tmp_path / "t.csv").open()))
    assert [(r["user"], r["attribute"], r["value"]) for r in rows] == [("u1", "colour_family", "warm"), ("u1", "has_model", "true"), ("u2", "template", "hero")]
    data = json.loads(export_json(tags, tmp_path / "t.json", experiment_id="exp-1").read_text())
    assert data["experiment"] == "exp-1" and data["tag_count"] == 3
    assert [t["tag"] for t in data["users"]["u1"]] == ["colour_family=warm", "has_model=True"]


def test_exporting_to_an_unknown_format_is_refused(tmp_path):
    with pytest.raises(ExperimentError, match=".csv or .json"):
        export_tags(None, tmp_path / "tags.xml", experiment_id="exp")


def test_preference_aware_serving_boosts_matching_creatives_and_never_serves_retired_ones():
    arms = make_creatives(6, seed=0)
    allocation = {a.id: 0.2 for a in arms[:5]} | {arms[5].id: 0.0}
    server = PreferenceAwareServer(arms, allocation, boost=3.0)
    tag = PreferenceTag("u", "colour_family", arms[0].attributes["colour_family"], 0.95, 2.0, 100, 5)
    plain, tagged = server.probabilities([]), server.probabilities([tag])
    assert plain[arms[0].id] == pytest.approx(0.2)
    assert tagged[arms[0].id] > plain[arms[0].id]
    assert arms[5].id not in tagged and sum(tagged.values()) == pytest.approx(1.0)
    rng = np.random.default_rng(0)
    choices = [server.choose([tag], rng) for _ in range(3000)]
    share = np.mean([c.creative_id == arms[0].id for c in choices])
    assert share == pytest.approx(tagged[arms[0].id], abs=0.03)
    assert all(c.creative_id != arms[5].id for c in choices)
    hit = next(c for c in choices if c.creative_id == arms[0].id)
    assert hit.matched == (f"colour_family={arms[0].attributes['colour_family']}",)


def test_serving_refuses_a_boost_below_one_and_an_allocation_that_does_not_sum_to_one():
    arms = make_creatives(2, seed=0)
    with pytest.raises(InvalidAllocation, match="boost"):
        PreferenceAwareServer(arms, {arms[0].id: 1.0}, boost=0.5)
    with pytest.raises(InvalidAllocation, match="sum to"):
        PreferenceAwareServer(arms, {arms[0].id: 0.7})
