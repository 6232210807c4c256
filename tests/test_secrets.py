"""An API key planted in the environment is sent to the server and written nowhere: not in any file a run
writes (run folder, response cache, home), not in stdout or stderr, not even when the server fails."""

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REFERENCE_PERSONA
from tests.llm_servers import FakeOpenAIServer, role_answer

KEY = "sk-planted-0123456789abcdefSECRET"
KEY_VAR = "PROPERSIM_SECRET_TEST_KEY"


def _config(path: Path, base_url: str) -> Path:
    """All three roles on the server, the response cache on, one-hour steps (a short day)."""
    path.write_text(f'step_seconds = 3600\ndays = 1\nassistant = "llm-ars-memory"\n[user]\nkind = "llm"\n'
                    f'[judge]\nkind = "llm"\n[backends.default]\nkind = "openai"\nmodel = "m"\n'
                    f'base_url = "{base_url}"\napi_key_env = "{KEY_VAR}"\ncache = true\nmax_retries = 1\n'
                    f'timeout_s = 5.0\n')
    return path


def _run(tmp_path: Path, config: Path, out: str) -> subprocess.CompletedProcess:
    env = {**os.environ, KEY_VAR: KEY, "HOME": str(tmp_path / "home"), "COLUMNS": "200",
           "PROPERSIM_LLM_CACHE": str(tmp_path / "cache")}
    return subprocess.run([sys.executable, "-m", "propersim_tui.cli", "--batch", "--config", str(config),
                           "--personas", REFERENCE_PERSONA, "--out", str(tmp_path / out)],
                          capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)


def _files_holding_the_key(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and KEY.encode() in p.read_bytes()]


def test_a_run_writes_the_key_nowhere(tmp_path):
    (tmp_path / "home").mkdir()
    with FakeOpenAIServer(role_answer, faults=["500", "malformed"], retry_after="0") as server:
        done = _run(tmp_path, _config(tmp_path / "run.toml", server.base_url), "out")
        headers = [r["headers"].get("Authorization") for r in server.requests]
    assert done.returncode == 0, done.stderr[-2000:]
    assert headers and all(h == f"Bearer {KEY}" for h in headers)  # the key was in play on every request
    run_dir = tmp_path / "out" / f"{REFERENCE_PERSONA}__llm-ars-memory__s0"
    written = [p for p in (tmp_path / "out").rglob("*") if p.is_file()]
    assert (run_dir / "calls.jsonl") in written and (run_dir / "run.toml") in written
    assert any((tmp_path / "cache").rglob("*")), "the response cache was written"
    assert KEY_VAR in (run_dir / "run.toml").read_text()  # the variable's NAME is recorded, never its value
    assert _files_holding_the_key(tmp_path) == []
    assert KEY not in done.stdout and KEY not in done.stderr


def test_a_failing_server_does_not_leak_the_key_into_the_error(tmp_path):
    (tmp_path / "home").mkdir()
    with FakeOpenAIServer(role_answer, faults=["500"] * 20, retry_after="0") as server:
        done = _run(tmp_path, _config(tmp_path / "run.toml", server.base_url), "out")
        assert server.requests and server.requests[0]["headers"].get("Authorization") == f"Bearer {KEY}"
    # failed calls are counted (the cost table's "failed" column) and logged to stderr, retry by retry
    assert done.returncode == 0 and "failed" in done.stdout and "retry" in done.stderr, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    assert KEY not in done.stdout and KEY not in done.stderr
    assert _files_holding_the_key(tmp_path) == []
