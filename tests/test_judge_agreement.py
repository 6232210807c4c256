"""`propersim judge-agreement`: the kappa arithmetic by hand, and re-judging recorded runs with the
rubric judge and with an LLM judge on a real loopback HTTP server (a scripted one)."""

import asyncio
import json
import random
import re
import shutil
import tomllib

import numpy as np
import pytest
import tomli_w

from engine.agreement import agreement, cohen_kappa, compare_ratings, quadratic_weighted_kappa
from engine.compose import new_run
from engine.config import RunConfig
from engine.types import Rating, failed_rating
from propersim_tui.cli import main
from tests.conftest import REFERENCE_PERSONA
from tests.llm_servers import FakeOpenAIServer, role_answer

# --- the arithmetic ---------------------------------------------------------------------

def _labels(table: list[list[int]]) -> tuple[list[int], list[int]]:
    """Rater A's and rater B's labels from a confusion table (rows: A's label, columns: B's)."""
    a, b = [], []
    for i, row in enumerate(table):
        for j, count in enumerate(row):
            a += [i] * count
            b += [j] * count
    return a, b


def test_kappa_of_a_2x2_table_worked_by_hand():
    #            B pass  B fail
    # A pass       20      5        p_o = (20 + 15) / 50 = 0.7
    # A fail       10     15        p_e = 0.5 * 0.6 + 0.5 * 0.4 = 0.5
    #                               kappa = (0.7 - 0.5) / (1 - 0.5) = 0.4
    a, b = _labels([[20, 5], [10, 15]])
    assert cohen_kappa(a, b) == pytest.approx(0.4)
    # with two categories the quadratic weights are 0/1: weighted kappa is kappa
    assert quadratic_weighted_kappa(a, b) == pytest.approx(0.4)
    figures = agreement(a, b)
    assert (figures.n, figures.exact, figures.within_one) == (50, pytest.approx(0.7), 1.0)


def test_kappa_and_weighted_kappa_of_a_3x3_table_worked_by_hand():
    #        B0 B1 B2
    # A0      2  0  0     p_o = 4/6; marginals all 1/3, so p_e = 3 * (1/3 * 1/3) = 1/3
    # A1      0  1  1     kappa = (2/3 - 1/3) / (1 - 1/3) = 0.5
    # A2      0  1  1
    # quadratic weights w = (i - j)^2 / 4: observed disagreement = (1/4 + 1/4) / 6 = 1/12;
    # expected = (1/9) * sum_ij (i - j)^2 / 4 = (1/9) * 12/4 = 1/3; kappa_w = 1 - (1/12) / (1/3) = 0.75
    a, b = _labels([[2, 0, 0], [0, 1, 1], [0, 1, 1]])
    assert cohen_kappa(a, b) == pytest.approx(0.5)
    assert quadratic_weighted_kappa(a, b) == pytest.approx(0.75)
    assert agreement(a, b).within_one == 1.0
    assert agreement([0, 4], [2, 4]).within_one == 0.5


def test_kappa_edge_cases():
    assert cohen_kappa([3, 3, 3], [3, 3, 3]) == 1.0  # 0/0: both constant on one label, defined perfect
    assert quadratic_weighted_kappa([3, 3, 3], [3, 3, 3]) == 1.0
    # one rater constant, the other not: p_o = 3/4 = p_e, kappa 0 (chance level), not 0/0
    assert cohen_kappa([1, 1, 1, 1], [1, 1, 1, 0]) == 0.0
    assert cohen_kappa([0, 0], [1, 1]) == 0.0  # constant on different labels: p_o = p_e = 0
    assert cohen_kappa([0, 1, 0, 1], [1, 0, 1, 0]) == -1.0
    empty = agreement([], [])
    assert (empty.n, empty.exact, empty.kappa, empty.weighted_kappa) == (0, None, None, None)
    with pytest.raises(ValueError):
        agreement([1], [1, 0])


def test_kappa_matches_the_textbook_matrix_formula():
    # An independent computation: weights W, observed O = confusion / n, expected E = outer(marginals),
    # kappa = 1 - sum(W * O) / sum(W * E) (unweighted: W = 1 - identity). (scikit-learn agrees too,
    # but importing it takes seconds.)
    rng = random.Random(7)
    a = [rng.randint(0, 4) for _ in range(200)]
    b = [min(4, max(0, x + rng.choice((-2, -1, 0, 0, 1)))) for x in a]
    observed = np.zeros((5, 5))
    for x, y in zip(a, b):
        observed[x, y] += 1 / len(a)
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0))
    labels = np.arange(5)
    for weights, ours in ((1 - np.eye(5), cohen_kappa(a, b)),
                          ((labels[:, None] - labels[None, :]) ** 2 / 16, quadratic_weighted_kappa(a, b))):
        assert ours == pytest.approx(1 - (weights * observed).sum() / (weights * expected).sum())


