"""The process that owns one llama.cpp model for the llama-cpp backend:
`python -m engine.llm.llama_worker PATH N_CTX N_THREADS VERBOSE PARENT_PID`, speaking pickled
frames (4-byte length, then the pickle) on stdin and stdout.

Why a process of its own: llama-cpp-python cannot share a process with usearch (whose wheel
carries its own copy of the C++ runtime; once both are loaded, loading a GGUF fails with
`std::bad_cast`), and a native crash in llama.cpp (seen in grammar-constrained sampling) must
not take the simulation down with it. It is started as a fresh interpreter, not a
multiprocessing child, so that nothing of the parent's main module is imported into it; it
imports nothing of the product but engine.workers, and dies with its parent.
"""

import os
import pickle
import struct
import sys
from typing import Any, BinaryIO


def write_frame(stream: BinaryIO, value: Any) -> None:
    data = pickle.dumps(value)
    stream.write(struct.pack(">I", len(data)) + data)
    stream.flush()


def read_frame(stream: BinaryIO) -> Any:
    header = stream.read(4)
    if len(header) < 4:
        raise EOFError("the other side closed the pipe")
    (size,) = struct.unpack(">I", header)
    data = stream.read(size)
    if len(data) < size:
        raise EOFError("the other side closed the pipe mid-frame")
    return pickle.loads(data)


def serve(path: str, n_ctx: int, n_threads: int, verbose: bool) -> None:
    """Answer (messages, n, json_schema, temperature, max_tokens, seed) requests until None arrives."""
    requests, replies = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # llama.cpp's and Python's prints must not corrupt the frames
    import llama_cpp

    llama = None
    while True:
        try:
            request = read_frame(requests)
        except EOFError:
            return
        if request is None:
            return
        try:
            if llama is None:
                # chat_format=None: the chat template comes from the GGUF's metadata.
                llama = llama_cpp.Llama(model_path=path, n_ctx=n_ctx, n_threads=n_threads,
                                        n_threads_batch=n_threads, verbose=verbose)
            messages, n, schema, temperature, max_tokens, seed = request
            response_format = {"type": "json_object", "schema": schema} if schema is not None else None
            answers = [llama.create_chat_completion(messages=messages, response_format=response_format,
                                                    temperature=temperature, max_tokens=max_tokens,
                                                    seed=None if seed is None else seed + i)
                       for i in range(n)]
            write_frame(replies, ("ok", answers))
        except Exception as error:  # a prompt past n_ctx, a bad grammar, ...: a failed call, not a dead worker
            write_frame(replies, ("error", f"{type(error).__name__}: {error}"))


if __name__ == "__main__":
    from engine.workers import _die_with_parent

    path, n_ctx, n_threads, verbose, parent = sys.argv[1:6]
    _die_with_parent(int(parent))
    serve(path, int(n_ctx), int(n_threads), verbose == "1")
    os._exit(0)
