"""Run a DPO round in a child process, so a crash, an OOM kill or a leak cannot take the simulation
down, and all GPU memory is returned when the child exits."""

import multiprocessing as mp
import os
import shutil
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from pathlib import Path

from training.llm.model_source import ModelSource
from training.llm.settings import LLMTrainingConfig
from training.llm.types import ChatPair, ProgressEvent, RoundResult

DEFAULT_TIMEOUT_S = 6 * 3600.0
_POLL_S = 0.2
_GRACE_S = 10.0  # how long a child that reported may take to exit before it is killed


class TrainingFailed(RuntimeError):
    """A DPO round that did not complete; `log_path` holds the child's stdout/stderr."""

    def __init__(self, message: str, log_path: Path):
        super().__init__(f"{message} (training log: {log_path})")
        self.log_path = Path(log_path)


def train_in_child(source: ModelSource, pairs: Sequence[ChatPair], adapter_in: Path | None, adapter_out: Path,
                   config: LLMTrainingConfig, log_path: Path, progress: Callable[[ProgressEvent], None] | None = None,
                   *, device: str = "auto", timeout_s: float = DEFAULT_TIMEOUT_S) -> RoundResult:
    """`run_dpo_round` in a spawned child. Progress events stream back to `progress` (called in this
    process, from this thread). The caller's main module must be import-safe (an `if __name__ ==
    "__main__"` guard), as for any spawned process. Raises TrainingFailed on any failure; `adapter_out`
    is then left as it was (absent if it was absent)."""
    log_path, adapter_out = Path(log_path), Path(adapter_out)
    existed = adapter_out.exists()
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("a", encoding="utf-8") as log:  # exists even if the child dies before writing to it
        log.write(f"--- DPO round: {len(pairs)} pairs, {source.label}, adapter_in={adapter_in}, "
                  f"adapter_out={adapter_out}, {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
    ctx = mp.get_context("spawn")  # fork would copy the parent's threads, event loop and any CUDA state
    reader, writer = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child_main, name="propersim-dpo", daemon=True,
                       args=(writer, str(log_path), source, list(pairs), adapter_in, adapter_out, config, device))
    proc.start()
    writer.close()  # the child holds the only write end: EOF here means it is gone
    try:
        result = _collect(proc, reader, progress, time.monotonic() + timeout_s, log_path)
    except BaseException:
        _stop(proc)
        _remove_partial(adapter_out, created=not existed)
        raise
    finally:
        reader.close()
    return result


def _collect(proc: mp.process.BaseProcess, reader: Connection, progress: Callable[[ProgressEvent], None] | None,
             deadline: float, log_path: Path) -> RoundResult:
    while True:
        if time.monotonic() > deadline:
            raise TrainingFailed("training timed out", log_path)
        if not reader.poll(_POLL_S):
            if not proc.is_alive() and not reader.poll(0):
                break
            continue
        try:
            kind, payload = reader.recv()
        except EOFError:
            break
        if kind == "progress":
            if progress is not None:
                progress(payload)
        elif kind == "error":
            proc.join(_GRACE_S)
            raise TrainingFailed(f"training failed in the child process: {payload}", log_path)
        elif kind == "result":
            proc.join(_GRACE_S)
            if proc.exitcode is None:
                _stop(proc)  # it reported and saved; a hang at teardown does not void the round
            return payload
    proc.join(_GRACE_S)
    raise TrainingFailed(f"the training process died without a result ({_describe_exit(proc.exitcode)})", log_path)


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "still running"
    if code < 0:
        import signal

        name = signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else str(-code)
        hint = "; SIGKILL is usually the out-of-memory killer" if name == "SIGKILL" else ""
        return f"killed by {name}{hint}"
    return f"exit code {code}"


def _stop(proc: mp.process.BaseProcess) -> None:
    if proc.is_alive():
        proc.terminate()
        proc.join(5)
    if proc.is_alive():
        proc.kill()
    proc.join(5)


def _remove_partial(adapter_out: Path, created: bool) -> None:
    """A child killed while saving leaves its scratch folder beside adapter_out; one killed between the
    final rename and its report leaves an adapter_out the caller must not take for a finished round."""
    if created and adapter_out.exists():
        shutil.rmtree(adapter_out, ignore_errors=True)
    if adapter_out.parent.is_dir():
        for leftover in adapter_out.parent.glob(f".{adapter_out.name}.tmp-*"):
            shutil.rmtree(leftover, ignore_errors=True)


def _child_main(writer: Connection, log_path: str, source: ModelSource, pairs: list[ChatPair],
                adapter_in: Path | None, adapter_out: Path, config: LLMTrainingConfig, device: str) -> None:
    _redirect_output(log_path)
    try:
        from training.llm.dpo_round import run_dpo_round

        result = run_dpo_round(source, pairs, adapter_in, adapter_out, config,
                               progress=lambda event: writer.send(("progress", event)), device=device)
    except BaseException as exc:  # everything goes to the parent, the traceback to the log
        traceback.print_exc()
        sys.stderr.flush()
        writer.send(("error", f"{type(exc).__name__}: {exc}"))
        writer.close()
        os._exit(1)
    writer.send(("result", result))
    writer.close()


def _redirect_output(log_path: str) -> None:
    """Point fds 1 and 2 (so also C libraries' output) and Python's streams at the log file."""
    import faulthandler

    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    sys.stdout = open(1, "w", buffering=1, closefd=False)  # lives as long as the process
    sys.stderr = open(2, "w", buffering=1, closefd=False)
    faulthandler.enable(file=sys.stderr)  # a segfault still leaves a Python traceback in the log
