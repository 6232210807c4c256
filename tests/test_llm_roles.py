"""The LLM user, judge and assistants: offline against scripted fake backends (garbage, invalid
then valid, silly but valid), through the conformance suite and whole simulated hours; and one
hour with all three roles on the real SmolLM2 model."""

import asyncio
import json
import time

import pytest

import engine.compose
from engine.compose import build_simulation, new_run, plan_run
from engine.config import RunConfig
from engine.errors import RunError
from engine.judges.llm import LLMJudge
from engine.llm import BackendError
from engine.llm.fake import FakeBackend
from engine.llm.wrappers import Metered
from engine.metrics import day_metrics
from engine.persona_library import resolve_persona
from engine.seeding import stable_hash
from engine.types import ABSTAIN, Candidate, Observation
from engine.users.llm import LLMUser, plan_model, repair
from engine.users.routine import RoutineUser
from engine.vocab import TONES, TOPICS
from tests import conformance
from training.llm_assistant import WINDOW_MAX

PERSONA = conformance.PERSONA
FAKE = {"default": {"kind": "fake"}}
LLM_ASSISTANTS = ("llm-properassistant", "llm-ars-memory", "llm-ar-memory", "llm-no-memory")

DAY_PLAN = [  # one sensible day, plus silly items the repair must handle
    ("07:00", "07:30", "Morning shower", "bathroom", "shower", ["hygiene"]),
    ("07:30", "08:15", "Breakfast", "kitchen", "dining table", ["meal"]),
    ("08:15", "12:00", "Work at the laptop", "study", "laptop", ["work", "screen"]),
    ("09:00", "09:30", "Overlapping call", "study", "desk", ["work"]),  # overlaps: dropped
    ("12:00", "12:45", "Lunch", "kitchen", "stove", ["cooking", "meal"]),
    ("13:00", "12:50", "Backwards nap", "bedroom", "bed", ["rest"]),  # ends before it starts: dropped
    ("12:45", "17:30", "Afternoon work", "study", "desk", ["work"]),
    ("17:30", "18:30", "Gardening", "garden", "sofa", ["outdoor", "chores"]),  # no sofa in the garden
    ("18:30", "19:30", "Dinner", "kitchen", "dining table", ["meal", "social"]),
    ("19:30", "22:30", "Reading on the sofa", "common_room", "sofa", ["reading", "leisure"]),
]


def plan_json(items=DAY_PLAN) -> str:
    keys = ("start", "end", "activity", "room", "object", "tags")
    return json.dumps({"activities": [dict(zip(keys, item)) for item in items]})


def _pick(messages, *salt) -> int:
    return stable_hash(json.dumps(messages, sort_keys=True) + ":".join(map(str, salt)))


def script(messages, n, schema):
    """Deterministic, sensible answers for whichever role asks (known by its schema's title)."""
    title = (schema or {}).get("title")
    if title == "DayPlan":
        return [plan_json()] * n
    if title == "Answer":
        out = []
        for i in range(n):
            h = _pick(messages, i)
            if h % 3 == 0:
                out.append(json.dumps({"recommend": False, "text": "", "topic": "music", "tone": "warm"}))
            else:
                topic, tone = TOPICS[h % len(TOPICS)], TONES[h % len(TONES)]
                out.append(json.dumps({"recommend": True, "text": f"How about something on {topic}?",
                                       "topic": topic, "tone": tone}))
        return out
    if title == "Verdicts":
        verdict = schema["$defs"]["Verdict"]["properties"]
        answer = {}
        for j, option in enumerate(schema["properties"]):
            h = _pick(messages, j)
            answer[option] = {"reason": "feels right" if h % 2 else "not now"} | {
                c: bool((h >> k) & 1) for k, c in enumerate(verdict) if c != "reason"}
        return [json.dumps(answer)] * n
    if title == "Check":
        return [json.dumps({"reason": "fine", "passes": bool(_pick(messages) % 4)})] * n
    return ["{}"] * n


