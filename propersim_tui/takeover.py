"""Human takeover in the app: the human rates delivered recommendations in a dialog."""

import asyncio

from engine.types import Rating, StepRecord
from propersim_tui.dialogs import RatingDialog


class TakeoverControls:
    """The takeover half of ProPerSimApp (mixed into it)."""

    def action_toggle_takeover(self) -> None:
        if self.driver.human is None:
            self.driver.human = self._ask_human
            self.mode = "human takeover"
            self.notify("Human takeover: you rate every delivered recommendation.")
        else:
            self.driver.human = None
            self.mode = "simulated"
        self._render_status()

    def _ask_human(self, record: StepRecord) -> asyncio.Future:
        """The engine waits on this future while the human rates in the dialog(s)."""
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self._open_rating(record.to_json(), future)
        return future

    def _open_rating(self, step: dict, future: asyncio.Future) -> None:
        self.driver.set_paused(True)
        order = [step["delivered"]]
        if self.rate_both:
            order += [i for i in range(len(step["candidates"])) if i != step["delivered"]]
        ratings: dict[int, Rating] = {}

        def ask(position: int) -> None:
            if position == len(order):
                if not future.done():
                    future.set_result(ratings or None)
                self.driver.set_paused(False)
                return

            def done(rating: Rating | None) -> None:
                if rating is not None:
                    ratings[order[position]] = rating
                ask(position + 1)

            self.push_screen(RatingDialog(step, order[position], tuple(self._criteria())), done)

        ask(0)

