"""`make run`'s supervisor (pdportal.devserver) after a child died: a SIGTERM that races the clean-up still ends
everything cleanly, with no traceback and no child left. Fast: the children are stand-ins, nothing real starts."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# Runs devserver.main() with stand-in children: the worker exits at once, the others sleep. `WHEN` says where the
# group's SIGTERM lands: "cleanup" as the clean-up begins (the first stop signal it ignores), "announce" while the
# dead child is being reported.
SUPERVISOR = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path

    from pdportal import devserver

    run_dir, when = Path(sys.argv[1]), sys.argv[2]
    devserver.RUN_DIR = run_dir
    pids = run_dir / "pids"
    real_start = devserver.Children.start

    def start(self, name, args, env, *, quiet=True):
        report = f"open({args[-1]!r}, 'w').write('{{\\"api_url\\": \\"http://pd.test\\"}}')"
        code = {"worker": "raise SystemExit(3)", "migrate": "pass", "bootstrap": report}.get(
            name, "import time; time.sleep(120)"
        )
        proc = real_start(self, name, [sys.executable, "-c", code], env, quiet=True)
        with pids.open("a") as f:
            f.write(f"{proc.pid}\\n")
        return proc

    devserver.Children.start = start
    devserver.wait_for_http = lambda *args, **kwargs: None
    devserver.wait_for_port = lambda *args, **kwargs: None
    sent = []

    def sigterm_once():
        if not sent:
            sent.append(True)
            os.kill(os.getpid(), signal.SIGTERM)  # what `make` does to the whole group

    real_signal = signal.signal

    def hooked_signal(signum, handler):
        if when == "cleanup" and handler is signal.SIG_IGN:
            sigterm_once()
        return real_signal(signum, handler)

    signal.signal = hooked_signal
    real_say = devserver.say

    def hooked_say(message):
        real_say(message)
        if when == "announce" and "exited with" in message:
            sigterm_once()

    devserver.say = hooked_say
    sys.exit(devserver.main([]))
    """
)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.parametrize("when", ["cleanup", "announce"])
def test_a_sigterm_racing_the_clean_up_after_a_child_died_stops_everything_without_a_traceback(tmp_path, when):
    env = {
        **os.environ,
        "PAGERDUTY_API_TOKEN": "own-account",  # no sandbox
        "REDIS_URL": "redis://127.0.0.1:1/0",  # no embedded Redis
        "PORT": "1",
    }
    result = subprocess.run(
        [sys.executable, "-c", SUPERVISOR, str(tmp_path), when],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    pids = [int(line) for line in (tmp_path / "pids").read_text().split()]
    left = [pid for pid in pids if _alive(pid)]
    for pid in left:  # never leave one behind, even when the test fails
        os.kill(pid, 9)
    assert "Traceback" not in result.stderr, result.stderr
    assert "worker exited with 3" in result.stdout
    assert not left, f"children left running: {left}"
    assert result.returncode in (0, 1), (result.returncode, result.stderr)
    assert "stopped" in result.stdout.splitlines()[-1], result.stdout