@pytest.fixture
def scripted(monkeypatch):
    """Every backend the composition root builds is a FakeBackend answering with `script`
    (metered, so the run's ledger sees the calls). Yields the built fakes."""
    built = []

    def fake_build(config, role, *, ledger=None, **_):
        backend = FakeBackend(script, model="scripted")
        built.append(backend)
        return Metered(backend, ledger, role) if ledger is not None else backend

    monkeypatch.setattr(engine.compose, "build_backend", fake_build)
    return built


def persona():
    return resolve_persona(PERSONA)[0]


def llm_sim(**fields):
    base = {"persona": PERSONA, "assistant": "llm-properassistant", "days": 1, "seed": 0, "backends": FAKE,
            "user": {"kind": "llm"}, "judge": {"kind": "llm"}}
    sim = build_simulation(plan_run(RunConfig.model_validate(base | fields)), None)
    sim.start_at(0)
    return sim


async def drive_minutes(sim, minutes: int) -> list:
    """Steps from the first awake step while less than `minutes` of simulated time have passed."""
    records = [await sim.step()]
    first = records[0].observation.minute
    while (obs := await sim.observe_now()) is not None and obs.minute < first + minutes:
        records.append(await sim.step())
    return records


# --- conformance ---------------------------------------------------------------------
@pytest.mark.parametrize("name", LLM_ASSISTANTS)
def test_llm_assistants_conform(name, tmp_path, scripted):
    conformance.check_assistant(name, tmp_path)


def test_llm_judge_conforms(scripted):
    conformance.check_judge("llm")


def test_llm_user_conforms(scripted):
    conformance.check_user("llm")


# --- the assistant -------------------------------------------------------------------
def _obs(minute=9 * 60, text="Work at the laptop", tags=("work",)) -> Observation:
    from engine.types import Activity
    return Observation(0, minute * 60 // 150, minute, 0, f"{minute // 60:02d}:{minute % 60:02d}",
                       Activity(text, "study", "laptop", tags))


def _assistant(responses, name="llm-properassistant"):
    from training.llm_assistant import LLMAssistant
    return LLMAssistant(FakeBackend(responses), 7, name)


def test_assistant_garbage_abstains_and_invalid_then_valid_recommends():
    valid = json.dumps({"recommend": True, "text": "Stretch for two minutes.", "topic": "fitness", "tone": "gentle"})
    # n=2: the first completion is garbage twice (fails), the second invalid then valid after its re-ask
    backend_texts = iter(["not json at all", '{"recommend": true, "topic": "nope"}', "still garbage", valid])
    assistant = _assistant(lambda m, n, s: [next(backend_texts) for _ in range(n)])
    proposal = asyncio.run(assistant.propose(_obs(), 2))
    assert ABSTAIN in proposal.candidates and Candidate(None, "Stretch for two minutes.", "fitness", "gentle") \
        in proposal.candidates
    assert assistant.failed_answers == 1
    messages = proposal.prompt
    assert messages[0]["role"] == "system" and "09:00" in messages[-1]["content"].splitlines()[-1]


def test_assistant_prompt_holds_memory_retrieval_and_recent_events():
    from engine.types import Feedback
    assistant = _assistant(lambda m, n, s: ['{"recommend": false}'] * n)
    rec = Candidate(None, "Put on some jazz.", "music", "warm")
    for i in range(6):  # an hour of work, then lunch: the work steps leave the last events
        obs = _obs(8 * 60 + i * 10) if i < 3 else _obs(8 * 60 + i * 10, "Lunch", ("meal",))
        assistant.observe(Feedback(obs, (ABSTAIN, rec), (4, 2), ("quiet ok", "meh"), 1))
    for i in range(WINDOW_MAX - 4):  # the window fills, is cut back to its last 4, and one more comes
        assistant.observe(Feedback(_obs(9 * 60 + i * 3, "Lunch", ("meal",)), (ABSTAIN, rec), (4, 2), ("ok", "meh"), 1))
    proposal = asyncio.run(assistant.propose(_obs(9 * 60 + 30), 2))
    text = proposal.prompt[-1]["content"]
    # what changes least first: closed summaries, the last events, then what changes every step
    order = ["What happened so far:", "Last events:", "Similar past moments:", "Now:"]
    assert [text.index(part) for part in order] == sorted(text.index(part) for part in order)
    assert "day 1 08:00-09:00: 6 recommendation(s) in 6 steps" in text and "[2/4]" in text
    last = text[text.index("Last events:"):text.index("Similar past moments:")]
    similar = text[text.index("Similar past moments:"):text.index("Now:")]
    assert last.count("\nday 1 ") == 5 and "Lunch" in last and "Work at the laptop" not in last  # cut to 4, +1
    assert "Work at the laptop" in similar  # retrieved, and not among the last events
    assert proposal.retrieved and all(r.startswith("day 1 ") for r in proposal.retrieved)
    assert all(line not in last for line in similar.splitlines()[1:] if line)
    assert proposal.candidates == (ABSTAIN, ABSTAIN)
    bare = _assistant(lambda m, n, s: ["{}"] * n, "llm-no-memory")
    assert "Last events" not in bare.messages(_obs())[0][-1]["content"]


