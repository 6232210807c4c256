"""The offline world's bytes are pinned: a refactor must not move them (see tests/golden_runs.py)."""

import json

import pytest

from tests.golden_runs import GOLDEN_FILE, GOLDEN_RUNS, run_digests

RECORDED = json.loads(GOLDEN_FILE.read_text())


@pytest.mark.parametrize("name", sorted(GOLDEN_RUNS))
def test_golden_digests(name, tmp_path):
    assert run_digests(name, tmp_path / name) == RECORDED[name]
