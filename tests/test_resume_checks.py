"""Resume checks what it trusts: logs against metrics, checkpoints against their seal, weights for
finiteness; whatever disagrees sends it back to the last consistent day, and the run still ends
byte-identical to one never interrupted. And real SIGKILLs, resumed, change no byte either."""

import asyncio
import multiprocessing
import os
import random
import shutil
import signal
import time
from pathlib import Path

import numpy as np
import pytest

from engine.checkpoint import seal
from engine.compose import new_run, resume_run
from engine.config import RunConfig
from engine.errors import RunError
from propersim_tui.cli import main as cli_main
from tests.conftest import REFERENCE_PERSONA

PINNED = ("events.jsonl", "pairs.jsonl", "metrics.csv")
CONFIG = dict(persona=REFERENCE_PERSONA, assistant="properassistant", days=2, seed=0)


def _run_new(folder: Path) -> None:
    asyncio.run(new_run(RunConfig(**CONFIG), folder).run())


def _resume_to_end(folder: Path) -> int:
    """Resume a run folder, run it out, and return the day it resumed at."""
    sim = resume_run(folder)
    start = sim.day
    asyncio.run(sim.run_and_close())
    return start


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("reference") / "run"
    _run_new(folder)
    return folder


@pytest.fixture
def damaged(reference, tmp_path) -> Path:
    folder = tmp_path / "run"
    shutil.copytree(reference, folder)
    return folder


def _assert_identical(reference: Path, folder: Path) -> None:
    for name in PINNED:
        assert (folder / name).read_bytes() == (reference / name).read_bytes(), name


def _events_of_day(folder: Path, day: int) -> list[int]:
    """Byte offsets of the starts of day `day`'s lines in events.jsonl."""
    data, offsets, at = (folder / "events.jsonl").read_bytes(), [], 0
    for line in data.split(b"\n")[:-1]:
        if f'"day": {day},'.encode() in line:
            offsets.append(at)
        at += len(line) + 1
    return offsets


@pytest.mark.parametrize("how", ["emptied", "deleted"])
def test_a_lost_events_log_is_simulated_again_from_day_1(reference, damaged, how):
    path = damaged / "events.jsonl"
    path.write_bytes(b"") if how == "emptied" else path.unlink()
    assert _resume_to_end(damaged) == 0  # no step record of day 1 survives: it starts over
    _assert_identical(reference, damaged)