def test_assistant_prompt_keeps_its_prefix_while_the_last_events_grow():
    """Consecutive steps' prompts share everything up to the step's new event (a llama.cpp backend
    re-evaluates only the rest), but where the window of last events is cut back."""
    from engine.types import Feedback
    assistant = _assistant(lambda m, n, s: ['{"recommend": false}'] * n)
    rec = Candidate(None, "Put on some jazz.", "music", "warm")
    kept, cuts = 0, 0
    before = None
    for i in range(24):
        obs = _obs(8 * 60 + i * 2 + 1)
        content = assistant.messages(obs)[0][-1]["content"]
        if i >= 2:  # from the second event on, the current hour has its summary
            stable = before[:before.index("\n\n", before.index("Last events:"))]
            kept += content.startswith(stable)
            cuts += not content.startswith(stable)
        before = content
        assistant.observe(Feedback(obs, (ABSTAIN, rec), (4, 2), ("quiet ok", "meh"), 1))
    assert (kept, cuts) == (20, 2)  # the window grows to 12 events, then is cut to the last 4 (the 13th, the 22nd)
    assert len(assistant._window) == 6
    # the hour's events cut from the window are summed up before it (it changes only at a cut)
    assert "Earlier this hour: 18 recommendation(s) in 18 steps" in assistant.messages(_obs(8 * 60 + 49))[0][-1]["content"]


def test_llm_assistant_against_the_offline_world_for_a_day(scripted):
    sim = conformance.simulation(assistant="llm-ars-memory", days=1)
    records = []
    while (record := await_step(sim)) is not None:
        records.append(record)
    recs = [(c, r) for rec in records for c, r in zip(rec.candidates, rec.ratings) if c.is_recommendation]
    assert recs and all(c.item_id is None and c.topic in TOPICS for c, _ in recs)
    assert all(not r.failed and set(r.criteria) == set(sim.criteria) for _, r in recs)
    assert any(r.total > 0 for _, r in recs)


def await_step(sim):
    return asyncio.run(sim.step())


# --- the judge -----------------------------------------------------------------------
def test_judge_combined_rates_identical_candidates_once_with_exact_criteria():
    backend = FakeBackend(script)
    judge = LLMJudge(backend, persona(), 0, ("timing", "frequency"))
    rec = Candidate(None, "Take a short walk.", "fitness", "gentle")
    ratings = asyncio.run(judge.rate(_obs(), [rec, rec]))
    assert len(backend.calls) == 1 and ratings[0] == ratings[1]
    schema = backend.calls[0].json_schema
    assert list(schema["properties"]) == ["option_1"]
    assert set(schema["$defs"]["Verdict"]["properties"]) == {"reason", "timing", "frequency"}
    assert set(ratings[0].criteria) == {"timing", "frequency"}
    system = backend.calls[0].messages[0]["content"]
    assert persona().rubric.timing in system and persona().rubric.preference not in system


def test_judge_reference_asks_frequency_twice_and_needs_both():
    answers = {"too often": True, "too rarely": False}

    def ref_script(messages, n, schema):
        q = messages[-1]["content"].rsplit("Question: ", 1)[1]
        passes = answers["too rarely"] if "too rarely" in q else answers["too often"] if "too often" in q else True
        return [json.dumps({"reason": "because", "passes": passes})] * n

    backend = FakeBackend(ref_script)
    judge = LLMJudge(backend, persona(), 0, mode="reference")
    [rating] = asyncio.run(judge.rate(_obs(), [ABSTAIN]))
    assert len(backend.calls) == 5  # preference, timing, frequency x2, communication
    assert rating.criteria == {"preference": True, "timing": True, "frequency": False, "communication": True}


