"""Fuzzed saved run folders (500 cases): a file cut short, bytes overwritten, a value of the wrong type,
a file or checkpoint deleted. Opening the folder the public ways (resume, replay, export) either works or
fails with a RunError/ConfigError that names the damaged file or folder. No traceback, no hang."""

import asyncio
import json
import shutil
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.compose import new_run, resume_run
from engine.config import RunConfig
from engine.errors import ConfigError, RunError
from propersim_tui.replay import Replay
from tests.conftest import REFERENCE_PERSONA
from tests.fuzz_support import FUZZ, WEIRD_VALUE, no_raw_control
from training.feedback import export_human_pairs


async def _interrupted(config: RunConfig, run_dir) -> None:
    """Two days complete and checkpointed, then a few steps of day 3 flushed: as a crash leaves it."""
    sim = new_run(config, run_dir)
    while sim.day < 2 or sim.next_step < 3:
        await sim.step()
    sim.flush()
    sim.close_recording()


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """An interrupted 3-day run of one-hour steps: two checkpoints, logs and metrics to damage, and a
    day left for resume to continue."""
    run_dir = tmp_path_factory.mktemp("recorded") / "run"
    config = RunConfig(persona=REFERENCE_PERSONA, assistant="properassistant", days=3, step_seconds=3600)
    asyncio.run(_interrupted(config, run_dir))
    files = sorted(p.relative_to(run_dir) for p in run_dir.rglob("*") if p.is_file() and p.name != ".lock")
    return run_dir, files


def damage(folder, relative, how, data):
    path = folder / relative
    blob = bytearray(path.read_bytes())
    if how == "delete":
        path.unlink()
    elif how == "truncate":
        path.write_bytes(bytes(blob[:data.draw(st.integers(0, max(len(blob) - 1, 0)))]))
    elif how == "overwrite":
        at = data.draw(st.integers(0, max(len(blob) - 1, 0)))
        blob[at:at + 4] = data.draw(st.binary(min_size=1, max_size=4))
        path.write_bytes(bytes(blob))
    elif how == "wrong_type" and path.suffix == ".jsonl" and blob.strip():
        lines = blob.decode().splitlines()
        i = data.draw(st.integers(0, len(lines) - 1))
        record = json.loads(lines[i])
        key = data.draw(st.sampled_from(sorted(record) or ["x"]))
        record[key] = data.draw(WEIRD_VALUE.filter(lambda v: v == v))  # JSON holds no NaN key safely
        lines[i] = json.dumps(record)
        path.write_text("\n".join(lines) + "\n")
    elif how == "delete_checkpoint":
        shutil.rmtree(folder / "checkpoints", ignore_errors=True)
    else:
        path.write_bytes(b"\xff\xfe" + bytes(blob))


def assert_clean(error: Exception, folder) -> None:
    message = str(error)
    assert str(folder) in message, message  # names the file or the folder
    assert no_raw_control(message), repr(message[:200])


@FUZZ
@given(st.data())
def test_damaged_run_folders_resume_or_fail_clearly(recorded, tmp_path_factory, data):
    source, files = recorded
    folder = tmp_path_factory.mktemp("damaged") / "run"
    shutil.copytree(source, folder)
    relative = data.draw(st.sampled_from(files))
    damage(folder, relative, data.draw(st.sampled_from(
        ["delete", "truncate", "overwrite", "wrong_type", "delete_checkpoint", "not_utf8"])), data)
    opener = data.draw(st.sampled_from(["resume", "replay", "export"]))
    try:
        if opener == "resume":
            resume_run(folder).close_recording()
        elif opener == "replay":
            Replay(folder)
        else:
            export_human_pairs(folder, folder.parent / "pairs.jsonl")
    except (RunError, ConfigError) as error:
        assert_clean(error, folder)


@pytest.mark.parametrize("relative, how", [("run.toml", b"days = [\n"), ("checkpoints/day-01/policy.npy", b"\x00" * 64),
                                           ("events.jsonl", b"\xff\xfe\n"), ("metrics.csv", b"day,mean\n1,0.9")])
def test_resume_of_a_damaged_folder_in_a_real_process(recorded, tmp_path, relative, how):
    """The same promise through the real command line: continued, or one `propersim: error:` line, exit 2."""
    source, _ = recorded
    folder = tmp_path / "run"
    shutil.copytree(source, folder)
    with open(folder / relative, "ab" if relative == "events.jsonl" else "wb") as f:
        f.write(how)
    done = subprocess.run([sys.executable, "-m", "propersim_tui.cli", "--batch", "--resume", str(folder)],
                          capture_output=True, text=True, timeout=120)
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
    if done.returncode != 0:
        assert done.returncode == 2 and done.stderr.startswith("propersim: error: "), done.stderr[-2000:]
        assert str(folder) in done.stderr
