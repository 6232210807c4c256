"""The LLM roles from the command line, against a real OpenAI-compatible HTTP server on loopback
(a scripted one: the answers are fakes, the HTTP, retries and the run are real)."""

import json
import os
import subprocess
import sys

import pytest

from engine.config import RunConfig
from engine.errors import RunError
from propersim_tui.cli import build_parser, llm_fields
from tests.conftest import REFERENCE_PERSONA, REPO
from tests.llm_servers import FakeOpenAIServer, role_answer

ENV = {**os.environ, "COLUMNS": "200"}


def _run(*args: str, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "propersim_tui.cli", *args], capture_output=True, text=True,
                          cwd=REPO, env=env or ENV, timeout=300)


def test_batch_with_all_three_roles_on_an_openai_server(tmp_path):
    out = tmp_path / "out"
    with FakeOpenAIServer(role_answer, faults=["429", "500", "malformed"], retry_after="0") as server:
        result = _run("--batch", "--backend", "openai", "--base-url", server.base_url, "--model", "test-model",
                      "--api-key-env", "TEST_API_KEY",
                      "--personas", REFERENCE_PERSONA, "--assistant", "properassistant", "--days", "1",
                      "--out", str(out), env=ENV | {"TEST_API_KEY": "sk-planted-secret-123"})
        requests = list(server.requests)
    assert result.returncode == 0, result.stderr[-2000:]
    run_dir = out / f"{REFERENCE_PERSONA}__llm-properassistant__s0"
    config = (run_dir / "run.toml").read_text()
    assert 'kind = "llm"' in config and "test-model" in config
    calls = [json.loads(line) for line in (run_dir / "calls.jsonl").read_text().splitlines()]
    roles = {c["role"] for c in calls}
    assert roles == {"user", "judge", "assistant"}
    assert sum(c["role"] == "user" for c in calls) <= 40  # the day's plan (+ re-asks)
    steps = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    assert steps and any(c["rating"]["total"] is not None for s in steps for c in s["candidates"])
    assert any(s["candidates"][s["delivered"]]["text"] == "Put on a favourite record?" for s in steps)
    assert len(requests) >= len(calls)  # the faults were retried, not turned into scores
    assert "calls" in result.stdout and "prompt tokens" in result.stdout  # the per-role cost table
    assert requests[0]["headers"].get("Authorization") == "Bearer sk-planted-secret-123"
    for path in run_dir.rglob("*"):  # the key is sent, and written nowhere
        if path.is_file():
            assert b"sk-planted-secret-123" not in path.read_bytes(), path
    assert "sk-planted-secret-123" not in result.stdout + result.stderr


def test_a_cached_backend_answers_a_rerun_from_the_cache(tmp_path):
    config = tmp_path / "cached.toml"
    with FakeOpenAIServer(role_answer) as server:
        config.write_text(f'assistant = "llm-no-memory"\ndays = 1\n[backends.assistant]\nkind = "openai"\n'
                          f'base_url = "{server.base_url}"\nmodel = "m"\ncache = true\n')
        env = ENV | {"PROPERSIM_LLM_CACHE": str(tmp_path / "cache")}
        for out in ("first", "second"):
            result = _run("--batch", "--personas", REFERENCE_PERSONA, "--config", str(config),
                          "--out", str(tmp_path / out), env=env)
            assert result.returncode == 0, result.stderr[-2000:]
        served = len(server.requests)
    calls = [json.loads(line) for line in
             (tmp_path / "second" / f"{REFERENCE_PERSONA}__llm-no-memory__s0" / "calls.jsonl").read_text().splitlines()]
    assert calls and all(c["cached"] for c in calls) and served == len(calls)  # the rerun asked the server nothing


def test_dry_run_estimates_each_roles_calls_and_tokens_without_a_model_or_a_file(tmp_path):
    out = tmp_path / "out"
    with FakeOpenAIServer(role_answer) as server:
        result = _run("--batch", "--dry-run", "--backend", "openai", "--base-url", server.base_url, "--model", "big",
                      "--personas", REFERENCE_PERSONA, "--assistant", "properassistant", "--days", "3",
                      "--option", "dpo.beta=0.2", "--out", str(out))
        assert server.requests == []  # nothing was spent
    assert result.returncode == 0, result.stderr[-2000:]
    assert not out.exists()
    rows = {line.split("│")[2].strip(): [c.strip().replace(",", "") for c in line.split("│")[3:7]]
            for line in result.stdout.splitlines() if line.startswith("│")}
    assert set(rows) == {"user", "judge", "assistant"}
    assert rows["user"][0] == "1" and rows["user"][2] == "3"  # one plan a day, three days
    per_day = int(rows["assistant"][0])
    assert per_day > 300 and rows["judge"][0] == str(per_day) and int(rows["assistant"][2]) == 3 * per_day
    assert "openai big" in result.stdout and "Nothing was written" in result.stdout


def test_dry_run_checks_the_runs_like_a_real_batch():
    result = _run("--batch", "--dry-run", "--backend", "llama-cpp", "--personas", REFERENCE_PERSONA,
                  "--assistant", "properassistant", "--option", "train=dpo")
    assert result.returncode == 2 and "convert_lora_to_gguf" in result.stderr and "Traceback" not in result.stderr


def test_threads_set_each_in_process_models_cpu_threads():
    parse = build_parser().parse_args
    fields = llm_fields(parse(["--smollm2", "--threads", "2"]))
    assert fields["backends"]["default"] == {"kind": "llama-cpp", "n_threads": 2}
    config = RunConfig.model_validate({"persona": REFERENCE_PERSONA, "assistant": "llm-properassistant", **{
        k: v for k, v in fields.items() if k != "llm_assistant"}})
    assert config.backends["default"].n_threads == 2
    assert "n_threads" not in llm_fields(parse(["--smollm2"]))["backends"]["default"]  # the default stays 1
    for argv, message in ((["--backend", "openai", "--threads", "2"], "not openai"),
                          (["--threads", "2"], "with --smollm2 or --backend llama-cpp"),
                          (["--smollm2", "--threads", "0"], "at least 1")):
        with pytest.raises(RunError, match=message):
            llm_fields(parse(argv))
    result = _run("--batch", "--dry-run", "--backend", "openai", "--base-url", "http://127.0.0.1:9/v1",
                  "--model", "m", "--threads", "2", "--personas", REFERENCE_PERSONA, "--assistant", "properassistant")
    assert result.returncode == 2 and "--threads is for" in result.stderr and "Traceback" not in result.stderr