def test_judge_reuses_a_quiet_verdict_only_while_the_moment_is_unchanged():
    backend = FakeBackend(script)
    judge = LLMJudge(backend, persona(), 0, quiet_reuse=2)
    rec = Candidate(None, "Take a short walk.", "fitness", "gentle")

    def step(minute, candidates, text="Work at the laptop", deliver=1):
        obs = _obs(minute, text)
        ratings = asyncio.run(judge.rate(obs, candidates))
        judge.record(obs, candidates[deliver], ratings[deliver])
        return ratings

    first = step(540, [ABSTAIN, ABSTAIN])
    again = [step(541 + i, [ABSTAIN, ABSTAIN]) for i in (1, 2)]
    assert len(backend.calls) == 1 and judge.reused_verdicts == 2  # the same activity, nothing said since
    assert all(r.criteria == first[0].criteria and r.reason.startswith("(as at the step before") for r, _ in again)
    step(550, [ABSTAIN, ABSTAIN])
    assert len(backend.calls) == 2  # at most quiet_reuse in a row, then it asks again
    step(552, [ABSTAIN, ABSTAIN], text="Lunch")
    assert len(backend.calls) == 3  # a new moment
    step(555, [ABSTAIN, rec], text="Lunch")
    step(557, [ABSTAIN, ABSTAIN], text="Lunch")
    assert len(backend.calls) == 5  # a recommendation was delivered in between: not the same moment
    reference = LLMJudge(FakeBackend(script), persona(), 0, mode="reference", quiet_reuse=2)
    assert reference.quiet_reuse == 0  # the reference mode asks every step, as the paper's code does


def test_judge_prompt_keeps_its_prefix_until_what_changed():
    """Between two calls the judge's prompt changes only from the last recommendation's age on (a
    llama.cpp backend re-evaluates only that tail), or, after a delivery, from the new recommendation on."""
    backend = FakeBackend(script)
    judge = LLMJudge(backend, persona(), 0)
    rec = Candidate(None, "Listen to a podcast.", "news", "concise")
    prompts = []
    for i, delivered in enumerate((rec, ABSTAIN, ABSTAIN, rec, ABSTAIN)):
        obs = _obs(9 * 60 + 5 * i)
        [rating] = asyncio.run(judge.rate(obs, [rec]))
        judge.record(obs, delivered, rating)
        prompts.append(backend.calls[-1].messages[-1]["content"])

    def common(a: str, b: str) -> str:
        return a[:next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))]

    assert "What I am doing: Work at the laptop" in prompts[1] and prompts[1].endswith(
        'option_1: "Listen to a podcast." (topic: news, tone: concise)')
    assert common(prompts[1], prompts[2]).endswith("Today: 1, the last ")  # quiet step
    after = common(prompts[3], prompts[4])  # after a delivery: from the new recommendation on
    assert after.endswith("/4)\n") and after.split("Last recommendations:\n")[1].startswith('09:00 "Listen')
    assert '09:15 "Listen to a podcast."' in prompts[4] and '09:15 "Listen' not in after


def test_judge_invalid_answer_is_a_failed_rating_never_a_score():
    judge = LLMJudge(FakeBackend(["garbage"]), persona(), 0)
    ratings = asyncio.run(judge.rate(_obs(), [ABSTAIN, Candidate(None, "Hi.", "music", "warm")]))
    assert all(r.failed and r.criteria == {} and r.reason for r in ratings)
    assert judge.failed_ratings == 2

    def broken(messages, n, schema):
        raise BackendError("server down")

    [failed] = asyncio.run(LLMJudge(FakeBackend(broken), persona(), 0).rate(_obs(), [ABSTAIN]))
    assert failed.failed and "server down" in failed.reason


