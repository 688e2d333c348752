"""Time `creative demo` end to end on a fresh home (cold: GGUF conversion) and again (warm).

Prints a table with each run's wall time against the 10-minute budget of issue 6. Run:
    .venv/bin/python benchmarks/demo_bench.py
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BUDGET_SECONDS = 600


def run_demo(home: Path, out: Path) -> float:
    env = {**os.environ, "CREATIVE_HOME": str(home)}
    env.pop("CREATIVE_DB_URL", None)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "from creative.cli import main; main()", "demo", "--out", str(out)],
                   env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2, help="first run is cold, the rest reuse the home")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="demo-bench-") as scratch:
        home = Path(scratch) / "home"
        rows = []
        for i in range(args.runs):
            seconds = run_demo(home, Path(scratch) / f"demo-out-{i}")
            rows.append(("cold (fresh home, GGUF conversion)" if i == 0 else "warm (cached model and copy)", seconds))
    print(f"{'run':<40}{'seconds':>10}{'share of 10-min budget':>26}")
    for label, seconds in rows:
        print(f"{label:<40}{seconds:>10.1f}{seconds / BUDGET_SECONDS:>25.0%}")


if __name__ == "__main__":
    main()
