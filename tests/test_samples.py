"""The sample library is made by the project and regenerates byte for byte."""

from assets import make_samples
from assets.samples import SAMPLES_DIR


def test_sample_script_regenerates_the_committed_files(tmp_path):
    make_samples.main(tmp_path)
    made = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert len(made) == 15
    for relative in made:
        assert (tmp_path / relative).read_bytes() == (SAMPLES_DIR / relative).read_bytes(), relative


def test_sample_library_covers_what_the_demo_needs():
    counts = {folder: len(list((SAMPLES_DIR / folder).glob("*.png"))) for folder in ("products", "logos", "models", "backgrounds")}
    assert counts == {"products": 6, "logos": 3, "models": 2, "backgrounds": 2}
