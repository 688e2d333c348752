"""The batch use cases behind the marketer's pages: the count is the launch's, reviews are stored and respected."""

from __future__ import annotations

import io
import zipfile

import pytest

from creative.compose import BatchSelection
from creative.errors import CreativeError
from creative.services import Workspace, launch_batch
from creative.services.batches import banner_reviews, count_banners, experiment_from_batch, review_banners
from creative.web.batch_review import write_zip


@pytest.fixture
def ws(sample_home) -> Workspace:
    return Workspace.of(sample_home)


def _selection(ws: Workspace, **extra) -> BatchSelection:
    products = [e.code for e in ws.elements.list("product")][:3]
    return BatchSelection(products=tuple(products), templates=("hero", "minimal", "promo"), sizes=("300x250", "728x90"), **extra)


@pytest.mark.parametrize("max_n", [None, 5])
def test_the_count_is_what_the_launch_renders(ws, tmp_path, max_n):
    selection = _selection(ws)
    count = count_banners(ws, selection, max_n)
    launched = launch_batch(ws, selection, tmp_path / "out", max_n=max_n, workers=1)
    assert count.banners == len(launched.batch.creatives) + len(launched.batch.rejected) + len(launched.refused)
    assert count.combinations == launched.batch.combinations
    assert (count.banners < count.combinations) == (max_n is not None)


def test_reviews_are_stored_cleared_and_keep_rejected_banners_out_of_an_experiment(ws, tmp_path):
    batch = launch_batch(ws, _selection(ws), tmp_path / "out", max_n=6, workers=1).batch
    ids = [c.creative_id for c in batch.creatives]
    assert review_banners(ws, ids[:2], "approved", "mia") == 2
    review_banners(ws, ids[2:3], "rejected", "mia")
    assert banner_reviews(ws, ids) == {ids[0]: "approved", ids[1]: "approved", ids[2]: "rejected"}
    review_banners(ws, ids[1:2], None, "mia")
    assert banner_reviews(ws, ids) == {ids[0]: "approved", ids[2]: "rejected"}
    with pytest.raises(CreativeError, match="no banner 'nope'"):
        review_banners(ws, ["nope"], "approved", "mia")
    with pytest.raises(CreativeError, match="approved or rejected"):
        review_banners(ws, ids[:1], "maybe", "mia")

    experiment_id, left_out = experiment_from_batch(ws, batch.batch, "reviewed", "thompson")
    arms = {a.id for a in ws.experiments.arms(experiment_id)}
    assert left_out == 1 and ids[2] not in arms and arms == set(ids) - {ids[2]}


def test_a_zip_holds_every_format_of_each_banner_and_nothing_outside_the_folder(ws, tmp_path):
    batch = launch_batch(ws, _selection(ws), tmp_path / "out", max_n=3, workers=1, formats=("jpeg", "png")).batch
    out = io.BytesIO()
    assert write_zip(out, tmp_path / "out", batch.creatives, {"note.txt": b"hi"}) == 3
    names = set(zipfile.ZipFile(out).namelist())
    assert names == {n for c in batch.creatives for n in c.files.values()} | {"note.txt"}
    assert len(names) == 3 * 2 + 1
    elsewhere = io.BytesIO()
    assert write_zip(elsewhere, tmp_path / "other", batch.creatives) == 0
    assert zipfile.ZipFile(elsewhere).namelist() == []
