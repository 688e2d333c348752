"""Composing batches from the sample library: every template at every size, ids, records, bad input."""

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import select

from creative.compose import BatchSelection, CompositionError, Renderer, compose_batch, enumerate_specs, render_many, resolve_selection
from creative.db import open_database
from creative.elements.store import ElementStore
from creative.errors import ElementNotFound
from creative.tables import creatives
from layouts import ALL_SIZES, SizeError, TemplateError, builtin_templates


def _codes(home, kind):
    return tuple(e.code for e in ElementStore(home, open_database(home.db_url)).list(kind))


@pytest.fixture
def library(sample_home):
    engine = open_database(sample_home.db_url)
    return sample_home, engine


def test_every_template_at_every_size_has_zero_hard_violations(library, tmp_path):
    home, engine = library
    selection = BatchSelection(products=_codes(home, "product"), logos=_codes(home, "logo")[:1],
                               models=_codes(home, "model")[:1], templates=("all",), sizes=("all",))
    result = compose_batch(home, engine, selection, tmp_path / "out", workers=2)
    assert result.rejected == []
    seen = {(c.template, c.size) for c in result.creatives}
    assert seen == {(t, s.name) for t in builtin_templates() for s in ALL_SIZES}
    for c in result.creatives:
        assert not c.violations, c.creative_id
        assert c.metrics["readability"] >= 1.0 and c.metrics["out_of_bounds"] == 0
        with Image.open(c.file) as im:
            assert f"{im.width}x{im.height}" == c.size
    languages = {c.attributes["language"] for c in result.creatives}
    assert languages == {"en", "zh"}  # the CJK catalog is in there too
    tiny = [c for c in result.creatives if c.size == "320x50" and c.template == "hero"]
    # slots a tiny format cannot hold are soft notes, not violations
    assert all(any("not in the strip layout" in w for w in c.warnings) and not c.violations for c in tiny)


def test_manifest_gallery_and_library_records(library, tmp_path):
    home, engine = library
    products = _codes(home, "product")[:2]
    selection = BatchSelection(products=products, logos=_codes(home, "logo")[:2], backgrounds=_codes(home, "background")[:1],
                               templates=("hero", "promo"), sizes=("300x250", "728x90"))
    result = compose_batch(home, engine, selection, tmp_path / "out", workers=1)
    out = tmp_path / "out"
    manifest = json.loads((out / "manifest.json").read_text())
    assert len(manifest["creatives"]) == result.rendered > 0
    c = manifest["creatives"][0]
    assert {"id", "file", "size", "template", "elements", "attributes", "metrics", "violations"} <= set(c)
    assert c["id"].startswith(f"{c['template']}_{c['size']}_") and c["elements"]["product"] in c["id"]
    attrs = c["attributes"]
    for key in ("template", "title_style", "background_kind", "colour_family", "has_model", "has_price_badge", "logo_position"):
        assert key in attrs
    assert attrs["background_kind"] == "image"
    assert any(x["attributes"]["has_price_badge"] for x in manifest["creatives"] if x["template"] == "promo")
    html = (out / "index.html").read_text()
    assert "hero" in html and "promo" in html and "728x90" in html and c["file"] in html
    with engine.connect() as conn:
        rows = conn.execute(select(creatives)).all()
    assert {r.creative_id for r in rows} == {x["id"] for x in manifest["creatives"]}
    row = next(r for r in rows if r.creative_id == c["id"])
    assert row.attributes["template"] == c["template"] and Path(row.file) == out / c["file"]
    # composing again replaces the directory and upserts the same ids
    again = compose_batch(home, engine, selection, out, workers=1)
    with engine.connect() as conn:
        assert len(conn.execute(select(creatives)).all()) == len(rows)
    assert {x.creative_id for x in again.creatives} == {x["id"] for x in manifest["creatives"]}
    assert not list(tmp_path.glob(".out.*"))


