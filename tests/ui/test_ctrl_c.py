"""Ctrl-C in the terminal quits the window with exit code 130 (a real process)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from planner_app.core.resources import sample_topology_paths


def test_ctrl_c_quits_the_window_with_130(tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", HOME=str(tmp_path),
               XDG_CONFIG_HOME=str(tmp_path / "config"), XDG_DATA_HOME=str(tmp_path / "data"),
               XDG_CACHE_HOME=str(tmp_path / "cache"))  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "planner_app", "gui", str(sample_topology_paths()["smart_home"])],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        time.sleep(6)  # let the window come up and enter the event loop
        assert proc.poll() is None, proc.communicate()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err