def test_judge_memory_is_reset_each_day_and_feeds_the_prompt():
    backend = FakeBackend(script)
    judge = LLMJudge(backend, persona(), 0)
    rec = Candidate(None, "Listen to a podcast.", "news", "concise")
    [rating] = asyncio.run(judge.rate(_obs(), [rec]))
    judge.record(_obs(), rec, rating)
    asyncio.run(judge.rate(_obs(9 * 60 + 5), [ABSTAIN]))
    assert "Listen to a podcast." in backend.calls[-1].messages[-1]["content"]
    asyncio.run(judge.start_day(1))
    asyncio.run(judge.rate(_obs(), [ABSTAIN]))
    assert "Listen to a podcast." not in backend.calls[-1].messages[-1]["content"]


def test_failed_ratings_are_counted_in_metrics_and_never_in_pairs(monkeypatch):
    def flaky(messages, n, schema):
        if (schema or {}).get("title") == "Verdicts" and _pick(messages) % 3 == 0:
            return ["no json"] * n
        return script(messages, n, schema)

    monkeypatch.setattr(engine.compose, "build_backend", lambda config, role, **_: FakeBackend(flaky))
    sim = llm_sim(user={"kind": "routine"})
    records = asyncio.run(drive_minutes(sim, 120))
    failed = [r for r in records if any(x.failed for x in r.ratings)]
    assert failed and len(failed) < len(records)
    m = day_metrics(0, records, len(sim.day_pairs), sim.config.step_seconds, sim.criteria)
    assert m.failed_ratings == sum(r.delivered_rating.failed for r in records) > 0
    failed_steps = {r.step for r in failed}
    assert sim.day_pairs and not any(p.step in failed_steps for p in sim.day_pairs)


# --- the user ------------------------------------------------------------------------
def test_silly_plan_is_repaired_deterministically():
    segments = repair(plan_model().model_validate_json(plan_json()).activities)
    texts = [a.text for _, _, a in segments]
    assert "Overlapping call" not in texts and "Backwards nap" not in texts
    garden = next(a for _, _, a in segments if a.text == "Gardening")
    assert garden.object == "flower beds"  # the garden's first object
    assert [s for s, _, _ in segments] == sorted(s for s, _, _ in segments)


def _user(responses) -> LLMUser:
    import datetime as dt

    from engine.clock import SimClock
    return LLMUser(FakeBackend(responses), persona(), SimClock(dt.date(2026, 3, 2), 2), 0)


