"""Load the sample library (drawn by assets/make_samples.py) into a home: elements, then catalogs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from creative.catalog import ImportReport, import_catalog
from creative.db import open_database
from creative.elements import Element
from creative.elements.store import ElementStore
from creative.home import Home

SAMPLES_DIR = Path(__file__).resolve().parent / "samples"
FOLDER_KIND = {"products": "product", "logos": "logo", "models": "model", "backgrounds": "background"}
LOGO_BRANDS = {"northwind-wide": "Northwind", "lu-square": "Lu", "aurora-transparent": "Aurora"}
CATALOGS = ("catalog_en.json", "catalog_zh.json")


@dataclass(frozen=True)
class SampleLibrary:
    elements: list[Element]
    catalogs: list[ImportReport]


def sample_files(kind_folder: str) -> list[Path]:
    return sorted((SAMPLES_DIR / kind_folder).glob("*.png"))


def load_sample_library(home: Home) -> SampleLibrary:
    """Add every sample element and import both catalogs; running it twice changes nothing."""
    engine = open_database(home.db_url)
    store = ElementStore(home, engine)
    added: list[Element] = []
    for folder, kind in FOLDER_KIND.items():
        for path in sample_files(folder):
            brand = LOGO_BRANDS.get(path.stem)
            added += [r.element for r in store.add_images([path], kind, brand=brand, tags={"source": "sample"})]

    reports = [import_catalog(engine, SAMPLES_DIR / name, store.image_resolver()) for name in CATALOGS]
    return SampleLibrary(elements=added, catalogs=reports)
