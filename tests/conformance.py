"""Conformance checks every registered role implementation must pass (in the manner of Gymnasium's check_env).

Each check takes an implementation's registry name and builds it through the composition
root, so what is checked is what a run gets. Future implementations (LLM roles) join by
being registered; those that need a model are checked against a scripted fake backend.
"""

import asyncio
import gc
import types
from pathlib import Path

import numpy as np

from engine.compose import RunPlan, build_simulation, plan_run
from engine.config import RunConfig
from engine.house import load_house
from engine.metrics import metrics_of
from engine.persona import Persona, Preferences
from engine.simulation import Simulation, make_pairs
from engine.types import Observation, Proposal, failed_rating
from engine.vocab import ACTIVITY_TAGS

PERSONA = "E+A+C+O+N-"
HIDDEN_TYPES = (Persona, Preferences)


def plan(**fields) -> RunPlan:
    # LLM roles get the fake backend (tests script its answers by patching engine.compose.build_backend)
    base = {"persona": PERSONA, "assistant": "random", "days": 2, "seed": 0, "backends": {"default": {"kind": "fake"}}}
    return plan_run(RunConfig.model_validate(base | fields))


def simulation(**fields) -> Simulation:
    sim = build_simulation(plan(**fields), None)
    sim.start_at(0)
    return sim


async def awake_observations(sim: Simulation, day: int, limit: int | None = None) -> list[Observation]:
    await sim.user.start_day(day)
    sim.day, sim.next_step, out = day, 0, []
    while (obs := await sim.observe_now()) is not None and (limit is None or len(out) < limit):
        out.append(obs)
        sim.next_step += 1
    return out


# --- user agents -------------------------------------------------------------------------
def check_user(kind: str) -> None:
    house = load_house()

    async def plans(seed: int) -> list[list]:
        sim = simulation(user={"kind": kind}, seed=seed)
        return [[o.activity for o in await awake_observations(sim, day)] for day in (0, 5)]

    first = asyncio.run(plans(0))
    assert all(first), "every day has awake steps"
    for day in first:
        for a in day:
            assert a.room in house.rooms, f"{a.text!r}: unknown room {a.room!r}"
            assert a.object in house.rooms[a.room].objects, f"{a.text!r}: no {a.object!r} in {a.room}"
            assert a.text.strip() and a.tags and set(a.tags) <= set(ACTIVITY_TAGS)
    assert asyncio.run(plans(0)) == first, "same seed, same day"


# --- judges ------------------------------------------------------------------------------
def check_judge(kind: str) -> None:
    for criteria in (None, ("timing", "frequency"), ("preference", "timing", "frequency", "communication", "novelty")):
        judge_config = {"kind": kind} | ({"criteria": list(criteria)} if criteria else {})
        ratings_a = asyncio.run(_rate_a_day(judge_config))
        assert asyncio.run(_rate_a_day(judge_config)) == ratings_a, "same seed, same ratings"
        expected = set(criteria or ("preference", "timing", "frequency", "communication"))
        for rating in ratings_a:
            if rating.failed:
                assert rating.criteria == {} and rating.reason.strip()
                continue
            assert set(rating.criteria) == expected, f"rating keys {sorted(rating.criteria)} != {sorted(expected)}"
            assert 0 <= rating.total <= len(expected) and rating.reason.strip()
    _check_failed_ratings_never_count()


async def _rate_a_day(judge_config: dict) -> list:
    sim = simulation(judge=judge_config, assistant="random", assistant_options={"rate": 0.3})
    await sim.judge.start_day(0)
    sim.assistant.start_day(0)
    out = []
    for obs in (await awake_observations(sim, 0))[::6]:
        proposal = await sim.assistant.propose(obs, 2)
        ratings = await sim.judge.rate(obs, proposal.candidates)
        assert len(ratings) == len(proposal.candidates)
        sim.judge.record(obs, proposal.candidates[1], ratings[1])
        out.extend(ratings)
    return out


