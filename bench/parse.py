"""DAG parse time: each DAG file in dags/ against a hand-written DAG with the same operators.

Each file is parsed in a fresh interpreter after ``import airflow.sdk`` (Airflow's own import is
not the DAG file's cost), REPEAT times; prints the median per file and the ratio to the baseline.
Run: ``make bench`` or ``.venv/bin/python bench/parse.py``.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "bench" / "baseline" / "ml_training_handwritten.py"
REPEAT = int(sys.argv[1]) if len(sys.argv) > 1 else 5

PROBE = """
import json, runpy, sys, time
import airflow.sdk
t = time.perf_counter()
runpy.run_path(sys.argv[1])
print(json.dumps(time.perf_counter() - t))
"""


def parse_seconds(path: Path) -> float:
    times = []
    for _ in range(REPEAT):
        out = subprocess.run([sys.executable, "-c", PROBE, str(path)], capture_output=True, text=True, check=True)
        times.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return statistics.median(times)


def main() -> None:
    base = parse_seconds(BASELINE)
    print(f"baseline  {BASELINE.name:40} {base * 1000:8.1f} ms")
    for path in sorted((ROOT / "dags").glob("*.py")):
        seconds = parse_seconds(path)
        print(f"asl       {path.name:40} {seconds * 1000:8.1f} ms   ratio {seconds / base:5.2f}x")


if __name__ == "__main__":
    main()
