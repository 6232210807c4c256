"""The llama-cpp backend's `quantize`: the bundled SmolLM2 converted once to a type with fast CPU
kernels, cached by the source's identity, written atomically, safe with parallel jobs (real model)."""

import asyncio
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError

pytest.importorskip("llama_cpp", reason="real-model tests need llama-cpp-python: pip install -e '.[llm]'")

from engine.llm import BackendError  # noqa: E402
from engine.llm.config import BUNDLED_QUANTIZE, BackendConfig, build_backend, smollm2_path  # noqa: E402
from engine.llm.llama_cpp import LlamaCppBackend  # noqa: E402
from engine.llm.quantize import converted_path  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CONVERT = "import sys; from pathlib import Path; from engine.llm.quantize import ensure_converted; " \
          "ensure_converted(Path(sys.argv[1]), Path(sys.argv[2]), 'q8_0')"


class Mood(BaseModel):
    mood: str


def test_an_unknown_type_is_refused_clearly(tmp_path):
    with pytest.raises(ValueError, match="quantize must be one of q8_0, q4_0, f16, got 'q5_k'"):
        converted_path(smollm2_path(), "q5_k", tmp_path)
    with pytest.raises(ValueError, match="quantize must be one of"):
        LlamaCppBackend(smollm2_path(), quantize="q4_1")
    with pytest.raises(ValidationError, match="quantize"):
        BackendConfig(kind="llama-cpp", quantize="q5_k")


def test_auto_converts_the_bundled_model_only(tmp_path, monkeypatch):
    monkeypatch.setenv("PROPERSIM_GGUF_CACHE", str(tmp_path))
    names = {}
    for label, fields in {"auto": {}, "keep": {"quantize": "keep"}, "q4_0": {"quantize": "q4_0"},
                          "yours": {"gguf_path": smollm2_path()}}.items():
        backend = build_backend(BackendConfig(kind="llama-cpp", max_in_flight=None, **fields), "user")
        names[label] = (backend.model, backend._engine.path)
        asyncio.run(backend.aclose())  # no call made: no worker started, nothing converted
    stem = smollm2_path().stem
    assert names == {"auto": (f"{stem}.{BUNDLED_QUANTIZE}", converted_path(smollm2_path(), BUNDLED_QUANTIZE, tmp_path)),
                     "keep": (stem, smollm2_path()), "q4_0": (f"{stem}.q4_0", converted_path(smollm2_path(), "q4_0", tmp_path)),
                     "yours": (stem, smollm2_path())}
    assert list(tmp_path.iterdir()) == []


def test_made_once_by_parallel_jobs_then_reused(tmp_path, monkeypatch):
    """Two processes converting at once leave one whole file and no temp file; a backend then answers from it."""
    source = tmp_path / "src" / smollm2_path().name
    source.parent.mkdir()
    shutil.copyfile(smollm2_path(), source)
    cache = tmp_path / "cache"
    dest = converted_path(source, "q8_0", cache)
    jobs = [subprocess.Popen([sys.executable, "-c", CONVERT, str(source), str(dest)], cwd=ROOT,
                             stderr=subprocess.PIPE) for _ in range(2)]
    for job in jobs:
        assert job.wait(timeout=300) == 0, job.stderr.read().decode(errors="replace")[-2000:]
    assert sorted(p.name for p in cache.iterdir()) == [dest.name, dest.name + ".lock"]  # the lock file stays
    assert dest.stat().st_size > 100_000_000  # Q8_0: ~145 MB, the Q4_1 source ~92 MB
    made = dest.stat().st_mtime_ns

    async def ask():
        backend = LlamaCppBackend(source, quantize="q8_0")
        assert backend._engine.path == dest
        try:
            return await backend.chat([{"role": "user", "content": "Is a sunny day happy or sad?"}],
                                      json_schema=Mood.model_json_schema(), temperature=0.0, max_tokens=8)
        finally:
            await backend.aclose()

    monkeypatch.setenv("PROPERSIM_GGUF_CACHE", str(cache))
    result = asyncio.run(ask())
    Mood.model_validate(json.loads(result.texts[0]))
    assert result.model == f"{source.stem}.q8_0"
    assert dest.stat().st_mtime_ns == made  # reused, not made again
    os.utime(source, ns=(made, made))  # a changed source (a reinstall) gets a file of its own
    assert converted_path(source, "q8_0", cache) != dest


def _call_converted(gguf) -> None:
    """One one-token call on a backend that runs `gguf` converted to Q8_0, closed after."""
    async def ask():
        backend = LlamaCppBackend(gguf, quantize="q8_0")
        try:
            await backend.chat([{"role": "user", "content": "hi"}], max_tokens=1)
        finally:
            await backend.aclose()

    asyncio.run(ask())


def test_a_source_that_is_no_gguf_fails_the_call_clearly(tmp_path, monkeypatch):
    monkeypatch.setenv("PROPERSIM_GGUF_CACHE", str(tmp_path / "cache"))
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"not a model")

    with pytest.raises(BackendError, match=r"converting .*bad\.gguf to q8_0 failed"):
        _call_converted(bad)
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [converted_path(bad, "q8_0", tmp_path).name + ".lock"]


def test_a_cache_that_cannot_be_written_says_how_to_do_without(tmp_path, monkeypatch):
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("PROPERSIM_GGUF_CACHE", str(tmp_path / "file" / "cache"))  # under a file: no folder

    with pytest.raises(BackendError, match=r"cannot write the converted model's cache .*PROPERSIM_GGUF_CACHE"):
        _call_converted(smollm2_path())
