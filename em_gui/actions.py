"""The window's actions as a table of small records, and the menus and toolbar built from it.

Each ``ActionSpec`` names its slot as an attribute path on the window ("step",
"files.export_model"); ``build_actions`` makes the QActions (object name ``action_<name>``, so
tests can find them) and connects them to those slots.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import reduce

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu, QStyle, QToolBar

__all__ = ["ACTIONS", "MENUS", "TOOLBAR", "ActionSpec", "build_actions", "build_menus"]


@dataclass(frozen=True)
class ActionSpec:
    """One action: ``name``, menu text, tooltip, ``slot`` (an attribute path on the window),
    shortcut, standard icon, and whether it is a checkable toggle (its slot then gets the
    checked state)."""

    name: str
    text: str
    tip: str
    slot: str
    shortcut: str | None = None
    icon: str | None = None
    checkable: bool = False


ACTIONS: tuple[ActionSpec, ...] = (
    ActionSpec(
        "run",
        "&Run",
        "Run EM until it converges or reaches max iterations",
        "run",
        "Space",
        "SP_MediaPlay",
    ),
    ActionSpec(
        "pause", "&Pause", "Pause after the current half-step", "pause", "Space", "SP_MediaPause"
    ),
    ActionSpec(
        "step",
        "&Step",
        "One full iteration: E-step then M-step",
        "step",
        "Right",
        "SP_MediaSeekForward",
    ),
    ActionSpec(
        "e_step",
        "&E-step",
        "E-step: recompute responsibilities (colours); parameters stay",
        "e_step",
        "E",
    ),
    ActionSpec(
        "m_step",
        "&M-step",
        "M-step: recompute parameters (ellipses) from the responsibilities",
        "m_step",
        "M",
    ),
    ActionSpec(
        "reset",
        "Rese&t",
        "Back to the initial parameters of this seed (iteration 0)",
        "reset",
        "Home",
        "SP_MediaSkipBackward",
    ),
    ActionSpec(
        "reseed",
        "Rese&ed",
        "New random seed: new initial parameters",
        "reseed",
        "R",
        "SP_BrowserReload",
    ),
    ActionSpec(
        "open_csv",
        "&Open CSV…",
        "Load data from a CSV file (preview, columns)",
        "files.open_csv",
        "Ctrl+O",
        "SP_DialogOpenButton",
    ),
    ActionSpec(
        "generate",
        "&New synthetic data",
        "Generate the synthetic preset chosen in the Data panel",
        "generate_data",
        "Ctrl+N",
        "SP_FileIcon",
    ),
    ActionSpec(
        "import_model",
        "&Import model…",
        "Load a model JSON over the current data and continue fitting from it",
        "files.import_model",
        "Ctrl+I",
    ),
    ActionSpec(
        "export_model",
        "E&xport model…",
        "Save the current mixture as model JSON",
        "files.export_model",
        "Ctrl+S",
        "SP_DialogSaveButton",
    ),
    ActionSpec(
        "export_assignments",
        "Export &assignments…",
        "Save label, confidence and responsibilities per row as CSV",
        "files.export_assignments",
    ),
    ActionSpec(
        "export_figure",
        "Export &figure…",
        "Save the scatter plot as PNG or SVG",
        "files.export_figure",
        "Ctrl+E",
    ),
    ActionSpec("quit", "&Quit", "Quit EM Explorer", "close", "Ctrl+Q"),
    ActionSpec(
        "add_point",
        "&Add points",
        "While on, a click on the plot adds a data point",
        "scatter.set_add_point_mode",
        "A",
        "SP_DialogYesButton",
        checkable=True,
    ),
    ActionSpec(
        "equal_aspect",
        "E&qual aspect",
        "Same scale on both axes",
        "scatter.set_equal_aspect",
        checkable=True,
    ),
    ActionSpec(
        "reset_view",
        "Reset &view",
        "Zoom to the data",
        "scatter.reset_view",
        "Ctrl+0",
        "SP_TitleBarNormalButton",
    ),
    ActionSpec(
        "show_change",
        "Show &change per iteration",
        "Plot |change of the objective| per iteration on a log scale",
        "convergence.set_show_change",
        checkable=True,
    ),
    ActionSpec(
        "show_truth",
        "Show &truth",
        "Draw a synthetic preset's true components, dashed",
        "learning.set_show_truth",
        "T",
        checkable=True,
    ),
    ActionSpec(
        "lesson",
        "&Lesson: EM step by step",
        "A guided lesson in a side panel: each step sets up the window",
        "learning.show_lesson",
        "F1",
    ),
    ActionSpec(
        "about", "&About EM Explorer", "What this is, and the versions in use", "show_about"
    ),
    ActionSpec(
        "restore_defaults",
        "Restore &default settings",
        "Forget remembered settings and layout: start as on a first launch",
        "restore_defaults",
    ),
)

#: Menus in order: (title, entries); an entry is an action name, "-" (separator) or a
#: placeholder in braces that the window fills (a submenu or the docks' toggles).
MENUS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("&File", ("open_csv", "generate", "{recent}", "-", "import_model", "export_model",
               "export_assignments", "export_figure", "-", "quit")),
    ("&EM", ("run", "pause", "step", "e_step", "m_step", "-", "reset", "reseed")),
    ("&View", ("equal_aspect", "reset_view", "show_change", "add_point", "show_truth", "-",
               "{docks}", "{toolbar}", "-", "restore_defaults")),
    ("&Help", ("lesson", "-", "about")),
)  # fmt: skip
TOOLBAR: tuple[str, ...] = (
    "open_csv", "export_model", "-", "run", "pause", "step", "e_step", "m_step", "reset", "reseed",
    "-", "add_point", "reset_view",
)  # fmt: skip


def build_actions(window: QMainWindow) -> dict[str, QAction]:
    """A QAction per ``ACTIONS`` entry, added to ``window`` (shortcuts work with the toolbar
    hidden) and connected to its slot (the window's parts it names must exist)."""
    actions: dict[str, QAction] = {}
    for spec in ACTIONS:
        action = QAction(spec.text, window)
        action.setObjectName(f"action_{spec.name}")
        if spec.shortcut is not None:
            action.setShortcut(QKeySequence(spec.shortcut))
        if spec.icon is not None:
            pixmap = getattr(QStyle.StandardPixmap, spec.icon)
            action.setIcon(window.style().standardIcon(pixmap))
        keys = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
        action.setToolTip(f"{spec.tip} ({keys})" if keys else spec.tip)
        action.setStatusTip(spec.tip)
        action.setCheckable(spec.checkable)
        slot = reduce(getattr, spec.slot.split("."), window)
        if spec.checkable:
            action.toggled.connect(slot)
        else:
            action.triggered.connect(lambda _checked=False, slot=slot: slot())
        window.addAction(action)
        actions[spec.name] = action
    return actions


def build_menus(
    window: QMainWindow,
    actions: Mapping[str, QAction],
    recent: QMenu,
    docks: list[QAction],
) -> QToolBar:
    """The menu bar (``MENUS``) and the main toolbar (``TOOLBAR``); returns the toolbar."""
    toolbar = QToolBar("Main")
    toolbar.setObjectName("toolbar_main")
    toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    for entry in TOOLBAR:
        if entry == "-":
            toolbar.addSeparator()
        else:
            toolbar.addAction(actions[entry])
    window.addToolBar(toolbar)
    for title, entries in MENUS:
        menu = window.menuBar().addMenu(title)
        for entry in entries:
            if entry == "-":
                menu.addSeparator()
            elif entry == "{recent}":
                recent.setTitle("Open &recent")
                menu.addMenu(recent)
            elif entry == "{docks}":
                menu.addActions(docks)
            elif entry == "{toolbar}":
                menu.addAction(toolbar.toggleViewAction())
            else:
                menu.addAction(actions[entry])
    return toolbar