def test_compare_ratings_leaves_failed_ratings_out_and_counts_them():
    yes = Rating({"preference": True, "timing": True}, "")
    mixed = Rating({"preference": True, "timing": False}, "")
    pairs = [(yes, yes), (yes, mixed), (failed_rating("x"), yes), (mixed, failed_rating("y")),
             (failed_rating("x"), failed_rating("y"))]
    figures = compare_ratings(pairs, ("preference", "timing"))
    assert (figures.compared, figures.excluded, figures.failed_first, figures.failed_second) == (2, 3, 2, 2)
    assert figures.criteria["preference"].exact == 1.0 and figures.criteria["preference"].kappa == 1.0
    assert figures.criteria["timing"].exact == 0.5
    assert figures.pooled.n == 4 and figures.total.n == 2
    with pytest.raises(ValueError, match="lacks criteria"):
        compare_ratings([(yes, Rating({"preference": True}, ""))], ("preference", "timing"))


# --- re-judging recorded runs -------------------------------------------------------------

def _record(folder, **fields):
    sim = new_run(RunConfig(persona=REFERENCE_PERSONA, assistant="random", days=1, **fields), folder)
    asyncio.run(sim.run())
    return folder


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    return _record(tmp_path_factory.mktemp("runs") / "random")


@pytest.fixture(scope="module")
def recorded_noisy(tmp_path_factory):
    return _record(tmp_path_factory.mktemp("runs") / "noisy", seed=1, judge={"noise": 0.1})


def _judge_agreement(capsys, *args) -> tuple[int, dict | None, str, str]:
    rc = main(["judge-agreement", *map(str, args), "--json"])
    out, err = capsys.readouterr()
    figures = json.loads(out.strip().splitlines()[-1]) if rc == 0 else None
    return rc, figures, out, err


def _folder_bytes(folder) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_the_rubric_judge_agrees_perfectly_with_its_own_recording(recorded, capsys):
    rc, figures, out, _ = _judge_agreement(capsys, recorded, "--judge", "rubric")
    assert rc == 0
    assert set(figures["criteria"]) == {"preference", "timing", "frequency", "communication"}
    for a in [*figures["criteria"].values(), figures["pooled"], figures["total"]]:
        assert a["n"] > 0 and a["exact"] == 1.0 and a["kappa"] == 1.0 and a["weighted_kappa"] == 1.0
    assert figures["compared"] == 2 * figures["steps"] and figures["excluded"] == 0
    assert figures["recorded_judge"] == figures["new_judge"] == "rubric"
    assert "Judge agreement" in out and "communication" in out and "total (0-4)" in out


def test_a_noisy_rubric_judge_agrees_less(recorded, capsys):
    rc, figures, _, _ = _judge_agreement(capsys, recorded, "--judge", "rubric", "--noise", "0.2", "--days", "1")
    assert rc == 0 and figures["new_judge"] == "rubric (noise 0.2)"
    assert 0.6 < figures["pooled"]["exact"] < 0.95  # about 80%: each verdict flips with chance 0.2
    for a in figures["criteria"].values():
        assert a["exact"] < 1.0 and a["kappa"] < 1.0
    assert figures["total"]["within_one"] > figures["total"]["exact"]


def test_the_replay_is_faithful_even_to_the_recorded_noise(recorded_noisy, capsys):
    # Same judge, seed and noise, day memory fed as recorded: every random flip happens again.
    rc, figures, _, _ = _judge_agreement(capsys, recorded_noisy, "--judge", "rubric", "--noise", "0.1")
    assert rc == 0 and figures["pooled"]["exact"] == 1.0
    rc, figures, _, _ = _judge_agreement(capsys, recorded_noisy, "--judge", "rubric", "--noise", "0.1",
                                         "--seed", "9", "--memory", "own", "--limit", "50")
    assert rc == 0 and figures["steps"] == 50 and figures["pooled"]["exact"] < 1.0


def _answers_with_failures(body: dict, index: int) -> str:
    """Schema-valid verdicts, except at steps whose clock ends in 5 (07:05, 07:15...): not JSON, twice."""
    text = " ".join(m.get("content") or "" for m in body["messages"])
    return "no JSON here" if re.search(r"Now: \w{3} \d\d:\d5\.", text) else role_answer(body, index)


