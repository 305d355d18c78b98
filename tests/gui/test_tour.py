"""The screenshot tour (em_gui.tour): every journey writes a picture of the requested size that is
not blank; a journey that does not reach its state ends the tour with exit status 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtGui import QImage

from em_gui.tour import BAD_CSV_CELL, BAD_CSV_ROW, JOURNEYS, main
from em_gui.tour_learning import LEARNING_PARTS

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = sorted(p.stem for p in (ROOT / "resources" / "samples").glob("*.csv"))
#: Pictures of a fit, where points take their component's colour.
FITTED = ("e-step", "m-step", "converged", "samples", "one-d", "big", "history", "missing-values")


def rgb(path: Path) -> np.ndarray:
    """(H, W, 3) int array of a PNG."""
    image = QImage(str(path)).convertToFormat(QImage.Format.Format_RGB32)
    words = np.frombuffer(image.constBits(), np.uint8).reshape(
        image.height(), image.bytesPerLine() // 4, 4
    )
    return words[:, : image.width(), 2::-1].astype(int)


def expected_names() -> list[str]:
    names = []
    for number, journey in enumerate(JOURNEYS, start=1):
        parts = {"samples": SAMPLES, "animation": ["dialog", "frame"], **LEARNING_PARTS}.get(
            journey, [""]
        )
        names += [f"{number:02d}-{journey}" + (f"-{part}" if part else "") for part in parts]
    return names


def test_the_whole_tour_writes_one_picture_per_journey(qapp, tmp_path, capsys):
    outdir = tmp_path / "shots"
    # 250,000 points: above the density-image threshold, quicker than the default million
    assert main([str(outdir), "--size", "1100x720", "--big-points", "250000"]) == 0
    lines = capsys.readouterr().out.splitlines()
    names = expected_names()
    assert sorted(p.stem for p in outdir.glob("*.png")) == sorted(names)
    assert [line.split()[0] for line in lines] == [str(outdir / f"{n}.png") for n in names]
    for name in names:
        pixels = rgb(outdir / f"{name}.png")
        size = (360, 480) if name.endswith("animation-frame") else (720, 1100)  # the GIF's
        assert pixels.shape == (*size, 3), name
        distinct = len(np.unique(pixels @ np.array([1 << 16, 1 << 8, 1])))
        coloured = float((np.ptp(pixels, axis=2) > 60).mean())
        many = 200 if name.endswith("animation-frame") else 500  # a GIF: at most 256 colours
        assert distinct > many, f"{name}: {distinct} colours: blank?"
        fitted = name[3:].startswith(FITTED)
        assert coloured > (0.02 if fitted else 0.005), f"{name}: {coloured:.1%} coloured"
    line = {line.split()[0]: line for line in lines}
    bad = line[str(outdir / f"{JOURNEYS.index('bad-csv') + 1:02d}-bad-csv.png")]
    assert f"row {BAD_CSV_ROW}" in bad and BAD_CSV_CELL in bad
    big = line[str(outdir / f"{JOURNEYS.index('big') + 1:02d}-big.png")]
    assert "250,000 points" in big and "converged" in big


def test_a_journey_that_does_not_reach_its_state_ends_the_tour_with_status_2(
    qapp, tmp_path, capsys
):
    status = main([str(tmp_path), "--only", "big", "--big-points", "250000", "--timeout", "0.05"])
    assert status == 2
    assert capsys.readouterr().err.startswith("tour failed: big: not reached within 0.05 s")
    assert list(tmp_path.glob("*.png")) == []


def test_arguments_are_checked_and_the_module_runs():
    with pytest.raises(SystemExit) as exit_info:
        main(["out", "--only", "nowhere"])
    assert exit_info.value.code == 2
    with pytest.raises(SystemExit):
        main(["out", "--size", "1280"])
    result = subprocess.run(
        [sys.executable, "-m", "em_gui.tour", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env=dict(os.environ, QT_QPA_PLATFORM="offscreen"),
    )
    assert result.returncode == 0 and "OUTDIR" in result.stdout
    assert all(journey in result.stdout for journey in JOURNEYS)
