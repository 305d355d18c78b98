"""Package budgets: build time, one-folder size, and time from launch to the READY line.

Builds dist/em-explorer/ with build.spec into a temporary folder (or measures an existing build),
then prints the build time, the folder's total size with its 15 largest files, and the median of 5
launches of ``em-explorer --smoke-test`` (wall time from process start to the READY line on
stdout). Targets (issue 4): size <= 150 MB, launch < 2 s.

    python benchmarks/bench_package.py                       # build, then measure
    python benchmarks/bench_package.py --dist dist/em-explorer   # measure an existing build
    python benchmarks/bench_package.py --keep build-bench        # build there and keep it

Not a test. Sizes are in MB (10^6 bytes) and MiB; symlinks are not counted twice.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SIZE_TARGET_MB = 150.0
LAUNCH_TARGET_S = 2.0


def build(work: Path) -> tuple[Path, float]:
    """Run PyInstaller on build.spec, dist/ and build/ under ``work``; return (folder, seconds)."""
    command = [
        sys.executable,
        "-m",
        "PyInstaller",
        "--noconfirm",
        "--log-level",
        "WARN",
        "--distpath",
        str(work / "dist"),
        "--workpath",
        str(work / "build"),
        str(REPO / "build.spec"),
    ]
    start = time.perf_counter()
    subprocess.run(command, cwd=work, check=True)
    return work / "dist" / "em-explorer", time.perf_counter() - start


def file_sizes(folder: Path) -> list[tuple[int, str]]:
    """(bytes, path relative to ``folder``) for every regular file, symlinks excluded."""
    return [
        (path.stat().st_size, path.relative_to(folder).as_posix())
        for path in folder.rglob("*")
        if path.is_file() and not path.is_symlink()
    ]


def launch_to_ready(executable: Path) -> float:
    """Seconds from starting ``executable --smoke-test`` to its READY line (exit 0 checked)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
    env["QT_QPA_PLATFORM"] = "offscreen"
    start = time.perf_counter()
    with subprocess.Popen(
        [str(executable), "--smoke-test"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith("READY"):
                elapsed = time.perf_counter() - start
                break
        else:
            raise RuntimeError(f"{executable} --smoke-test printed no READY line")
        process.wait(timeout=60)
    if process.returncode != 0:
        raise RuntimeError(f"{executable} --smoke-test exited with {process.returncode}")
    return elapsed


def report(folder: Path, build_seconds: float | None, launches: int) -> None:
    """Print the size table and launch timings for the one-folder build in ``folder``."""
    sizes = sorted(file_sizes(folder), reverse=True)
    total = sum(size for size, _ in sizes)
    if build_seconds is not None:
        print(f"build time: {build_seconds:.1f} s")
    verdict = "ok" if total / 1e6 <= SIZE_TARGET_MB else "OVER"
    print(
        f"onedir size: {total / 1e6:.1f} MB ({total / 2**20:.1f} MiB) in {len(sizes)} files"
        f"  [target <= {SIZE_TARGET_MB:g} MB: {verdict}]"
    )
    print("largest files:")
    for size, name in sizes[:15]:
        print(f"  {size / 1e6:7.2f} MB  {name}")
    executable = folder / ("em-explorer-cli.exe" if sys.platform == "win32" else "em-explorer")
    times = [launch_to_ready(executable) for _ in range(launches)]
    median = statistics.median(times)
    verdict = "ok" if median < LAUNCH_TARGET_S else "OVER"
    print(
        f"launch to READY: median {median:.2f} s of {launches}"
        f" (min {min(times):.2f}, max {max(times):.2f})"
        f"  [target < {LAUNCH_TARGET_S:g} s: {verdict}]"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dist", type=Path, help="measure this existing dist/em-explorer folder")
    parser.add_argument("--keep", type=Path, help="build into this folder and keep it")
    parser.add_argument("--launches", type=int, default=5, help="smoke-test launches (default 5)")
    args = parser.parse_args()
    if args.dist is not None:
        report(args.dist.resolve(), None, args.launches)
        return 0
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
        folder, seconds = build(args.keep.resolve())
        report(folder, seconds, args.launches)
        return 0
    with tempfile.TemporaryDirectory(prefix="em-explorer-bench-") as work:
        folder, seconds = build(Path(work))
        report(folder, seconds, args.launches)
    return 0


if __name__ == "__main__":
    sys.exit(main())
