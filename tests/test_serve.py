"""`propersim serve` starts a web server that hands the app to a browser: the page, and the app itself
started behind the page's websocket, as a browser would, drawing the live simulation."""

import asyncio
import re
import socket
import subprocess
import sys
import time

import aiohttp
import httpx

ANSI = re.compile(rb"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\x1b[=>]")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_page(proc: subprocess.Popen, url: str) -> httpx.Response:
    deadline = time.monotonic() + 30
    while True:
        try:
            return httpx.get(url, timeout=2)
        except httpx.TransportError:
            assert proc.poll() is None, proc.stdout.read().decode()
            assert time.monotonic() < deadline, "server did not start within 30 s"
            time.sleep(0.2)


async def _screen_text(url: str, wanted: tuple[str, ...], timeout: float = 60) -> str:
    """What the app draws over the websocket (escape sequences removed), until every `wanted` text shows
    or `timeout` seconds pass (a closing handshake that never ends included)."""
    drawn = bytearray()

    def text() -> str:
        return ANSI.sub(b"", bytes(drawn)).decode("utf-8", "replace")

    try:
        async with asyncio.timeout(timeout):
            async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
                async for message in ws:
                    if message.type == aiohttp.WSMsgType.BINARY:
                        drawn += message.data
                    elif message.type == aiohttp.WSMsgType.TEXT:
                        drawn += message.data.encode()
                    if all(w in text() for w in wanted):
                        return text()
    except TimeoutError:
        pass
    return text()


def test_serve_starts_and_serves_the_app_page_and_the_app(tmp_path):
    port = _free_port()
    # run from a scratch folder: the app behind the page records its live run under ./saves
    proc = subprocess.Popen([sys.executable, "-m", "propersim_tui.cli", "serve", "--host", "127.0.0.1",
                             "--port", str(port)], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        response = _wait_for_page(proc, f"http://127.0.0.1:{port}/")
        assert response.status_code == 200 and "ProPerSim" in response.text
        text = asyncio.run(_screen_text(f"ws://127.0.0.1:{port}/ws?width=140&height=40",
                                        ("Rosa Delgado", "simulated", "Pause/Resume")))
        assert "Rosa Delgado" in text and "simulated" in text and "Pause/Resume" in text, text[-2000:]
        assert list((tmp_path / "saves").glob(".live-*")), "the app behind the page started no live run"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
