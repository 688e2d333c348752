"""Load the sample library (drawn by assets/make_samples.py) into a home: elements, brand kits
(samples/brands/kits.json, written by hand), then catalogs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from creative.catalog import ImportReport
from creative.elements import Element
from creative.home import Home
from creative.services import Workspace
from creative.services.library import add_library_folder

SAMPLES_DIR = Path(__file__).resolve().parent / "samples"
# Each sample logo belongs to the brand of the sample products that use it.
LOGO_BRANDS = {"northwind-wide": "Northwind", "lu-square": "Lu", "aurora-transparent": "Aurora"}
CATALOGS = ("catalog_en.json", "catalog_zh.json")


@dataclass(frozen=True)
class SampleLibrary:
    elements: list[Element]
    catalogs: list[ImportReport]


def sample_files(kind_folder: str) -> list[Path]:
    return sorted((SAMPLES_DIR / kind_folder).glob("*.png"))


def load_sample_library(home: Home) -> SampleLibrary:
    """Add every sample element (logos with their brands), the brand kits and both catalogs; running it twice changes nothing."""
    added, reports = add_library_folder(Workspace.of(home), SAMPLES_DIR, brands=LOGO_BRANDS, tags={"source": "sample"}, catalogs=CATALOGS)
    return SampleLibrary(elements=[r.element for r in added], catalogs=reports)