def test_ids_are_element_codes_and_duplicates_collapse(library):
    home, engine = library
    p = _codes(home, "product")[0]
    logo = _codes(home, "logo")[0]
    selection = BatchSelection(products=(p, p), logos=(logo,), models=_codes(home, "model")[:1],
                               templates=("minimal", "model"), sizes=("300x250",))
    specs, _, _ = enumerate_specs(resolve_selection(home, engine, selection))
    ids = [s.creative_id for s in specs]
    assert len(ids) == len(set(ids))
    minimal = [s for s in specs if s.template == "minimal"]
    assert all(s.model is None for s in minimal)  # minimal has no model slot: no model in its id
    assert all(s.model for s in specs if s.template == "model")
    assert all(i.replace("_", "").replace("-", "").replace("x", "").isalnum() for i in ids)


def test_seeded_sample_is_reproducible(library):
    home, engine = library
    selection = BatchSelection(products=_codes(home, "product"), logos=_codes(home, "logo"))
    resolved = resolve_selection(home, engine, selection)
    a, total, _ = enumerate_specs(resolved, max_n=25, seed=7)
    b, _, _ = enumerate_specs(resolved, max_n=25, seed=7)
    c, _, _ = enumerate_specs(resolved, max_n=25, seed=8)
    assert len(a) == 25 and a == b and a != c and total > 25


def test_cached_and_naive_renderers_draw_identical_pixels(library):
    home, engine = library
    selection = BatchSelection(products=_codes(home, "product")[:2], logos=_codes(home, "logo")[:1],
                               backgrounds=_codes(home, "background")[:1], templates=("overlay", "split"), sizes=("300x250", "160x600"))
    resolved = resolve_selection(home, engine, selection)
    specs, _, _ = enumerate_specs(resolved)
    cached, naive = Renderer(resolved.pack), Renderer(resolved.pack, caching=False)
    for spec in specs * 2:  # second round hits every cache
        a, b = cached.render(spec), naive.render(spec)
        assert a.accepted and b.accepted
        assert np.array_equal(np.asarray(a.image), np.asarray(b.image)), spec.creative_id


def test_title_elements_are_used_and_a_title_too_long_is_rejected_with_a_reason(library, tmp_path):
    home, engine = library
    store = ElementStore(home, engine)
    short = store.add_text("title", "Run further for less", "short", {"style": "benefit", "language": "en"})
    long = store.add_text("title", "An extraordinarily verbose headline that keeps going and going for ever and ever more",
                          "long", {"style": "story", "language": "en"})
    sneaker = next(e.code for e in store.list("product") if e.name == "sneaker-red")
    selection = BatchSelection(products=(sneaker,), titles=(short.code, long.code), templates=("hero",), sizes=("300x250", "320x50"))
    result = compose_batch(home, engine, selection, tmp_path / "out", workers=1)
    styles = {c.attributes["title_style"] for c in result.creatives}
    assert "benefit" in styles
    assert any(c.elements.get("title") == short.code for c in result.creatives)
    rejected = [r for r in result.rejected if r["elements"].get("title") == long.code]
    assert rejected and all("does not fit" in r["reasons"][0] for r in rejected)
    assert not (tmp_path / "out" / f"{rejected[0]['id']}.jpg").exists()
    # the zh catalog entry of the same picture gets its catalog name, not an English title
    assert any("catalog name is used" in s for s in result.skipped)


