"""The checkout a window benchmark measures: STUDIO_REPO, else the repository this file is in.

Imported before anything of the project: it puts that checkout first on sys.path (and Qt
offscreen unless told otherwise); `check()` then makes sure micrograd came from there.
"""
import os
import subprocess
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
REPO = os.path.abspath(os.environ.get("STUDIO_REPO") or os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, REPO)


def check():
    """Exit unless the micrograd imported is the measured checkout's."""
    imported = os.path.abspath(sys.modules["micrograd"].__file__)
    if not imported.startswith(os.path.join(REPO, "micrograd") + os.sep):
        raise SystemExit(f"imported micrograd from {imported}, not {REPO}")


def revision():
    """The measured checkout's short commit, or 'unknown revision'."""
    rev = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout
    return rev.strip() or "unknown revision"
