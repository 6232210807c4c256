"""Human takeover in the app: the human rates delivered recommendations in a dialog.

The human may rate only some of them: at most one every N simulated minutes, the judge
rating the rest. Switching takeover off closes an open dialog at once (the judge's
rating stands), so no key meant for the app lands in a dialog that was still coming.
"""

import asyncio

from engine.types import Rating, StepRecord
from propersim_tui.dialogs import RatingDialog

# Simulated minutes the human leaves between two ratings; 0: every delivered recommendation.
RATING_GAPS = (0, 15, 30, 60, 120)


def gap_words(minutes: int) -> str:
    return "every recommendation" if minutes == 0 else f"at most one every {minutes} min"


class TakeoverControls:
    """The takeover half of ProPerSimApp (mixed into it)."""

    rating_gap = 0  # one of RATING_GAPS
    _last_rated_minute: int | None = None  # simulated minute (day * 1440 + minute) of the last dialog
    _rating_dialog: RatingDialog | None = None  # the dialog open now, if any

    def action_toggle_takeover(self) -> None:
        if self.driver.human is None:
            self.driver.human = self._ask_human
            self.mode = "human takeover"
            self._last_rated_minute = None
            self.notify(f"Human takeover: you rate {gap_words(self.rating_gap)} (m in the dialog rates fewer).")
        else:
            self.driver.human = None
            self.mode = "simulated"
            self._close_rating()
        self._render_status()

    def cycle_rating_gap(self) -> str:
        """The next choice of how many recommendations the human rates; returns it in words."""
        self.rating_gap = RATING_GAPS[(RATING_GAPS.index(self.rating_gap) + 1) % len(RATING_GAPS)]
        return gap_words(self.rating_gap)

    def _close_rating(self) -> None:
        """Close the open rating dialog (and any dialog above it); the judge's rating stands."""
        dialog = self._rating_dialog
        if dialog is None or dialog not in self.screen_stack:
            return
        dialog.pop_until_active()
        dialog.dismiss(None)

    def _ask_human(self, record: StepRecord) -> asyncio.Future:
        """The engine waits on this future while the human rates in the dialog(s)."""
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        minute = record.day * 1440 + record.observation.minute
        if self._last_rated_minute is not None and minute - self._last_rated_minute < self.rating_gap:
            future.set_result(None)  # too soon after the last one: the judge's rating stands
            return future
        self._last_rated_minute = minute
        self._open_rating(record.to_json(), future)
        return future

    def _open_rating(self, step: dict, future: asyncio.Future) -> None:
        self.driver.set_paused(True)
        order = [step["delivered"]]
        if self.rate_both:
            order += [i for i in range(len(step["candidates"])) if i != step["delivered"]]
        ratings: dict[int, Rating] = {}

        def ask(position: int) -> None:
            if position == len(order) or self.driver is None or self.driver.human is None:
                self._rating_dialog = None
                if not future.done():
                    future.set_result(ratings or None)
                if self.driver is not None:
                    self.driver.set_paused(False)
                return

            def done(rating: Rating | None) -> None:
                if rating is not None:
                    ratings[order[position]] = rating
                ask(position + 1)

            self._rating_dialog = RatingDialog(step, order[position], tuple(self._criteria()),
                                               gap_words(self.rating_gap), self.cycle_rating_gap)
            self.push_screen(self._rating_dialog, done)

        ask(0)
