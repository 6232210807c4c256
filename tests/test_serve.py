"""`propersim serve` starts a web server that hands the app to a browser."""

import socket
import subprocess
import sys
import time

import httpx

from tests.conftest import REPO


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_starts_and_serves_the_app_page():
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "propersim_tui.cli", "serve", "--host", "127.0.0.1",
                             "--port", str(port)], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stdout.read().decode()
                assert time.monotonic() < deadline, "server did not start within 30 s"
                time.sleep(0.2)
        assert response.status_code == 200
        assert "ProPerSim" in response.text
    finally:
        proc.terminate()
        proc.wait(timeout=10)