def test_user_plan_maps_minutes_and_sleeps_outside_it():
    user = _user([plan_json()])
    asyncio.run(user.start_day(0))
    at = lambda minute: asyncio.run(user.next_activity(minute * 60 // 150))  # noqa: E731
    assert at(3 * 60).asleep and at(23 * 60).asleep and at(6 * 60 + 59).asleep
    assert at(7 * 60).text == "Morning shower" and at(9 * 60 + 10).text == "Work at the laptop"
    assert user.failed_plans == 0
    messages = user.backend.calls[0].messages
    assert messages[-1]["content"].endswith("Plan Monday 2026-03-02.")


def test_failed_plan_falls_back_to_the_routine_and_is_counted():
    user = _user(["garbage", "more garbage"])
    asyncio.run(user.start_day(0))
    routine = RoutineUser(persona(), user.clock, 0).plan_day(0)
    assert user.failed_plans == 1 and user._plan == routine
    empty = _user([json.dumps({"activities": [dict(zip(("start", "end", "activity", "room", "object", "tags"),
                                                       ("10:00", "09:00", "x", "study", "desk", ["work"])))]})])
    asyncio.run(empty.start_day(0))
    assert empty.failed_plans == 1


# --- composition ---------------------------------------------------------------------
def test_an_llm_role_without_a_backend_is_refused_before_anything_is_written(tmp_path):
    for fields, role in (({"judge": {"kind": "llm"}}, "judge"), ({"user": {"kind": "llm"}}, "user"),
                         ({"assistant": "llm-no-memory"}, "assistant")):
        config = RunConfig.model_validate({"persona": PERSONA, "assistant": "random"} | fields)
        with pytest.raises(RunError, match=rf"needs a backend: set \[backends.{role}\] or \[backends.default\]"):
            new_run(config, tmp_path / role)
        assert not (tmp_path / role).exists()


def test_a_full_hour_with_three_llm_roles_and_one_ledger(tmp_path, scripted):
    config = RunConfig.model_validate({"persona": PERSONA, "assistant": "llm-properassistant", "days": 1,
                                       "backends": FAKE, "user": {"kind": "llm"}, "judge": {"kind": "llm"}})
    sim = new_run(config, tmp_path / "run")
    records = asyncio.run(drive_minutes(sim, 60))
    assert len(records) == 24
    assert len(scripted) == 3, "one backend per role (metered under its name), sharing the config's limit"
    assert any(c.is_recommendation for r in records for c in r.candidates)
    assert all(not x.failed for r in records for x in r.ratings)
    assert records[0].observation.activity.text == "Morning shower"
    lines = (tmp_path / "run" / "calls.jsonl").read_text().splitlines()
    roles = {json.loads(line)["role"] for line in lines}
    quiet_reused = sim.judge.reused_verdicts  # quiet steps at an unchanged moment: the judge's verdict stands
    assert roles == {"user", "judge", "assistant"} and len(lines) == 1 + 2 * 24 - quiet_reused  # a plan, a call each
    asyncio.run(sim.aclose())
    assert all(backend.closed for backend in scripted)
    offline = new_run(RunConfig.model_validate({"persona": PERSONA, "assistant": "random", "days": 1}),
                      tmp_path / "offline")
    asyncio.run(offline.step())
    assert not (tmp_path / "offline" / "calls.jsonl").exists()


def test_each_role_uses_its_own_backend_entry(scripted):
    sim = llm_sim(backends=FAKE | {"judge": {"kind": "fake", "model": "judge-model"}})
    asyncio.run(sim.step())
    assert len(scripted) == 3 and sim.judge.backend is not sim.assistant.backend
    assert sim.backends.config_for("judge").model == "judge-model"
    assert sim.backends.config_for("user") == sim.backends.config_for("assistant")


# --- the real model ------------------------------------------------------------------
def _real_model_skip() -> str | None:
    try:
        import llama_cpp  # noqa: F401
    except ImportError as error:
        return f"needs llama-cpp-python (pip install -e '.[llm]'): {error}"
    from engine.llm.config import smollm2_path
    try:
        smollm2_path()
    except ImportError as error:
        return str(error)
    return None


def real_model_hour(backend: dict) -> RunConfig:
    """All three roles on one real-model backend, 20-minute steps (an hour is 3 decisions), short answers."""
    return RunConfig.model_validate({
        "persona": PERSONA, "assistant": "llm-ars-memory", "days": 1, "step_seconds": 1200,
        "backends": {"default": backend},
        "user": {"kind": "llm", "options": {"max_tokens": 200, "temperature": 0.0}},
        "judge": {"kind": "llm", "options": {"max_tokens": 120, "temperature": 0.0}},
        "assistant_options": {"max_tokens": 48, "temperature": 0.7}})


@pytest.mark.skipif(bool(_real_model_skip()), reason=str(_real_model_skip()))
def test_one_hour_with_all_three_roles_on_smollm2(tmp_path):
    """SmolLM2-135M in process for user, judge and assistant, one simulated hour. The steps are 20
    minutes long so the hour is 3 decisions: constrained decoding runs ~10 tokens/s here."""
    smol = {"kind": "llama-cpp", "n_threads": 1, "n_ctx": 4096, "max_in_flight": 1}
    sim = new_run(real_model_hour(smol), tmp_path / "run")
    started = time.monotonic()
    try:
        records = asyncio.run(drive_minutes(sim, 60))
    finally:
        asyncio.run(sim.aclose())
    assert records and time.monotonic() - started < 240
    assert sim.user.failed_plans in (0, 1)
    for record in records:
        assert not record.observation.activity.asleep
        for candidate, rating in zip(record.candidates, record.ratings):
            assert candidate == ABSTAIN or (candidate.topic in TOPICS and candidate.tone in TONES)
            assert rating.failed or set(rating.criteria) == set(sim.criteria)
    lines = [json.loads(line) for line in (tmp_path / "run" / "calls.jsonl").read_text().splitlines()]
    assert lines and all(line["backend"] == "llama-cpp" for line in lines)
    assert any(not line["failed"] for line in lines), f"the model answered no call: {lines[0]['error']}"
