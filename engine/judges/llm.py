"""The LLM judge (`llm`): the persona itself, prompted with its first-person rubric, rates candidates.

Modes:
- ``combined`` (default): ONE structured call per step rates every distinct candidate on every
  configured criterion, with a reason each (identical candidates are judged once). On the llama-cpp
  backend the options' verdicts are decoded side by side, each in a sequence of its own after the
  prompt and its key (engine.llm.schema_tree.independent_members): each option is rated on its own,
  and two cost about the decoding steps of one;
- ``reference``: as the paper's code, one call per criterion per candidate, with frequency
  asked twice (too often? too rarely?) and passing only if both pass.

Its memory of the day (reset by start_day) is extractive: per hour, how many recommendations
were delivered and how they were rated, plus the last delivered recommendations (at least 4, at
most 12: a window that grows between resets, so a llama.cpp backend's cached prompt prefix stays
valid when one is added). An answer that stays invalid after the re-ask gives a failed rating,
never an invented score.
"""

import asyncio
import functools
from collections.abc import Sequence
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from engine.llm import Backend
from engine.llm.structured import Structured, chat_structured
from engine.persona import Persona
from engine.prompts import template
from engine.seeding import ROLE_JUDGE, stable_hash
from engine.types import Activity, Candidate, Observation, Rating, failed_rating
from engine.vocab import CRITERIA, DEFAULT_CRITERIA, OPTIONAL_CRITERIA

# A short reason, one sentence: every character is decoded (SmolLM2 on a 2-core CPU writes ~40 tokens a second)
Reason = Annotated[str, Field(max_length=60)]
NOVELTY_TEXT = "I don't want to hear about the same topic again and again."
RECENT_KEPT, RECENT_MAX = 4, 12  # the last recommendations shown: appended to until 12, then cut to the last 4
# (a cut re-evaluates the prompt from the window on: every 8 recommendations, not every 4)
_REUSED = "(as at the step before: nothing changed) "


class LLMJudgeOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: Literal["combined", "reference"] = "combined"
    temperature: Annotated[float, Field(ge=0.0, le=2.0)] = 0.2
    max_tokens: Annotated[int, Field(ge=16, le=2048)] = 256
    # combined mode: a step where every candidate stays quiet, at an unchanged moment (the same activity,
    # nothing delivered since the last quiet verdict), reuses that verdict for at most this many steps
    # in a row, then asks again (time since the last recommendation matters). 0: ask at every step.
    quiet_reuse: Annotated[int, Field(ge=0, le=48)] = 5


class Check(BaseModel):
    """The answer to one question of the reference mode."""

    reason: Reason
    passes: bool


def verdict_model(criteria: tuple[str, ...]) -> type[BaseModel]:
    """One candidate's verdict: exactly the configured criteria as booleans, and a reason."""
    return create_model("Verdict", reason=(Reason, ...), **{c: (bool, ...) for c in criteria})


@functools.cache  # one class per shape, shared by every judge: its JSON schema is then made once
def combined_model(criteria: tuple[str, ...], count: int) -> type[BaseModel]:
    verdict = verdict_model(criteria)
    return create_model("Verdicts", **{f"option_{i + 1}": (verdict, ...) for i in range(count)})


def persona_profile(persona: Persona) -> str:
    t = persona.traits
    traits = ", ".join(f"{name} {getattr(t, name)}" for name in type(t).model_fields)
    return "\n".join([
        f"I am {persona.name}, {persona.age}. {persona.background}",
        "Interests: " + "; ".join(persona.interests),
        "Lifestyle: " + "; ".join(persona.lifestyle),
        "Goals: " + "; ".join(persona.goals),
        "Personality (Big Five): " + traits,
    ])


