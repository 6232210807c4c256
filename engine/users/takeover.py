"""Human takeover of the user agent: a wrapper around any user agent.

A human sets what the user is doing, from a step until released or until a given step;
otherwise the wrapped agent decides.
"""

from engine.types import Activity


class TakeoverUser:
    def __init__(self, inner):
        self.inner = inner
        self._override: Activity | None = None
        self._override_until = -1

    @property
    def kind(self) -> str:
        return self.inner.kind

    async def start_day(self, day: int) -> None:
        await self.inner.start_day(day)
        self._override, self._override_until = None, -1

    async def next_activity(self, step: int) -> Activity:
        if self._override is not None and step < self._override_until:
            return self._override
        self._override = None
        return await self.inner.next_activity(step)

    def set_activity(self, activity: Activity, until_step: int) -> None:
        self._override, self._override_until = activity, until_step

    def release_activity(self) -> None:
        self._override = None
