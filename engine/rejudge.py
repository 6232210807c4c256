"""Re-judging a recorded run: its steps, as recorded, put before another judge, and the two compared.

The recording is only read. The new judge is built by the composition root from the run's own
config with another [judge] (and perhaps [backends]); it lives through the same days: start_day at
each day's first step, rate with the step's candidates, then record() the delivered candidate.
By default it records the *recorded* rating of the delivered candidate, so its day memory is
exactly what the original judge's was and every disagreement is a disagreement on that step;
`memory="own"` feeds it its own ratings instead (as if it had judged the run all along). Its LLM
calls are metered in a ledger in memory, never in the run folder.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from engine.agreement import JudgeAgreement, compare_ratings
from engine.assistants import BACKEND_FLAG
from engine.clock import SimClock
from engine.compose import BackendPool, build_judge, plan_judge, read_config_file
from engine.config import RunConfig, parse_run_config
from engine.errors import ConfigError, Problem, RunError
from engine.judges import JUDGES, Judge
from engine.llm.config import BackendConfig
from engine.llm.ledger import CallLedger, RoleTotals
from engine.persona import Persona, load_persona
from engine.store import RunStore, read_jsonl
from engine.types import Activity, Candidate, Observation, Rating, candidate_from_json

MEMORIES = ("recorded", "own")


@dataclass(frozen=True, slots=True)
class RecordedStep:
    observation: Observation
    candidates: tuple[Candidate, ...]
    ratings: tuple[Rating | None, ...]  # None: the recording has no rating for that candidate
    delivered: int


@dataclass(frozen=True)
class Recording:
    folder: Path
    config: RunConfig
    persona: Persona
    steps: list[RecordedStep]


def rating_from_json(raw: dict) -> Rating:
    return Rating(dict(raw.get("criteria") or {}), raw.get("reason", ""), bool(raw.get("missed", False)),
                  raw.get("source", "simulated"), bool(raw.get("failed", False)))


def step_from_json(raw: dict, clock: SimClock) -> RecordedStep:
    """A step line of events.jsonl back as the judge saw it (the minute from the run's clock, as the loop made it)."""
    a = raw["activity"]
    activity = Activity(a["text"], a["room"], a["object"], tuple(a["tags"]), a.get("source", "routine"))
    obs = Observation(raw["day"], raw["step"], clock.minute_of_day(raw["step"]), raw["weekday"], raw["clock"],
                      activity)
    candidates = tuple(candidate_from_json(c) for c in raw["candidates"])
    ratings = tuple(rating_from_json(c["rating"]) if c.get("rating") else None for c in raw["candidates"])
    return RecordedStep(obs, candidates, ratings, raw["delivered"])


def load_recording(folder: Path) -> Recording:
    """A run folder's config, persona and steps, read only; RunError for anything that is not a usable recording."""
    folder = Path(folder)
    if not folder.is_dir():
        raise RunError(f"{folder}: no such run folder")
    config = RunStore.read_config(folder)
    if not (folder / "persona.toml").exists():
        raise RunError(f"{folder} has no persona.toml")
    persona = load_persona(folder / "persona.toml", check_name=False)
    records, _ = read_jsonl(folder / "events.jsonl")
    clock = SimClock(config.start_date, config.days, config.step_seconds)
    try:
        steps = [step_from_json(r, clock) for r in records if r.get("type") == "step"]
    except (KeyError, TypeError, ValueError) as error:
        raise RunError(f"{folder / 'events.jsonl'}: a step record is malformed ({type(error).__name__}: {error})") \
            from None
    if not steps:
        raise RunError(f"{folder} has no recorded steps (events.jsonl is missing or empty)")
    expected = set(config.judge.criteria)
    for step in steps:
        for rating in step.ratings:
            if rating is not None and not rating.failed and set(rating.criteria) != expected:
                raise RunError(f"criteria mismatch in {folder / 'events.jsonl'}: day {step.observation.day + 1} "
                               f"{step.observation.clock} rates {sorted(rating.criteria)}, but run.toml's judge "
                               f"names {sorted(expected)}")
    return Recording(folder, config, persona, steps)


def rejudge_config(recorded: RunConfig, judge: dict, backends: dict[str, dict] | None = None,
                   file: Path | None = None) -> RunConfig:
    """The recorded run's config with a new judge. Layers, later over earlier: the recording's
    criteria and backends; `file`'s [judge] and [backends] (its other keys are the recording's to
    fix, so they are ignored); then `judge` and `backends` from the command line (None = not given)."""
    where = "command line"
    judge_raw: dict = {"criteria": list(recorded.judge.criteria)}
    backends_raw = {role: b.model_dump(mode="json", exclude_none=True) for role, b in recorded.backends.items()}
    if file is not None:
        where = f"{file} + command line"
        raw = read_config_file(file)
        unknown = sorted(set(raw) - set(RunConfig.model_fields))
        if unknown:
            raise ConfigError(file, [Problem(key, "unknown key (only [judge] and [backends] are used here)")
                                     for key in unknown])
        for key in ("judge", "backends", "judge.options"):
            table, _, inner = key.partition(".")
            value = raw.get(table, {}).get(inner, {}) if inner else raw.get(table, {})
            if not isinstance(value, dict):
                raise ConfigError(file, [Problem(key, "must be a table")])
        judge_raw |= raw.get("judge", {})
        backends_raw |= raw.get("backends", {})
    options = judge_raw.get("options", {}) | (judge.get("options") or {})
    judge_raw |= {k: v for k, v in judge.items() if v is not None and k != "options"}
    if "kind" not in judge_raw:
        raise RunError("name the new judge: --judge NAME (or kind in the [judge] table of --config)")
    if judge_raw["kind"] in JUDGES and "quiet_reuse" in JUDGES.get(judge_raw["kind"]).options_model().model_fields:
        # every step is judged afresh: a reused verdict would agree with itself, not with the recording
        options = {"quiet_reuse": 0} | options
    judge_raw["options"] = options
    backends_raw |= backends or {}
    fields = recorded.to_toml_dict() | {"judge": judge_raw, "backends": backends_raw}
    config = parse_run_config(fields, where)
    if set(config.judge.criteria) != set(recorded.judge.criteria):
        raise RunError(f"criteria mismatch: the recording rates {', '.join(recorded.judge.criteria)}; "
                       f"the new judge would rate {', '.join(config.judge.criteria)}")
    return config


def describe_judge(config: RunConfig) -> str:
    """kind, mode and model of a config's judge, e.g. "llm combined · openai · qwen2.5-7b"."""
    entry = JUDGES.get(config.judge.kind)
    name = entry.name
    mode = getattr(entry.parse_options(config.judge.options, "judge options"), "mode", None)
    if mode is not None:
        name += f" {mode}"
    if config.judge.noise:
        name += f" (noise {config.judge.noise:g})"
    backend = config.backends.get("judge") or config.backends.get("default")
    if BACKEND_FLAG not in entry.flags or backend is None:
        return name
    return " · ".join((name, backend.kind, _model_name(backend)))


def _model_name(backend: BackendConfig) -> str:
    if backend.kind == "llama-cpp":
        return backend.model or (backend.gguf_path.stem if backend.gguf_path else "SmolLM2-135M-Instruct (bundled)")
    return backend.model or backend.kind


def select_steps(steps: Sequence[RecordedStep], days: int | None = None, limit: int | None = None) -> list[RecordedStep]:
    """The steps of the first `days` recorded days, then the first `limit` of those (None: all)."""
    if days is not None:
        first = sorted({s.observation.day for s in steps})[:days]
        steps = [s for s in steps if s.observation.day in first]
    return list(steps[:limit] if limit is not None else steps)


async def rejudge(steps: Sequence[RecordedStep], judge: Judge, memory: str = "recorded",
                  ledger: CallLedger | None = None,
                  on_step: Callable[[int], None] | None = None) -> list[list[Rating]]:
    """The new judge's ratings of every step's candidates, through the recorded day structure."""
    if memory not in MEMORIES:
        raise ValueError(f"memory must be one of {MEMORIES}, got {memory!r}")
    out: list[list[Rating]] = []
    day = None
    for done, step in enumerate(steps, start=1):
        obs = step.observation
        if obs.day != day:
            day = obs.day
            if ledger is not None:
                ledger.set_position(day, None)
            await judge.start_day(day)
        if ledger is not None:
            ledger.set_position(obs.day, obs.step)
        ratings = list(await judge.rate(obs, step.candidates))
        if len(ratings) != len(step.candidates):
            raise RunError(f"the {judge.kind} judge gave {len(ratings)} ratings for {len(step.candidates)} candidates")
        recorded = step.ratings[step.delivered]
        fed = recorded if memory == "recorded" and recorded is not None else ratings[step.delivered]
        judge.record(obs, step.candidates[step.delivered], fed)
        out.append(ratings)
        if on_step is not None:
            on_step(done)
    return out


@dataclass(frozen=True)
class AgreementResult:
    run: Path
    recorded_judge: str
    new_judge: str
    steps: int
    unrated: int  # recorded candidates without a rating (not compared)
    human: int  # compared recorded ratings that a human gave
    agreement: JudgeAgreement
    calls: dict[str, RoleTotals]  # the new judge's LLM calls, by role (empty for an offline judge)

    def to_json(self) -> dict:
        return {
            "run": str(self.run), "recorded_judge": self.recorded_judge, "new_judge": self.new_judge,
            "steps": self.steps, "unrated": self.unrated, "human_rated": self.human, **self.agreement.to_json(),
            "calls": {role: {"calls": t.calls, "cached": t.cached, "failed": t.failed,
                             "prompt_tokens": t.prompt_tokens, "completion_tokens": t.completion_tokens}
                      for role, t in self.calls.items()},
        }


async def judge_agreement(recording: Recording, config: RunConfig, steps: Sequence[RecordedStep],
                          memory: str = "recorded",
                          on_step: Callable[[int], None] | None = None) -> AgreementResult:
    """Re-judge `steps` of `recording` with `config`'s judge (see rejudge_config) and compare."""
    options = plan_judge(config)
    backends = BackendPool(config.backends)  # no run folder: the ledger stays in memory
    try:
        judge = build_judge(config, recording.persona, options, backends)
        new = await rejudge(steps, judge, memory, backends.ledger, on_step)
    finally:
        await backends.aclose()
    pairs, unrated, human = [], 0, 0
    for step, ratings in zip(steps, new):
        for recorded, rating in zip(step.ratings, ratings):
            if recorded is None:
                unrated += 1
                continue
            pairs.append((recorded, rating))
            human += recorded.source == "human" and not recorded.failed and not rating.failed
    try:
        figures = compare_ratings(pairs, config.judge.criteria)
    except ValueError as error:
        raise RunError(f"criteria mismatch: {error}") from None
    return AgreementResult(recording.folder, describe_judge(recording.config), describe_judge(config), len(steps),
                           unrated, human, figures, backends.ledger.totals())
