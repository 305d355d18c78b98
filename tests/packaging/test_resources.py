"""resource_path: the shipped resources from a checkout, and the layout of a PyInstaller bundle."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from em_engine._resources import resource_path, resources_dir

REPO = Path(__file__).resolve().parents[2]


def test_checkout_resources_folder_is_the_repository_one() -> None:
    assert not hasattr(sys, "_MEIPASS")
    assert resources_dir() == REPO / "resources"
    assert resource_path() == REPO / "resources"
    assert resource_path().is_absolute()


def test_finds_icons_schema_samples_and_desktop_entry() -> None:
    png = resource_path("icon.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert resource_path("icon.ico").read_bytes()[:4] == b"\x00\x00\x01\x00"  # ICO, type icon
    assert resource_path("icon.icns").read_bytes()[:4] == b"icns"
    schema = json.loads(resource_path("model.schema.json").read_text(encoding="utf-8"))
    assert schema["type"] == "object"
    samples = sorted(p.name for p in resource_path("samples").glob("*.csv"))
    assert "blobs.csv" in samples
    assert resource_path("samples", "blobs.csv").read_text(encoding="utf-8").startswith("x,y")
    desktop = resource_path("em-explorer.desktop").read_text(encoding="utf-8")
    assert desktop.startswith("[Desktop Entry]")
    assert "Exec=em-explorer" in desktop


def test_icon_files_hold_every_size_the_platforms_ask_for() -> None:
    """icon.png is 256 px square; icon.ico has 16..256 px entries; icon.icns 32..1024 px ones."""
    png = resource_path("icon.png").read_bytes()
    assert int.from_bytes(png[16:20], "big") == int.from_bytes(png[20:24], "big") == 256
    ico = resource_path("icon.ico").read_bytes()
    count = int.from_bytes(ico[4:6], "little")
    widths = {ico[6 + 16 * i] or 256 for i in range(count)}
    assert {16, 32, 48, 256} <= widths
    icns = resource_path("icon.icns").read_bytes()
    assert int.from_bytes(icns[4:8], "big") == len(icns)
    types, offset = set(), 8
    while offset < len(icns):
        types.add(icns[offset : offset + 4].decode("ascii"))
        offset += int.from_bytes(icns[offset + 4 : offset + 8], "big")
    assert {"ic07", "ic08", "ic09", "ic10"} <= types  # 128, 256, 512, 1024 px


def test_bundle_layout_uses_meipass(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    bundle = tmp_path / "_internal"
    (bundle / "resources" / "samples").mkdir(parents=True)
    (bundle / "resources" / "samples" / "blobs.csv").write_text("x,y\n1,2\n", encoding="utf-8")
    monkeypatch.setattr(sys, "_MEIPASS", str(bundle), raising=False)
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    assert resources_dir() == bundle.resolve() / "resources"
    assert resource_path("samples", "blobs.csv").read_text(encoding="utf-8") == "x,y\n1,2\n"
    assert resource_path("icon.png") == bundle.resolve() / "resources" / "icon.png"
    assert not resource_path("icon.png").exists()  # nothing falls back to the checkout


@pytest.mark.parametrize("parts", [("..", "README.md"), ("samples", "..", "..", "x"), ("/etc",)])
def test_paths_outside_resources_are_refused(parts: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match="must stay inside"):
        resource_path(*parts)