def test_a_torn_line_inside_a_completed_day_sends_resume_back_to_that_day(reference, damaged):
    offsets = _events_of_day(damaged, 1)
    cut = offsets[len(offsets) // 2] + 40  # mid-line, halfway through day 2
    path = damaged / "events.jsonl"
    path.write_bytes(path.read_bytes()[:cut])
    sim = resume_run(damaged)
    assert sim.day == 1 and any("events.jsonl" in r and "for day 2" in r for r in sim.store.repairs)
    asyncio.run(sim.run_and_close())
    _assert_identical(reference, damaged)


def test_a_metrics_row_cut_short_is_not_a_complete_day(reference, damaged):
    path = damaged / "metrics.csv"
    path.write_bytes(path.read_bytes()[:-3])  # "...,0.9949\r\n" becomes "...,0.99": still a number
    assert _resume_to_end(damaged) == 1
    _assert_identical(reference, damaged)


def test_a_checkpoint_without_its_complete_marker_is_not_used(reference, damaged):
    (damaged / "checkpoints" / "day-01" / "COMPLETE").unlink()
    assert _resume_to_end(damaged) == 1
    _assert_identical(reference, damaged)


def test_a_checkpoint_whose_checksum_does_not_match_is_not_used(reference, damaged):
    path = damaged / "checkpoints" / "day-01" / "policy.npy"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x01  # one bit of one weight
    path.write_bytes(bytes(data))
    sim = resume_run(damaged)
    assert sim.day == 1 and any("checksum does not match" in r for r in sim.store.repairs)
    asyncio.run(sim.run_and_close())
    _assert_identical(reference, damaged)


def test_non_finite_weights_are_never_loaded_even_when_sealed(reference, damaged):
    folder = damaged / "checkpoints" / "day-01"
    weights = np.load(folder / "policy.npy")
    weights.flat[0] = np.nan
    (folder / "policy.npy").unlink()  # not written in place: the file is its own (no hard link)
    np.save(folder / "policy.npy", weights)
    seal(folder)  # the checksums match: only the load's own check can catch it
    sim = resume_run(damaged)
    assert sim.day == 1 and any("not finite" in r for r in sim.store.repairs)
    assert np.all(np.isfinite(sim.assistant.policy.params))
    asyncio.run(sim.run_and_close())
    _assert_identical(reference, damaged)


def test_a_damaged_index_file_never_crashes_and_is_not_used(reference, damaged):
    folder = damaged / "checkpoints" / "day-01"
    newest = sorted(folder.glob("index-*.npz"))[-1]  # day 2's shard, only in this checkpoint
    data = bytearray(newest.read_bytes())
    data[len(data) // 2: len(data) // 2 + 64] = b"\xa5" * 64
    newest.unlink()
    newest.write_bytes(bytes(data))
    seal(folder)
    assert not (folder / "index.usearch").exists()  # nothing of usearch's own is stored to be loaded
    sim = resume_run(damaged)
    assert sim.day == 1 and any("index" in r for r in sim.store.repairs)
    asyncio.run(sim.run_and_close())
    _assert_identical(reference, damaged)


def test_a_damaged_middle_of_a_log_stops_with_a_clear_error(damaged, capsys):
    path = damaged / "events.jsonl"
    lines = path.read_bytes().split(b"\n")
    lines[5] = lines[5][:30]
    path.write_bytes(b"\n".join(lines))
    before = {name: (damaged / name).read_bytes() for name in ("events.jsonl", "metrics.csv")}
    with pytest.raises(RunError, match="line 6 is corrupt"):
        resume_run(damaged)
    assert cli_main(["--batch", "--resume", str(damaged)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("propersim: error: ") and "events.jsonl: line 6" in err and "Traceback" not in err
    assert before == {name: (damaged / name).read_bytes() for name in before}  # nothing rewritten


def test_going_back_over_a_day_of_human_ratings_stops_instead(damaged):
    path = damaged / "pairs.jsonl"
    lines = path.read_text().splitlines(keepends=True)
    last = next(i for i in range(len(lines) - 1, -1, -1) if '"day": 1,' in lines[i])
    lines[last] = lines[last].replace('"source": "simulated"', '"source": "human"')
    path.write_text("".join(lines))
    (damaged / "checkpoints" / "day-01" / "COMPLETE").unlink()
    before = {name: (damaged / name).read_bytes() for name in PINNED}
    with pytest.raises(RunError, match="lose the human ratings of day 2.*export-feedback"):
        resume_run(damaged)
    assert before == {name: (damaged / name).read_bytes() for name in PINNED}  # nothing truncated


def test_checkpoints_write_only_the_new_days_shards(reference):
    day0, day1 = reference / "checkpoints" / "day-00", reference / "checkpoints" / "day-01"
    for shard in day0.glob("*-*.npz"):  # day 1's shards are the same files in day 2's checkpoint
        assert os.path.samefile(shard, day1 / shard.name)
    assert len(list(day1.glob("index-*.npz"))) == 2 and len(list(day1.glob("replay-*.npz"))) == 2


# --- real kills ---------------------------------------------------------------------------
def _child(folder: str, fresh: bool) -> None:
    if fresh:
        _run_new(Path(folder))
    else:
        _resume_to_end(Path(folder))


def test_ten_sigkills_at_random_moments_then_resume_change_no_byte(reference, tmp_path):
    folder, rng, kills = tmp_path / "killed", random.Random(7), 0
    fork = multiprocessing.get_context("fork")
    fresh = True
    while kills < 10:
        child = fork.Process(target=_child, args=(str(folder), fresh))
        child.start()
        child.join(rng.uniform(0.05, 1.2))
        if child.exitcode is None:  # still running: kill it wherever it is
            os.kill(child.pid, signal.SIGKILL)
            child.join()
            kills += 1
        assert child.exitcode in (0, -signal.SIGKILL), child.exitcode
        if child.exitcode == 0:  # it got to the end first: check it, then start over
            _assert_identical(reference, folder)
            shutil.rmtree(folder)
            fresh = True
            continue
        fresh = not (folder / "run.toml").exists()  # killed before the folder was even created
        time.sleep(0.01)
    _child(str(folder), fresh)  # the last kill may also have come before run.toml: then it starts anew
    _assert_identical(reference, folder)
