"""The process that owns one llama.cpp model for the llama-cpp backend:
`python -m engine.llm.llama_worker PARENT_PID SETTINGS` (SETTINGS: serve()'s keyword arguments as JSON),
speaking pickled frames (4-byte length, then the pickle) on stdin and stdout.

Why a process of its own: llama-cpp-python cannot share a process with usearch (whose wheel
carries its own copy of the C++ runtime; once both are loaded, loading a GGUF fails with
`std::bad_cast`), and a native crash in llama.cpp (seen in grammar-constrained sampling) must
not take the simulation down with it. It is started as a fresh interpreter, not a
multiprocessing child, so that nothing of the parent's main module is imported into it; it
imports nothing of the product but engine.workers, the schema decoder and engine.llm.quantize, and
dies with its parent.

Schema-constrained answers are decoded by engine.llm.schema_decoder (json_decoding "schema", the
default) when the schema is of the kind the roles' pydantic models produce; any other schema, or
json_decoding "grammar", goes through llama.cpp's JSON-schema grammar.
"""

import json
import os
import pickle
import struct
import sys
from pathlib import Path
from typing import Any, BinaryIO

from engine.llm.lockstep import MAX_SEQUENCES
from engine.llm.quantize import ensure_converted
from engine.llm.schema_decoder import DRAFT_NGRAM, SchemaDecoder
from engine.llm.schema_tree import compile_schema


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


# --- the worker ------------------------------------------------------------------------------
def _unified_llama(llama_cpp, **params):
    """A Llama whose context has a unified KV cache for MAX_SEQUENCES sequences, so the schema decoder
    can decode several sequences in one batch (engine.llm.lockstep). llama-cpp-python's Llama takes no
    such parameters: its context's defaults are set for the time it is made."""
    from llama_cpp import llama_cpp as lib

    defaults = lib.llama_context_default_params

    def unified():
        context = defaults()
        context.kv_unified, context.n_seq_max = True, MAX_SEQUENCES
        return context

    lib.llama_context_default_params = unified
    try:
        return llama_cpp.Llama(**params)
    finally:
        lib.llama_context_default_params = defaults


def serve(path: str, n_ctx: int, n_threads: int, verbose: bool = False, warm_prefix: bool = True,
          json_decoding: str = "schema", lockstep: bool = True, source: str = "", quantize: str = "",
          flash_attn: bool = True, draft: int = DRAFT_NGRAM) -> None:
    """Answer (messages, n, json_schema, temperature, max_tokens, seed) requests until None arrives.
    warm_prefix False (for measurement) forgets the KV cache before each request, so every
    request evaluates its whole prompt. With `quantize`, `path` is `source` converted to that type,
    made before the first request's model load if no job has made it yet."""
    requests, replies = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # llama.cpp's and Python's prints must not corrupt the frames
    import llama_cpp

    llama = decoder = None
    while True:
        try:
            request = read_frame(requests)
        except EOFError:
            return
        if request is None:
            return
        try:
            if llama is None:
                if quantize:
                    ensure_converted(Path(source), Path(path), quantize, n_threads)
                # chat_format=None: the chat template comes from the GGUF's metadata. flash_attn: the
                # same attention, fused.
                llama = _unified_llama(llama_cpp, model_path=path, n_ctx=n_ctx, n_threads=n_threads,
                                       n_threads_batch=n_threads, flash_attn=flash_attn, verbose=verbose)
            messages, n, schema, temperature, max_tokens, seed = request
            if not warm_prefix:
                llama.reset()
            if hasattr(llama_cpp, "llama_perf_context"):
                llama_cpp.llama_perf_context_reset(llama.ctx)
            root = None
            if schema is not None and json_decoding == "schema" and llama.chat_format == "chat_template.default" \
                    and llama.chat_handler is None:
                root = compile_schema(schema)
            if root is not None:
                if decoder is None:
                    decoder = SchemaDecoder(llama, lockstep, draft)
                answers = decoder.complete(messages, root, n, temperature, max_tokens, seed)
            else:
                response_format = {"type": "json_object", "schema": schema} if schema is not None else None
                answers = [llama.create_chat_completion(messages=messages, response_format=response_format,
                                                        temperature=temperature, max_tokens=max_tokens,
                                                        seed=None if seed is None else seed + i)
                           for i in range(n)]
            # what the model evaluated for this request: batches (prompt, value tokens with the fixed
            # text after them) and single-token decoding steps; the cached prefix is not in them
            perf = {}
            if hasattr(llama_cpp, "llama_perf_context"):
                p = llama_cpp.llama_perf_context(llama.ctx)
                perf = {"batch_tokens": p.n_p_eval, "batch_ms": p.t_p_eval_ms, "step_tokens": p.n_eval,
                        "step_ms": p.t_eval_ms}
                if root is not None:
                    perf["decodes"] = decoder.decodes  # llama_decode calls: each reads the weights once
            write_frame(replies, ("ok", answers, perf))
        except Exception as error:  # a prompt past n_ctx, a bad grammar, ...: a failed call, not a dead worker
            write_frame(replies, ("error", f"{type(error).__name__}: {error}"))


if __name__ == "__main__":
    from engine.workers import _die_with_parent

    _die_with_parent(int(sys.argv[1]))
    serve(**json.loads(sys.argv[2]))
    os._exit(0)