class DayMemory:
    """What the judge remembers of today: hourly counts and ratings, the last delivered ones."""

    def __init__(self) -> None:
        self.hours: dict[int, list[int]] = {}  # hour -> [steps, recommendations, score sum, rated]
        self.recent: list[str] = []
        self.count = 0
        self.last_minute: int | None = None

    def see(self, obs: Observation, delivered: Candidate, rating: Rating) -> None:
        entry = self.hours.setdefault(obs.minute // 60, [0, 0, 0, 0])
        entry[0] += 1
        if delivered.is_recommendation:
            self.count += 1
            self.last_minute = obs.minute
            entry[1] += 1
            if not rating.failed:
                entry[2] += rating.total
                entry[3] += 1
            score = "unrated" if rating.failed else f"{rating.total}/{len(rating.criteria)}"
            self.recent.append(f"{obs.clock} \"{delivered.text}\" ({score})")
            if len(self.recent) > RECENT_MAX:
                del self.recent[:-RECENT_KEPT]

    @staticmethod
    def _counts(recs: int, total: int, rated: int) -> str:
        return f"{recs} recommendation(s)" + (f", mean rating {total / rated:.1f}" if rated else "")

    def _hour_line(self, hour: int, recs: int, total: int, rated: int) -> str:
        return f"{hour:02d}:00-{hour + 1:02d}:00: {self._counts(recs, total, rated)}"

    def render(self, minute: int, doing: str = "") -> str:
        """Today so far, with `doing` (what I am doing now) after the closed hours. What changes least
        comes first, so a llama.cpp backend re-evaluates only the tail of the prompt: the closed hours
        change once an hour, what I am doing when the activity does, the last recommendations only
        grow (but for a cut every few), the current hour changes when one is delivered, the last
        one's age at every step."""
        now = minute // 60
        lines = ["Today so far:" if self.hours else "Today so far: nothing delivered yet."]
        lines += [self._hour_line(hour, *entry[1:]) for hour, entry in sorted(self.hours.items()) if hour < now]
        if doing:
            lines.append(doing)
        if self.recent:
            lines += ["Last recommendations:", *self.recent]
        # the tail, new at every step: short (its span left out: "Now" says the time)
        tail = []
        if now in self.hours:
            tail.append(f"This hour: {self._counts(*self.hours[now][1:])}.")
        if self.hours:
            since = "none yet" if self.last_minute is None else f"the last {minute - self.last_minute} min ago"
            tail.append(f"Today: {self.count}, {since}.")
        if tail:
            lines.append(" ".join(tail))
        return "\n".join(lines)


def describe(candidate: Candidate) -> str:
    if not candidate.is_recommendation:
        return "No Recommendation (the assistant stays quiet)"
    extra = ", ".join(f"{k}: {v}" for k, v in (("topic", candidate.topic), ("tone", candidate.tone)) if v)
    return f"\"{candidate.text}\"" + (f" ({extra})" if extra else "")


class LLMJudge:
    kind = "llm"
    can_fail = True

    def __init__(self, backend: Backend, persona: Persona, seed: int, criteria: tuple[str, ...] = DEFAULT_CRITERIA,
                 mode: str = "combined", temperature: float = 0.2, max_tokens: int = 256, quiet_reuse: int = 0):
        unknown = set(criteria) - set(DEFAULT_CRITERIA) - set(OPTIONAL_CRITERIA)
        if unknown:
            raise ValueError(f"unknown rubric criteria: {', '.join(sorted(unknown))}")
        self.backend = backend
        self.criteria = tuple(criteria)
        self.mode = mode
        self.seed = seed
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.failed_ratings = 0
        self.memory = DayMemory()
        self.day = 0
        self.quiet_reuse = quiet_reuse if mode == "combined" else 0  # reference mode asks, as the paper does
        self._quiet: tuple[Activity, Rating, int] | None = None  # the moment, its quiet verdict, reuses since
        self.reused_verdicts = 0
        rubric = "\n".join(f"- {CRITERIA[c][1]}: " + (getattr(persona.rubric, c) if c in DEFAULT_CRITERIA
                                                        else NOVELTY_TEXT) for c in self.criteria)
        intro = template("judge_system" if mode == "combined" else "judge_reference")
        system = f"{intro}\n\n{persona_profile(persona)}\n\nMy rubric:\n{rubric}"
        if mode == "combined":  # the fixed instruction in the system prompt, whose evaluation stays cached
            system += f"\n\nRate each option on: {', '.join(self.criteria)} (true = passes), with a reason."
        self._system = {"role": "system", "content": system}

    async def start_day(self, day: int) -> None:
        self.day = day
        self.memory = DayMemory()
        self._quiet = None

    def record(self, obs: Observation, delivered: Candidate, rating: Rating) -> None:
        self.memory.see(obs, delivered, rating)
        if delivered.is_recommendation:
            self._quiet = None  # the moment changed: something was said

    def _reused_quiet(self, obs: Observation, candidates: Sequence[Candidate]) -> Rating | None:
        if self._quiet is None or any(c.is_recommendation for c in candidates):
            return None
        moment, rating, reuses = self._quiet
        if moment != obs.activity or reuses >= self.quiet_reuse:
            return None
        self._quiet = (moment, rating, reuses + 1)
        self.reused_verdicts += 1
        return Rating(rating.criteria, _REUSED + rating.reason.removeprefix(_REUSED), rating.missed_opportunity)

    def _situation(self, obs: Observation) -> str:
        a = obs.activity
        doing = f"What I am doing: {a.text} ({a.room.replace('_', ' ')}, {a.object}; {', '.join(a.tags)})."
        return f"{self.memory.render(obs.minute, doing)}\nNow: {obs.render().partition(' | ')[0]}."

    def _seed(self, obs: Observation, *extra) -> int:
        return stable_hash(":".join(map(str, (self.seed, ROLE_JUDGE, obs.day, obs.step, *extra))))

    async def rate(self, obs: Observation, candidates: Sequence[Candidate]) -> list[Rating]:
        if self.quiet_reuse:
            reused = self._reused_quiet(obs, candidates)
            if reused is not None:
                return [reused] * len(candidates)
        distinct = list(dict.fromkeys(candidates))
        if self.mode == "combined":
            ratings = await self._combined(obs, distinct)
        else:
            ratings = list(await asyncio.gather(*(self._reference(obs, c, i) for i, c in enumerate(distinct))))
        if self.quiet_reuse:
            quiet = next((r for c, r in zip(distinct, ratings) if not c.is_recommendation and not r.failed), None)
            self._quiet = (obs.activity, quiet, 0) if quiet is not None else None
        by_candidate = dict(zip(distinct, ratings))
        out = [by_candidate[c] for c in candidates]
        self.failed_ratings += sum(r.failed for r in ratings)
        return out

    def _rating(self, candidate: Candidate, verdicts: dict[str, bool], reason: str) -> Rating:
        missed = not candidate.is_recommendation and not all(
            verdicts.get(c, True) for c in ("preference", "timing"))
        return Rating({c: bool(verdicts[c]) for c in self.criteria}, reason.strip() or "no reason given", missed)

    async def _combined(self, obs: Observation, distinct: list[Candidate]) -> list[Rating]:
        model = combined_model(self.criteria, len(distinct))
        options = "\n".join(f"option_{i + 1}: {describe(c)}" for i, c in enumerate(distinct))
        ask = f"{self._situation(obs)}\n\nThe options:\n{options}"
        messages = [self._system, {"role": "user", "content": ask}]
        [answer] = await chat_structured(self.backend, messages, model, temperature=self.temperature,
                                         max_tokens=self.max_tokens, seed=self._seed(obs))
        if answer.failed:
            return [failed_rating(f"judge answer invalid: {answer.error}")] * len(distinct)
        out = []
        for i, candidate in enumerate(distinct):
            verdict = getattr(answer.value, f"option_{i + 1}").model_dump()
            out.append(self._rating(candidate, verdict, verdict.pop("reason")))
        return out

    QUESTIONS = {
        "preference": "Does its content fit what I like (preference)?",
        "timing": "Is now a good moment for it (timing)?",
        "communication": "Do its tone and content respect how I like to be spoken to and my boundaries "
                         "(communication & safety)?",
        "novelty": "Is it something other than the topics I heard about recently (novelty)?",
    }
    FREQUENCY = ("Is it NOT too often: given today's recommendations, is this rate acceptable?",
                 "Is it NOT too rarely: given how long it has been quiet, is this acceptable?")

    async def _reference(self, obs: Observation, candidate: Candidate, index: int) -> Rating:
        questions = [(c, q) for c in self.criteria for q in
                     (self.FREQUENCY if c == "frequency" else (self.QUESTIONS[c],))]
        head = f"{self._situation(obs)}\n\nThe option: {describe(candidate)}\n\nQuestion: "
        answers: list[Structured] = await asyncio.gather(*(
            chat_structured(self.backend, [self._system, {"role": "user", "content": head + q}], Check,
                            temperature=self.temperature, max_tokens=self.max_tokens,
                            seed=self._seed(obs, index, j))
            for j, (_, q) in enumerate(questions)))
        answers = [a[0] for a in answers]
        bad = next((a for a in answers if a.failed), None)
        if bad is not None:
            return failed_rating(f"judge answer invalid: {bad.error}")
        verdicts: dict[str, bool] = {}
        reasons = []
        for (criterion, _), answer in zip(questions, answers):
            verdicts[criterion] = verdicts.get(criterion, True) and answer.value.passes
            reasons.append(f"{criterion}: {answer.value.reason.strip()}")
        return self._rating(candidate, verdicts, "; ".join(reasons))


def build(ctx, options: LLMJudgeOptions) -> LLMJudge:
    return LLMJudge(ctx.backend("judge"), ctx.persona, ctx.config.seed, ctx.config.judge.criteria,
                    options.mode, options.temperature, options.max_tokens, options.quiet_reuse)
