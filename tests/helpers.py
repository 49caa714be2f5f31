"""Small builders for test files and workspaces."""

from __future__ import annotations

import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from fiable import Workspace
from fiable.samples import handbook_dir


def copy_handbook(dest: Path) -> Path:
    target = dest / "handbook"
    shutil.copytree(handbook_dir(), target, ignore=shutil.ignore_patterns("*.jsonl"))
    return target


def fake_workspace(path: Path, **settings) -> Workspace:
    settings.setdefault("embedder", "hashing")
    settings.setdefault("generator", "fake")
    settings.setdefault("min_relevance", 0.05)
    return Workspace.open(path, create=True, **settings)


def make_pdf(path: Path, pages: list[str]) -> Path:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), pagesize=A4, invariant=1)
    for text in pages:
        y = 800
        for line in text.split("\n"):
            c.drawString(72, y, line)
            y -= 16
        c.showPage()
    c.save()
    return path


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    """Run ``fiable ARGS`` in-process: (exit code, stdout, stderr)."""
    from fiable.cli import main

    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


@contextmanager
def serve_app(app: Any) -> Iterator[str]:
    """A server app run by uvicorn in a thread on 127.0.0.1 and a free port; yields its URL."""
    import threading
    import time

    import uvicorn

    instance = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0,
                                             log_level="warning", lifespan="on"))
    thread = threading.Thread(target=instance.run, name="fiable-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not instance.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the test server did not start"
        time.sleep(0.02)
    port = instance.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        instance.should_exit = True
        thread.join(timeout=15)


@contextmanager
def serve_process(workspace: Path, env: dict[str, str]) -> Iterator[tuple[Any, str]]:
    """`python -m fiable -w WORKSPACE serve` on a free loopback port, with ``env`` added to
    the environment; yields (process, URL) once /readyz answers; terminated afterwards."""
    import os
    import socket
    import subprocess
    import sys
    import time

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "fiable", "-w", str(workspace), "serve",
                             "--port", str(port)], env={**os.environ, **env},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None:
                raise AssertionError("fiable serve exited: "
                                     + proc.stderr.read().decode()[-2000:])
            assert time.monotonic() < deadline, "fiable serve did not answer /readyz in 60 s"
            time.sleep(0.1)
        yield proc, url
    finally:
        if proc.poll() is None:
            proc.terminate()
        proc.wait(30)