@pytest.mark.parametrize(
    "change, error, match",
    [
        ({"products": ("P-doesnotexist",)}, ElementNotFound, "P-doesnotexist"),
        ({"logos": ("L-nope",)}, ElementNotFound, "L-nope"),
        ({"sizes": ("0x0",)}, SizeError, "0x0"),
        ({"sizes": ("99999x1",)}, SizeError, "99999x1"),
        ({"sizes": ("abc",)}, SizeError, "abc"),
        ({"templates": ("nope",)}, TemplateError, "unknown template 'nope'"),
    ],
)
def test_bad_input_is_a_clear_error_and_nothing_is_written(library, tmp_path, change, error, match):
    home, engine = library
    base = dict(products=_codes(home, "product")[:1], templates=("hero",), sizes=("300x250",))
    base.update(change)
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(error, match=match):
        compose_batch(home, engine, BatchSelection(**base), dest / "out", workers=1)
    assert list(dest.iterdir()) == []
    with engine.connect() as conn:
        assert conn.execute(select(creatives)).all() == []


def test_wrong_kind_and_foreign_output_directory_are_refused(library, tmp_path):
    home, engine = library
    logo = _codes(home, "logo")[0]
    with pytest.raises(CompositionError, match="is a logo, not a product"):
        compose_batch(home, engine, BatchSelection(products=(logo,)), tmp_path / "out", workers=1)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    with pytest.raises(CompositionError, match="not empty"):
        compose_batch(home, engine, BatchSelection(products=_codes(home, "product")[:1], templates=("hero",), sizes=("300x250",)), mine)
    assert (mine / "notes.txt").read_text() == "keep me" and len(list(mine.iterdir())) == 1


def test_chunks_can_be_rendered_by_a_caller_supplied_runner(library, tmp_path):
    """What a flow does: each chunk becomes one render_chunk call (a task), compose_batch publishes."""
    from creative.compose import RenderChunk, chunked, render_chunk

    home, engine = library
    calls = []

    def as_tasks(pack, specs, out_dir, formats, workers=1, progress=None, **_):
        records = []
        for part in chunked(specs, 1, 5):
            calls.append(len(part))
            records.extend(render_chunk(RenderChunk(pack, tuple(part), str(out_dir), formats[0])))
        return records

    selection = BatchSelection(products=_codes(home, "product")[:2], templates=("hero", "minimal"), sizes=("300x250", "320x100"))
    result = compose_batch(home, engine, selection, tmp_path / "out", render=as_tasks)
    assert len(calls) > 1 and sum(calls) == len(result.creatives) + len(result.rejected)
    assert all(Path(c.file).is_file() and Path(c.file).parent == tmp_path / "out" for c in result.creatives)


def test_manifest_feeds_an_experiment_without_losing_creatives(library, tmp_path):
    """Soft warnings are not violations, and attributes are scalars, so every banner becomes an arm."""
    from creative.creatives import load_manifest

    home, engine = library
    result = compose_batch(home, engine, BatchSelection(products=_codes(home, "product")[:2], logos=_codes(home, "logo")[:1],
                                                        sizes=("320x50", "300x250")), tmp_path / "out")
    manifest = load_manifest(result.manifest)
    assert len(manifest.usable) == len(result.creatives) == len(manifest.creatives)
    assert all(isinstance(v, (str, bool, int, float)) for c in manifest.usable for v in c.attributes.values())


def test_records_come_back_in_the_order_of_the_specs_whatever_the_workers(library, tmp_path):
    home, engine = library
    selection = BatchSelection(products=_codes(home, "product"), logos=_codes(home, "logo")[:1], sizes=("300x250", "728x90", "160x600"))
    specs, _, _ = enumerate_specs(resolve_selection(home, engine, selection), max_n=40, seed=3)
    assert [s.size for s in specs] != sorted(s.size for s in specs)  # a sample: sizes interleaved, drawn grouped
    pack = resolve_selection(home, engine, selection).pack
    for workers in (1, 2):
        out = tmp_path / f"workers-{workers}"
        out.mkdir()
        records = render_many(pack, specs, out, ("jpeg",), workers=workers, chunk_size=8)
        assert [r["id"] for r in records] == [s.creative_id for s in specs]
        assert all((out / r["file"]).is_file() and r["file"].startswith(r["id"]) for r in records if "file" in r)
        assert sum("file" in r for r in records) == len(list(out.iterdir())) > 30