def _check_failed_ratings_never_count() -> None:
    criteria = ("preference", "timing")
    failed = failed_rating("the model's answer was not valid JSON")
    assert not failed.criteria and failed.to_json()["total"] is None and failed.to_json()["failed"]
    m = metrics_of(0, [(True, True, 0, False, {}), (True, False, 2, False, dict.fromkeys(criteria, True))], 0, 150,
                   criteria)
    assert m.failed_ratings == 1 and m.mean_score == 2 and m.pass_rates == dict.fromkeys(criteria, 1.0)
    sim = simulation()
    obs = asyncio.run(awake_observations(sim, 0, limit=1))[0]
    good = asyncio.run(sim.judge.rate(obs, sim_candidates(sim, obs)))[0]
    assert make_pairs(0, obs, sim_candidates(sim, obs), [good, failed], "prompt") == []


def sim_candidates(sim: Simulation, obs: Observation) -> tuple:
    from engine.assistants.base import candidate_of
    from engine.types import ABSTAIN

    return (ABSTAIN, candidate_of(sim.assistant.catalog.fitting(obs.activity.tags)[0]))


# --- assistants --------------------------------------------------------------------------
def check_assistant(name: str, folder: Path) -> None:
    proposals = asyncio.run(_propose_a_day(name))
    assert asyncio.run(_propose_a_day(name)) == proposals, "same seed, same proposals"
    for proposal in proposals:
        assert isinstance(proposal, Proposal) and len(proposal.candidates) == 2 and proposal.prompt
    asyncio.run(_check_save_load(name, folder))
    if name != "oracle":
        _check_persona_unreachable(name)


async def _propose_a_day(name: str) -> list[Proposal]:
    sim = simulation(assistant=name, days=1)
    proposals = []
    while (record := await sim.step()) is not None:
        proposals.append(Proposal(record.candidates, record.prompt, record.retrieved))
    return proposals


async def _check_save_load(name: str, folder: Path) -> None:
    """Save after day 1, load into a fresh assistant: both propose the same on day 2."""
    sim = simulation(assistant=name, days=2)
    while sim.day == 0:
        await sim.step()
    sim.assistant.save(folder)
    twin = simulation(assistant=name, days=2)
    twin.assistant.load(folder)
    observations = await awake_observations(simulation(days=2), 1, limit=40)
    for assistant in (sim.assistant, twin.assistant):
        assistant.start_day(1)
    for obs in observations:
        assert await sim.assistant.propose(obs, 2) == await twin.assistant.propose(obs, 2)


def _check_persona_unreachable(name: str) -> None:
    sim = simulation(assistant=name, days=1)
    asyncio.run(sim.step())  # let it build any lazy state
    leaks = [type(o).__name__ for o in _reachable(sim.assistant) if isinstance(o, HIDDEN_TYPES)]
    assert not leaks, f"{name} can reach hidden persona data: {leaks}"
    assert not sim.assistant.reads_hidden_preferences


def _reachable(root: object) -> list[object]:
    """Everything an object can reach, without walking into modules, classes or functions' globals."""
    seen, stack, found = {id(root)}, [root], []
    while stack:
        obj = stack.pop()
        found.append(obj)
        for ref in gc.get_referents(obj):
            if isinstance(ref, (types.ModuleType, type, types.FunctionType, types.BuiltinFunctionType)):
                continue
            if isinstance(ref, dict) and "__builtins__" in ref:
                continue
            if id(ref) not in seen:
                seen.add(id(ref))
                stack.append(ref)
    return found


# --- embedders ---------------------------------------------------------------------------
def check_embedder(name: str) -> None:
    from engine.embedders import make_embedder

    embedder = make_embedder(name)
    a, b = embedder.embed("weekday h07 Breakfast meal"), embedder.embed("weekend h21 Reading a novel reading")
    assert a.shape == (embedder.dim,) and a.dtype == np.float32
    assert abs(float(np.linalg.norm(a)) - 1.0) < 1e-4
    assert np.array_equal(make_embedder(name).embed("weekday h07 Breakfast meal"), a), "deterministic"
    assert not np.allclose(a, b)
