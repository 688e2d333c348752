"""Element upload memory: peak RSS of `ElementStore.add_images`, each case in a fresh process.

Cases, measured in one run:
  batch N      N distinct 400x400 product JPEGs in one all-or-nothing add (10, 100, 1000): the
               10-file batch is the baseline; bounded memory means the larger batches peak the same
  big batch    50 distinct 2000x2000 JPEGs in one add (the issue's 1.1 GB case)
  largest      one product PNG just inside the decode budget (the worst accepted single upload),
               through the library and through `creative elements add` (the CLI imports more: its floor is higher)
  24 MP JPEG   a 6000x4000 camera JPEG (decoded at a reduced scale to fit the budget)
  bomb         a ~1 KB lossless 6000x6000 WebP, with the budget check and with it switched off
  photo 2000   a 2000x2000 product photo JPEG on a striped backdrop: cut out by GrabCut, and the same
               upload the old way (flood fill only, so it stays a photo) as the baseline for GrabCut's cost;
               'largest, GrabCut' is the worst accepted single upload (10.5 MP) on that backdrop, also via the CLI
Each row gives the peak RSS of the process, its RSS after imports (the floor), and wall time.
Linux only (reads /proc/self/status).
Usage: python benchmarks/elements_bench.py [--quick] [--case NAME ...]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _rss_mb(field: str = "VmHWM") -> float:
    """Peak (VmHWM) or current (VmRSS) resident memory of this process. Not getrusage's ru_maxrss:
    Linux carries that over from the parent through fork and exec, so a child would inherit the
    peak of the process that generated its inputs."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024  # kB
    raise RuntimeError(f"{field} not in /proc/self/status (Linux only)")


