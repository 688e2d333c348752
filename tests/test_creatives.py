"""The creative record: its manifest form round-trips, and a manifest can only name files in its own folder."""

import json
import os

import pytest

from creative.creatives import Creative, ManifestRejected, get_creatives, landing_urls, load_manifest, register


def _record(**over):
    raw = {"id": "hero_300x250_P-1", "template": "hero", "size": "300x250", "elements": {"product": "P-1", "logo": "L-1"},
           "offer": "SKU-1", "file": "hero_300x250_P-1.jpg", "attributes": {"template": "hero", "has_model": False},
           "metrics": {"overlap": 0.0}, "warnings": ["title is small"], "violations": []}
    raw.update(over)
    return raw


def _manifest(folder, *records):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "manifest.json").write_text(json.dumps({"schema": 2, "batch": "b1", "creatives": list(records)}))
    return folder / "manifest.json"


def test_a_creative_round_trips_through_its_manifest_form(tmp_path):
    manifest = load_manifest(_manifest(tmp_path / "b1", _record()))
    creative = manifest.creatives[0]
    assert creative.file == str((tmp_path / "b1" / "hero_300x250_P-1.jpg").resolve())
    assert creative.offer_id == "SKU-1" and creative.batch == "b1" and creative.warnings == ("title is small",)
    again = Creative.from_json(creative.to_json(), batch_dir=tmp_path / "b1", batch="b1")
    assert again == creative


def test_a_schema_1_manifest_keeps_its_offer_out_of_the_element_slots(tmp_path):
    old = _record(elements={"product": "P-1", "offer": "SKU-9"}, violations=[{"message": "title overflows", "hard": True}])
    old.pop("offer")
    creative = load_manifest(_manifest(tmp_path / "b1", old)).creatives[0]
    assert creative.offer_id == "SKU-9" and creative.elements == {"product": "P-1"}
    assert creative.violations == ("title overflows",) and not creative.usable


@pytest.mark.parametrize("name", ["../../creative.db", "/etc/passwd", "sub/../../x.jpg", "", "."])
def test_files_outside_the_batch_folder_are_refused_with_one_line(tmp_path, name):
    with pytest.raises(ManifestRejected, match="creative #1") as info:
        load_manifest(_manifest(tmp_path / "b1", _record(file=name)))
    assert "\n" not in str(info.value)


def test_a_symlink_leading_out_of_the_batch_folder_is_refused(tmp_path):
    folder = tmp_path / "b1"
    folder.mkdir()
    (tmp_path / "secret.db").write_text("x")
    os.symlink(tmp_path / "secret.db", folder / "banner.jpg")
    with pytest.raises(ManifestRejected, match="outside the batch folder"):
        load_manifest(_manifest(folder, _record(file="banner.jpg")))


def test_the_registry_keeps_the_offer_and_gives_its_landing_page(sample_home, tmp_path):
    from creative.catalog import list_products
    from creative.db import open_database

    engine = open_database(sample_home.db_url)
    product = list_products(engine)[0]
    creative = load_manifest(_manifest(tmp_path / "b1", _record(offer=product.product_id))).creatives[0]
    register(engine, [creative])
    stored = get_creatives(engine, [creative.creative_id, "unknown"])
    assert list(stored) == [creative.creative_id] and stored[creative.creative_id].offer_id == product.product_id
    assert landing_urls(engine, stored.values()) == {creative.creative_id: product.landing_url}


def test_creatives_with_violations_do_not_count_toward_the_two_an_experiment_needs(home, tmp_path):
    from creative.services import Workspace, create_experiment
    from experiments.errors import InvalidExperiment

    manifest = load_manifest(_manifest(tmp_path / "b1", _record(), _record(id="broken", violations=["text overflows slot title"])))
    with pytest.raises(InvalidExperiment, match="violations are excluded"):
        create_experiment(Workspace.of(home), "x", manifest.creatives)
