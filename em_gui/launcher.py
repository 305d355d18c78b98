"""The program's one dispatcher, shared by ``main.py`` (a checkout), the installed ``em-explorer``
and ``em-explorer-cli`` commands (pyproject.toml's entry points) and the PyInstaller build.

No arguments (or GUI options such as --smoke-test) start the desktop window; a subcommand
(fit, score, select) or --version runs the command line, which never imports Qt.
"""

from __future__ import annotations

import sys

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Dispatch to the command line or the GUI; return the process exit status."""
    from em_engine.cli import COMMAND_WORDS
    from em_engine.cli import main as cli_main

    args = sys.argv[1:] if argv is None else argv
    if args and args[0] in COMMAND_WORDS:
        return cli_main(args)
    from em_gui.app import run_app

    return run_app(args)
