"""The user agent role: what the simulated person is doing, step by step.

Its methods are async because an LLM user awaits a model. `start_day` plans the day;
`next_activity` answers for each step in order (asleep is an activity with the
`sleep` tag: no decision is made then).

Implementations: `routine` (offline, engine/users/routine.py); `takeover`
(engine/users/takeover.py) wraps any user so a human can set the activity.
"""

from typing import Protocol, runtime_checkable

from engine.registry import Entry, Registry
from engine.types import Activity


@runtime_checkable
class UserAgent(Protocol):
    kind: str

    async def start_day(self, day: int) -> None:
        """Plan `day` (0-based)."""

    async def next_activity(self, step: int) -> Activity:
        """The activity at `step` of the current day."""


USERS = Registry("user agent", [
    Entry("routine", "engine.users.routine:build", "offline: the persona's routine, jittered, with breaks and plans"),
    Entry("llm", "engine.users.llm:build", "a model plans the persona's day in one structured call",
          "engine.users.llm:LLMUserOptions", flags=frozenset({"needs-backend"})),
])