def test_an_llm_judge_on_an_openai_server_through_the_cli(recorded, tmp_path, capsys):
    before = _folder_bytes(recorded)
    out_file = tmp_path / "figures" / "agreement.json"
    with FakeOpenAIServer(_answers_with_failures) as server:
        rc, figures, out, err = _judge_agreement(
            capsys, recorded, "--judge", "llm", "--backend", "openai", "--base-url", server.base_url,
            "--model", "test-model", "--limit", "20", "--out", out_file)
        requests = list(server.requests)
    assert rc == 0, err
    assert _folder_bytes(recorded) == before  # the recording is only read: no calls.jsonl, nothing changed
    failing_steps = sum(bool(re.search(r"Now: \w{3} \d\d:\d5\.", r["body"]["messages"][1]["content"]))
                        for r in requests) // 2
    assert failing_steps > 0
    assert figures["steps"] == 20 and figures["failed"] == {"recorded": 0, "new": 2 * failing_steps}
    assert figures["excluded"] == 2 * failing_steps and figures["compared"] == 40 - 2 * failing_steps
    assert figures["new_judge"] == "llm combined · openai · test-model"
    assert figures["calls"]["judge"]["calls"] == len(requests) == 20 + failing_steps  # each failure re-asked once
    assert json.loads(out_file.read_text()) == figures
    assert "Judge agreement: recorded rubric vs new llm combined" in out
    assert f"failed: 0 recorded, {2 * failing_steps} new" in out

    config = tmp_path / "judge.toml"  # the judge and its backend from a file instead
    with FakeOpenAIServer(role_answer) as server:
        config.write_text(f'assistant = "ignored: the recording fixes it"\n[judge]\nkind = "llm"\n'
                          f'options = {{ mode = "reference" }}\n[backends.judge]\nkind = "openai"\n'
                          f'base_url = "{server.base_url}"\nmodel = "file-model"\n')
        rc, figures, _, err = _judge_agreement(capsys, recorded, "--config", config, "--limit", "3")
    assert rc == 0, err
    assert figures["new_judge"] == "llm reference · openai · file-model" and figures["compared"] == 6
    steps = [json.loads(line) for line in (recorded / "events.jsonl").read_text().splitlines()[:3]]
    distinct = sum(len({(c["item"], c["text"], c["topic"], c["tone"]) for c in step["candidates"]}) for step in steps)
    assert figures["calls"]["judge"]["calls"] == 5 * distinct  # a question per criterion, frequency asked twice
    assert _folder_bytes(recorded) == before


def _rewrite_config(folder, **judge):
    path = folder / "run.toml"
    raw = tomllib.loads(path.read_text())
    raw["judge"] |= judge
    path.write_text(tomli_w.dumps(raw))


def test_errors_are_messages_with_exit_status_2(recorded, tmp_path, capsys):
    empty = tmp_path / "no-events"
    empty.mkdir()
    for name in ("run.toml", "persona.toml"):
        shutil.copy(recorded / name, empty / name)
    other_rubric = tmp_path / "other-rubric"
    shutil.copytree(recorded, other_rubric)
    _rewrite_config(other_rubric, criteria=["preference", "timing", "frequency", "communication", "novelty"])
    two_criteria = tmp_path / "two.toml"
    two_criteria.write_text('[judge]\ncriteria = ["preference", "timing"]\n')
    cases = {
        "no such run folder": [tmp_path / "missing", "--judge", "rubric"],
        "has no recorded steps": [empty, "--judge", "rubric"],
        "unknown judge 'human'; known: rubric, llm": [recorded, "--judge", "human"],
        "name the new judge": [recorded],
        "criteria mismatch: the recording rates": [recorded, "--judge", "rubric", "--config", two_criteria],
        "criteria mismatch in": [other_rubric, "--judge", "rubric"],
        "--noise is for the rubric judge": [recorded, "--noise", "0.1", "--smollm2"],
        "needs a backend": [recorded, "--judge", "llm"],
        "inside the recorded run folder": [recorded, "--judge", "rubric", "--out", recorded / "a.json"],
        "--limit must be at least 1": [recorded, "--judge", "rubric", "--limit", "0"],
    }
    for message, args in cases.items():
        rc, _, _, err = _judge_agreement(capsys, *args)
        assert rc == 2, (message, err)
        assert message in err and "Traceback" not in err, (message, err)
    assert not (recorded / "a.json").exists()
