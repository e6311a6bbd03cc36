"""Live progress on a real terminal: ``dispatch demo`` in a pseudo-terminal shows
the hop lines and a live status line while the run goes on."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

from conftest import PROVIDER_KEYS

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def test_a_terminal_gets_hop_lines_under_a_live_status(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in PROVIDER_KEYS}
    env.update(
        DISPATCH_CHECKPOINTS=str(tmp_path / "runs.sqlite"),
        COLUMNS="160",
        TERM="xterm-256color",
    )
    env.pop("NO_COLOR", None)
    main, child = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "dispatch", "demo"],  # progress by default on a terminal
        stdin=child, stdout=subprocess.DEVNULL, stderr=child, env=env, close_fds=True,
    )  # fmt: skip
    os.close(child)
    chunks: list[bytes] = []
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        ready, _, _ = select.select([main], [], [], 1.0)
        if ready:
            try:
                data = os.read(main, 65536)
            except OSError:  # the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    os.close(main)
    assert proc.wait(timeout=60) == 0
    screen = ANSI.sub("", b"".join(chunks).decode("utf-8", "replace"))
    assert re.search(r"running: \d+ hops?, \$\d+\.\d{6} spent", screen)
    assert len(re.findall(r"(?<!\w)hop \S+ .* tok \$", screen)) >= 10  # a line per hop
