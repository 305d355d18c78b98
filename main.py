"""EM Explorer's launcher in a checkout: ``python main.py [fit|score|select ...]``.

Installed, the same dispatcher (em_gui.launcher.main) is the ``em-explorer`` and
``em-explorer-cli`` commands; build.spec builds the desktop app from this file.
"""

from __future__ import annotations

import sys

from em_gui.launcher import main

if __name__ == "__main__":
    sys.exit(main())
