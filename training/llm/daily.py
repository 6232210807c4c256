"""The LLM assistant's learning at each day's end: a replay buffer of chat preference pairs, one trl
DPO round in a child process on the day's sample, and the new adapter served from the next step on.

The adapter of day d is trained into <run>/training/day-NN/adapter (its log beside it) and hard-linked
into the day's checkpoint (checkpoints/day-NN/adapter), so a checkpoint is complete on its own and
costs no second copy. A failed round either stops the run (the default: the checkpoint before it stays
as it was, and --resume replays the day and retries) or, with on_failure "keep-adapter", keeps serving
yesterday's adapter; either way `status` says what happened and is written to metrics.csv.
"""

import asyncio
import json
import math
import os
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from pathlib import Path
from typing import Literal

from engine.events import TrainingFinished, TrainingProgress, TrainingStarted
from engine.seeding import ROLE_TRAINING, rng_for
from training.llm.model_source import ModelSource
from training.llm.settings import LLMTrainingConfig
from training.llm.types import ChatPair, ProgressEvent
from training.replay import ReplayBuffer

OnFailure = Literal["stop", "keep-adapter"]
REPLAY_FILE = "llm_replay.jsonl"
ADAPTER_DIR = "adapter"


class DailyTrainer:
    def __init__(self, source: ModelSource, config: LLMTrainingConfig, work_dir: Path | None, seed: int,
                 on_failure: OnFailure = "stop"):
        self.source = source
        self.config = config
        self.seed = seed
        self.on_failure = on_failure
        if work_dir is None:  # an unrecorded run: adapters live as long as the process
            self._scratch = tempfile.TemporaryDirectory(prefix="propersim-llm-training-")
            work_dir = Path(self._scratch.name)
        self.work_dir = Path(work_dir)
        self.replay = ReplayBuffer("uniform-200", size=config.pairs_per_day)
        self.adapter: Path | None = None  # the adapter the policy generates with; None: the base model
        self.unserved: Path | None = None  # loaded from a checkpoint, not yet handed to the backend
        self.status = ""  # what the last day's training did (a metrics.csv column)

    async def train_day(self, day: int, pairs: list[ChatPair], emit: Callable[[object], None],
                        serve: Callable[[Path], Awaitable[None]]) -> None:
        """Add the day's pairs, train on the day's sample, and serve the new adapter."""
        self.replay.extend(pairs)
        batch = self.replay.sample(day, rng_for(self.seed, ROLE_TRAINING, day))
        emit(TrainingStarted(day, len(batch)))
        if not batch:
            self.status = "no pairs yet"
            emit(TrainingFinished(day, float("nan"), 0.0))
            return
        from training.llm.isolated import TrainingFailed, train_in_child

        folder = self.work_dir / f"day-{day:02d}"
        adapter_out = folder / ADAPTER_DIR
        shutil.rmtree(adapter_out, ignore_errors=True)  # a round retried after a resume starts clean
        loop = asyncio.get_running_loop()

        def progress(event: ProgressEvent) -> None:  # called on the training thread
            loop.call_soon_threadsafe(emit, TrainingProgress(day, event.step, event.max_steps, event.loss))

        started = time.perf_counter()
        try:
            result = await asyncio.to_thread(train_in_child, self.source, batch, self.adapter, adapter_out,
                                             self.config, folder / "train.log", progress)
        except TrainingFailed as error:
            if self.on_failure != "keep-adapter":
                raise
            kept = f"the adapter of {self.adapter.parent.name}" if self.adapter else "the base model"
            self.status = f"failed, kept {kept}: {error}"
            emit(TrainingFinished(day, float("nan"), time.perf_counter() - started))
            return
        await serve(adapter_out)
        self.adapter = adapter_out
        self.status = (f"trained {result.steps} steps on {len(batch)} pairs, loss {result.loss_first:.4f}"
                       f" -> {result.loss_last:.4f}")
        await asyncio.sleep(0)  # the last progress events before the finish
        emit(TrainingFinished(day, result.loss_last if math.isfinite(result.loss_last) else float("nan"),
                              result.seconds))

    async def serve_restored(self, serve: Callable[[Path], Awaitable[None]]) -> None:
        """After a resume: hand the checkpoint's adapter to the backend before the first call."""
        if self.unserved is not None:
            adapter, self.unserved = self.unserved, None
            await serve(adapter)

    def save(self, folder: Path) -> None:
        with open(folder / REPLAY_FILE, "w", encoding="utf-8") as out:
            for pair in self.replay.pairs:
                out.write(json.dumps(asdict(pair), ensure_ascii=False) + "\n")
        if self.adapter is not None:
            _link_tree(self.adapter, folder / ADAPTER_DIR)

    def load(self, folder: Path) -> None:
        path = folder / REPLAY_FILE
        lines = path.read_text("utf-8").splitlines() if path.exists() else []
        self.replay.pairs = [_pair(json.loads(line)) for line in lines]
        adapter = folder / ADAPTER_DIR
        self.adapter = self.unserved = adapter if adapter.is_dir() else None


def _pair(raw: dict) -> ChatPair:
    return ChatPair(**{**raw, "prompt": tuple(raw["prompt"])})


def _link_tree(source: Path, target: Path) -> None:
    """Hard links where the filesystem allows them (an adapter can be large), copies elsewhere."""
    def link(src: str, dst: str) -> None:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    shutil.copytree(source, target, copy_function=link)
