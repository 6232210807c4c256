"""A GGUF converted once to another llama.cpp weight type (the llama-cpp backend's `quantize`), cached.

Why: llama.cpp's CPU backend has fast matrix kernels for some weight types (tinyBLAS for Q8_0, Q4_0
and F16; repacked AVX2 kernels for Q4_0) and only the generic dot products for others, such as the
bundled SmolLM2's Q4_1. Converted to Q8_0 (bench/llm_real.py measures it) the same weights cost
fewer milliseconds a token; Q4_1 -> Q8_0 loses next to nothing (a Q4_1 block's 16 levels land on
Q8_0's 255), Q4_1 -> Q4_0 rounds every weight again.

The converted file lives in $PROPERSIM_GGUF_CACHE (default ~/.cache/propersim/gguf), named by the
source's identity (resolved path, size, modification time) and the target type: made once, reused
by every run, and a changed source gets a file of its own. Parallel jobs take a lock while one of
them converts (the others then find the file), and the file is written under a temp name and
renamed, so nobody ever loads half a file. `converted_path` is plain Python (the backend names its
model by it); `ensure_converted` needs llama_cpp and runs in the llama-cpp worker process.
"""

import ctypes
import fcntl
import hashlib
import os
import tempfile
from pathlib import Path

from engine.atomic import fsync_dir

# the targets offered: types with fast CPU kernels (the llama_ftype of each)
TYPES = {"q8_0": "LLAMA_FTYPE_MOSTLY_Q8_0", "q4_0": "LLAMA_FTYPE_MOSTLY_Q4_0", "f16": "LLAMA_FTYPE_MOSTLY_F16"}


def cache_dir() -> Path:
    return Path(os.environ.get("PROPERSIM_GGUF_CACHE", "~/.cache/propersim/gguf")).expanduser()


def converted_path(source: Path, target: str, folder: Path | None = None) -> Path:
    """Where `source` converted to `target` is (or will be) cached."""
    if target not in TYPES:
        raise ValueError(f"quantize must be one of {', '.join(TYPES)}, got {target!r}")
    source = Path(source).resolve()
    stat = source.stat()
    key = hashlib.sha256(f"{source}\0{stat.st_size}\0{stat.st_mtime_ns}".encode()).hexdigest()[:16]
    return (folder or cache_dir()) / f"{source.stem}-{key}.{target}.gguf"


def ensure_converted(source: Path, dest: Path, target: str, n_threads: int = 1) -> Path:
    """`dest`, converting `source` to `target` into it first if no job has yet."""
    if dest.is_file():
        return dest
    from llama_cpp import llama_cpp as lib

    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        lock = open(dest.with_name(dest.name + ".lock"), "w")
    except OSError as error:
        raise OSError(f"cannot write the converted model's cache {dest.parent} (set PROPERSIM_GGUF_CACHE, "
                      f"or quantize = \"keep\"): {error}") from error
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, or its holder dies
        if dest.is_file():  # another job converted it while this one waited
            return dest
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=dest.name + ".", suffix=".tmp")
        os.close(fd)
        try:
            params = lib.llama_model_quantize_default_params()
            params.ftype, params.allow_requantize, params.nthread = getattr(lib, TYPES[target]), True, n_threads
            if lib.llama_model_quantize(str(source).encode(), tmp.encode(), ctypes.byref(params)) != 0:
                raise RuntimeError(f"converting {source} to {target} failed (is it a GGUF model?)")
            with open(tmp, "rb") as written:
                os.fsync(written.fileno())
            os.chmod(tmp, 0o644)  # mkstemp's 0600 would keep the cache to its first user
            os.replace(tmp, dest)
            fsync_dir(dest.parent)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return dest
