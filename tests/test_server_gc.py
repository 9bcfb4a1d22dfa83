"""A server process builds its app, then settles the garbage collector (kitwright.app): what
exists then lives as long as the process and is no longer scanned, and the young generation
is collected less often than twice a request."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PROBE = """
import gc
from kitwright.app import GC_YOUNG_THRESHOLD, app_from_env
before = gc.get_freeze_count()
app_from_env()
print(before, gc.get_freeze_count(), gc.get_threshold()[0] == GC_YOUNG_THRESHOLD)
"""


def test_the_uvicorn_factory_freezes_what_it_built_and_raises_the_young_threshold(tmp_path: Path) -> None:
    env = dict(os.environ, KITWRIGHT_DATABASE_URL=f"sqlite:///{tmp_path / 'gc.db'}")
    subprocess.run([sys.executable, "-m", "kitwright.cli.main", "migrate"], env=env, check=True,
                   capture_output=True, timeout=120)
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, check=True, capture_output=True, text=True,
                         timeout=120).stdout.split()
    assert out[0] == "0" and int(out[1]) > 10_000 and out[2] == "True", out
