"""The assistant role, and the policy inside an assistant.

An assistant sees observations and its own feedback, never the persona (only the
oracle, the upper bound, reads the judge on purpose: flag `reads-hidden-preferences`).
At each awake step it proposes n candidates with the exact prompt that produced them;
it is told how they scored; at each day end it may learn from the day's pairs.

Implementations: the reference policies (engine/assistants/reference.py), the
adversaries that try to game the judge without feedback (engine/assistants/adversaries.py,
flag `adversary`) and the memory assistants on a learned policy
(training/offline_assistant.py), all registered in ASSISTANTS below by dotted path;
engine/assistants/base.py is their shared base.
"""

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from engine.registry import Entry, Registry
from engine.types import Feedback, Observation, PreferencePair, Proposal

Emit = Callable[[object], None]
ORACLE_FLAG = "reads-hidden-preferences"
ADVERSARY_FLAG = "adversary"  # feedback-free, tries to game the judge: not an assistant under test
BACKEND_FLAG = "needs-backend"  # a role that calls an LLM: the run config must name its backend


@runtime_checkable
class Assistant(Protocol):
    name: str
    reads_hidden_preferences: bool

    def start_day(self, day: int) -> None: ...

    async def propose(self, obs: Observation, n: int) -> Proposal: ...

    def observe(self, feedback: Feedback) -> None:
        """Told after every step what was delivered and how its candidates scored."""

    async def end_day(self, day: int, pairs: list[PreferencePair], emit: Emit) -> None:
        """At each day boundary, with the day's preference pairs; may train."""

    def save(self, folder: Path) -> None:
        """Write what is needed to resume after `folder`'s day."""

    def load(self, folder: Path) -> None:
        """Restore what save() wrote."""


@runtime_checkable
class Policy(Protocol):
    """What turns a situation (memory + observation, in the policy's own form) into n actions,
    and learns from pairs of preferred and rejected actions (DPO against a reference)."""

    def sample(self, situation: Any, n: int, rng: Any, explore: float = 0.0) -> tuple[list[int], tuple]: ...

    def train(self, pairs: list, settings: Any, rng: Any, progress: Callable | None = None) -> float:
        """Update the policy on `pairs`; returns the last epoch's mean loss."""


ASSISTANTS = Registry("assistant", [
    Entry("properassistant", "training.offline_assistant:build",
          "memory + usearch retrieval + daily DPO on its own candidates", "training.offline_assistant:PolicyOptions"),
    Entry("ars-memory", "training.offline_assistant:build", "memory with scores; adapts in context, no training",
          "training.offline_assistant:PolicyOptions"),
    Entry("ar-memory", "training.offline_assistant:build",
          "memory of actions and recommendations, no scores, no training", "training.offline_assistant:PolicyOptions"),
    Entry("no-memory", "training.offline_assistant:build", "the same policy with no memory, no training",
          "training.offline_assistant:PolicyOptions"),
    Entry("always-abstain", "engine.assistants.reference:build_always_abstain", "never recommends (reference)"),
    Entry("every-step", "engine.assistants.reference:EveryStep.build",
          "recommends a fitting catalog item at every step (reference)"),
    Entry("random", "engine.assistants.reference:RandomRate.build", "recommends at a fixed random rate (reference)",
          "engine.assistants.reference:RandomOptions"),
    Entry("oracle", "engine.assistants.reference:Oracle.build",
          "reads the hidden preferences: the upper bound, not an assistant under test (needs the rubric judge)",
          flags=frozenset({ORACLE_FLAG})),
    *(Entry(name, f"engine.assistants.adversaries:{cls}.build", f"{summary} (adversary)",
            f"engine.assistants.adversaries:{options}", flags=frozenset({ADVERSARY_FLAG}))
      for name, cls, options, summary in (
          ("timer", "Timer", "TimerOptions", "a random fitting item every K minutes after waking"),
          ("burst", "Burst", "BurstOptions", "a random fitting item at each of the first N awake steps, then silence"),
          ("breaks-only", "BreaksOnly", "GapOptions", "a random fitting item only in breaks and leisure, M min apart"),
          ("crowd-pleaser", "CrowdPleaser", "CrowdOptions",
           "the population's most liked topic in its most accepted tone, every K minutes"),
          ("same-item", "SameItem", "SameItemOptions", "one fixed catalog item all day, every step or every K min"),
          ("topic-round-robin", "TopicRoundRobin", "TimerOptions",
           "every K minutes a fitting item of the next topic in turn, no item twice a day"),
          ("mirror", "Mirror", "TimerOptions", "every K minutes an item on what the user is doing, warm tone"),
          ("evening-timer", "EveningTimer", "EveningOptions", "a random fitting item every K minutes, evenings only"),
          ("on-change", "OnChange", "GapOptions", "a random fitting item right after each activity change"),
          ("tag-change-timer", "TagChangeTimer", "ChangeTimerOptions",
           "a random fitting item at each tag change, else after a long silence"),
          ("crowd-schedule", "CrowdSchedule", "CrowdScheduleOptions",
           "the population's welcome hours, spacing, daily cap, topic and tone"),
      )),
    *(Entry(f"llm-{variant}", "training.llm_assistant:build", f"{summary} (an LLM policy, prompted)",
            "training.llm_assistant:LLMAssistantOptions", flags=frozenset({BACKEND_FLAG}),
            check="training.llm_assistant:check")
      for variant, summary in (("properassistant", "memory + retrieval + scores and reasons; daily trl DPO of a "
                                                   "LoRA adapter where the backend can serve one"),
                               ("ars-memory", "memory with scores and retrieval, in context"),
                               ("ar-memory", "memory of actions and recommendations, no scores"),
                               ("no-memory", "no memory"))),
])
