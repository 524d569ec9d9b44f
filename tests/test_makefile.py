"""`make help` lists every target of the Makefile."""

import re
import subprocess
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


def test_make_help_lists_every_target():
    makefile = (BASE_DIR / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z][a-z-]*):", makefile, re.M)) - {"help"}

    listed = subprocess.run(
        ["make", "--no-print-directory", "help"],
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    assert targets
    assert sorted(t for t in targets if not re.search(rf"^make {t} ", listed, re.M)) == []