def _product(path: Path, side: int, index: int) -> Path:
    """A product shot on a plain white background (so it gets a cut-out: the costliest path);
    `index` makes every file's bytes distinct."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (side, side), (250, 250, 250))
    draw = ImageDraw.Draw(img)
    inset = side // 5 + index % (side // 10)
    draw.ellipse((inset, inset, side - inset, side - inset // 2), fill=(40 + index % 200, 90, 160))
    draw.text((side // 2, side // 2), str(index), fill=(255, 255, 255))
    img.save(path, **({"quality": 90} if path.suffix == ".jpg" else {"compress_level": 1}))
    return path


def _busy_product(path: Path, side: int) -> Path:
    """A product shot on a striped, slightly noisy backdrop: no flood fill, so GrabCut decides."""
    import numpy as np
    from PIL import Image, ImageDraw

    yy, xx = np.mgrid[0:side, 0:side]
    stripes = ((xx + yy) // max(4, side // 60) % 2).astype(np.uint8)[..., None] * np.array([25, 22, 15], np.uint8)
    noise = np.random.default_rng(0).integers(0, 12, (side, side, 1), dtype=np.uint8)
    img = Image.fromarray(np.array([70, 75, 60], np.uint8) + stripes + noise, "RGB")
    del yy, xx, stripes, noise
    ImageDraw.Draw(img).rounded_rectangle((side * 3 // 10, side // 4, side * 7 // 10, side * 4 // 5), radius=side // 20, fill=(214, 118, 40))
    img.save(path, **({"quality": 90} if path.suffix == ".jpg" else {"compress_level": 1}))
    return path


def make_inputs(case: str, folder: Path) -> list[Path]:
    from PIL import Image

    folder.mkdir(parents=True)
    if case.startswith("batch"):
        return [_product(folder / f"p{i:04d}.jpg", 400, i) for i in range(int(case.split()[1]))]
    if case == "big batch":
        return [_product(folder / f"p{i:04d}.jpg", 2000, i) for i in range(50)]
    if case.startswith("photo 2000"):
        return [_busy_product(folder / "photo.jpg", 2000)]
    if case.startswith("largest, GrabCut"):
        from creative.elements.validation import DECODE_BUDGET_BYTES

        return [_busy_product(folder / "largest.png", int((DECODE_BUDGET_BYTES / 4) ** 0.5))]
    if case.startswith("largest"):
        from creative.elements.validation import DECODE_BUDGET_BYTES

        return [_product(folder / "largest.png", int((DECODE_BUDGET_BYTES / 4) ** 0.5), 0)]
    if case == "24 MP JPEG":
        path = folder / "camera.jpg"
        Image.linear_gradient("L").resize((6000, 4000)).convert("RGB").save(path, quality=85)
        return [path]
    path = folder / "bomb.webp"  # "bomb" and "bomb, budget off"
    Image.new("RGB", (6000, 6000), (255, 255, 255)).save(path, lossless=True)
    return [path]


def cli_worker(paths: list[Path], home_dir: Path) -> dict:
    """Runs `creative elements add` as a child of this small process; wait4 gives that child's own peak."""
    creative = Path(sys.executable).with_name("creative")
    env = {**os.environ, "CREATIVE_HOME": str(home_dir)}
    env.pop("CREATIVE_DB_URL", None)
    start = time.perf_counter()
    floor_child = subprocess.Popen([creative, "--help"], env=env, stdout=subprocess.DEVNULL)
    floor = os.wait4(floor_child.pid, 0)[2].ru_maxrss / 1024
    child = subprocess.Popen([creative, "elements", "add", "--kind", "product", *map(str, paths)], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    outcome = output.strip().splitlines()[-1][:70] if output.strip() else f"exit {status}"
    return {"floor": floor, "peak": usage.ru_maxrss / 1024, "seconds": time.perf_counter() - start, "outcome": outcome}


def worker(case: str, paths: list[Path], home_dir: Path) -> dict:
    """Runs in the child: import, note the floor, add the files, report the peak."""
    if case.endswith("CLI"):
        return cli_worker(paths, home_dir)
    from creative.db import open_database
    from creative.elements import validation
    from creative.elements.store import ElementStore
    from creative.errors import USER_ERRORS
    from creative.home import resolve_home

    if case.endswith("budget off"):
        validation.DECODE_BUDGET_BYTES = 1 << 40
    if case.endswith("old path"):  # what an upload did before GrabCut: flood fill on plain light backdrops only
        from creative.elements import derive

        derive.product_cutout = lambda img: ((derive.cutout(img), derive.FLOOD_FILL, None) if derive.has_plain_light_background(img)
                                             else (None, None, None))
    home = resolve_home(home_dir, f"sqlite:///{home_dir / 'creative.db'}")
    store = ElementStore(home, open_database(home.db_url))
    floor = _rss_mb("VmRSS")
    start = time.perf_counter()
    try:
        results = store.add_images(paths, "product")
        methods = sorted({r.element.cutout_method or "no cut-out" for r in results})
        outcome = f"{sum(r.created for r in results)} stored ({', '.join(methods)})"
    except USER_ERRORS as exc:
        outcome = "refused: " + str(exc).split(": ", 1)[-1][:60]
    return {"floor": floor, "peak": _rss_mb(), "seconds": time.perf_counter() - start, "outcome": outcome}


def measure(case: str, work: Path) -> dict:
    folder = work / case.replace(" ", "-").replace(",", "")
    paths = make_inputs(case, folder / "in")
    out = subprocess.run([sys.executable, __file__, "--worker", case, str(folder / "home"), *map(str, paths)],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="batches of 10 and 100 only, no 50x2000px batch")
    parser.add_argument("--case", action="append", help="run only this case (repeatable), e.g. --case bomb")
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        case, home, *paths = args.worker
        print(json.dumps(worker(case, [Path(p) for p in paths], Path(home))))
        return
    cases = ["batch 10", "batch 100"] + ([] if args.quick else ["batch 1000", "big batch"])
    cases += ["largest", "largest, CLI", "largest, GrabCut", "largest, GrabCut, CLI", "24 MP JPEG", "bomb", "bomb, budget off", "photo 2000, old path", "photo 2000"]
    cases = args.case or cases
    print(f"{'case':<22}{'peak RSS MB':>12}{'over floor':>12}{'seconds':>9}  outcome")
    rows = {}
    with tempfile.TemporaryDirectory(prefix="elements-bench-") as tmp:
        for case in cases:
            row = rows[case] = measure(case, Path(tmp))
            over = row["peak"] - row["floor"]
            print(f"{case:<22}{row['peak']:>12.0f}{over:>12.0f}{row['seconds']:>9.1f}  {row['outcome']}", flush=True)
    if "batch 10" in rows:
        growth = {c: r["peak"] - rows["batch 10"]["peak"] for c, r in rows.items() if c.startswith("batch ")}
        print("batch peak over the 10-file baseline: " + ", ".join(f"{c}: {g:+.0f} MB" for c, g in growth.items()))
    if {"photo 2000", "photo 2000, old path"} <= set(rows):
        new, old = rows["photo 2000"], rows["photo 2000, old path"]
        print(f"GrabCut on a 2000x2000 photo over the old path: {new['seconds'] - old['seconds']:+.2f} s, "
              f"peak {new['peak'] - old['peak']:+.0f} MB ({new['peak'] - new['floor']:.0f} vs {old['peak'] - old['floor']:.0f} MB over the floor)")
    print("floor = RSS after imports (CLI: `creative --help`), before the add; Linux, one process per case")


if __name__ == "__main__":
    main()
