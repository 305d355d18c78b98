"""Peak memory and time of reading a big CSV file, and of the command line's ``fit`` on it, before
and after the streaming reader.

"Before" is another checkout of the code (default: /work/main's commit, unpacked with ``git
archive`` into a temporary folder), "after" is this one. Every measurement runs in a fresh
interpreter (PYTHONPATH set to the code measured) and prints its own peak RSS (VmHWM). Files are
made in /tmp: about 200 MB (7.5M rows) and 1 GB (37.5M rows) of two columns, each also with a bad
last row. Cases: read a clean file; ``fit`` a clean file; ``fit`` with a bad last row (the error);
``fit --drop-invalid`` with a bad last row. A run is limited to --limit-gb of address space
(reported as "over the limit" when it hits it).

    python benchmarks/read_memory.py                  # 200 MB and 1 GB, before and after
    python benchmarks/read_memory.py --sizes 200 --before /path/to/old/checkout

Not a test: it prints figures.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from _peak import PEAK_RSS_SOURCE

ROOT = Path(__file__).resolve().parents[1]
ROWS_PER_MB = 37_500  # about 26.4 bytes a row: "-1.2345678901,2.3456789012\n"

_SCRIPT = """
import json, resource, sys, time
{peak_rss}
resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
start = time.perf_counter()
status = 0
try:
    if {mode!r} == "read":
        from em_engine.data import read_csv
        read_csv({path!r})
    else:
        from em_engine.cli import main
        status = main(["fit", {path!r}, "-k", "3", "--max-iter", "3", "--n-init", "1", *{extra!r}])
except MemoryError:
    status = "over the limit"
print(json.dumps({{"seconds": time.perf_counter() - start, "peak": peak_rss_mb(),
                  "status": status}}))
"""


def make_csv(path: Path, rows: int, bad_last: bool) -> None:
    """Two columns of normal numbers, a header, and maybe a last row 'abc'."""
    if path.exists():
        return
    rng = np.random.default_rng(0)
    with open(path, "w") as f:
        f.write("x,y\n")
        for start in range(0, rows, 1_000_000):
            block = rng.normal(size=(min(1_000_000, rows - start), 2))
            block[: len(block) // 2] += 4.0
            np.savetxt(f, block, fmt="%.10f", delimiter=",")
        if bad_last:
            f.write("1.0,abc\n")


def measure(code: Path, mode: str, path: Path, extra: list[str], limit_gb: float) -> dict:
    script = _SCRIPT.format(
        peak_rss=PEAK_RSS_SOURCE,
        limit=int(limit_gb * 2**30),
        mode=mode,
        path=str(path),
        extra=extra,
    )
    env = dict(os.environ, PYTHONPATH=str(code), OMP_NUM_THREADS="1")
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=False
    )
    last = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""
    try:
        return json.loads(last)
    except json.JSONDecodeError:  # killed (or crashed) before it printed its figures
        status = f"ended with exit status {out.returncode} {out.stderr[-200:]}".strip()
        return {"seconds": float("nan"), "peak": float("nan"), "status": status}


def unpack(commit: str) -> Path:
    """The code of a commit of this repository, in a temporary folder."""
    folder = Path(tempfile.mkdtemp(prefix="em-before-"))
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", commit], capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[200, 1000], metavar="MB")
    parser.add_argument("--before", help="checkout to compare with (default: /work/main's HEAD)")
    parser.add_argument("--limit-gb", type=float, default=12.0)
    parser.add_argument("--folder", default="/tmp", help="where the CSV files are made")
    args = parser.parse_args()
    if args.before:
        before = Path(args.before)
    else:
        commit = subprocess.run(
            ["git", "-C", "/work/main", "rev-parse", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
        before = unpack(commit)
    cases = [
        ("read clean", "read", False, []),
        ("fit clean", "fit", False, []),
        ("fit, bad last row", "fit", True, []),
        ("fit --drop-invalid", "fit", True, ["--drop-invalid"]),
    ]
    print(f"before: {before}\nafter:  {ROOT}")
    print(f"{'file':>8} {'case':<20} {'before MB':>10} {'s':>7} {'after MB':>10} {'s':>7}")
    for size in args.sizes:
        rows = size * ROWS_PER_MB
        for name, mode, bad, extra in cases:
            path = Path(args.folder) / f"em_read_{size}mb{'_bad' if bad else ''}.csv"
            make_csv(path, rows, bad)
            old = measure(before, mode, path, extra, args.limit_gb)
            new = measure(ROOT, mode, path, extra, args.limit_gb)
            label = f"{path.stat().st_size / 2**20:.0f} MB"
            print(
                f"{label:>8} {name:<20} {old['peak']:>10.0f} {old['seconds']:>7.1f} "
                f"{new['peak']:>10.0f} {new['seconds']:>7.1f}"
                + (f"  (before: {old['status']})" if old["status"] not in (0, 2) else "")
                + (f"  (after: {new['status']})" if new["status"] not in (0, 2) else ""),
                flush=True,
            )


if __name__ == "__main__":
    main()
