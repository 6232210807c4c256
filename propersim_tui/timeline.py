"""The timeline: one line per awake step (and one per stretch away from home), drawn on demand.

A DataTable keeps its own copy of every row and re-renders its visible cells whenever anything
in it changes, so each batch of new rows cost a full repaint of the table. A timeline only ever
appends rows that never change: here the rows are the step records themselves (a plain list),
a row is rendered the first time it is painted and kept, and a repaint costs the visible rows
only (Textual's Line API: `render_line`, a `virtual_size` of one line per row).
"""

from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from propersim_tui.view import is_away, is_recommendation, timeline_cells

MAX_ROWS = 1000  # rows kept in the widget; everything stays in memory and on disk
TRIM_SLACK = MAX_ROWS // 4  # the oldest rows go in bulk once this many more have come: O(1) a row
KEPT_STRIPS = 4000  # rendered rows kept (a screenful is a few dozen)
CELL_PADDING = 1  # blank columns either side of each cell, as in a DataTable


class Timeline(ScrollView, can_focus=True):
    """The newest MAX_ROWS to MAX_ROWS + TRIM_SLACK rows, optionally only the recommendations,
    with a row cursor whose step the detail pane shows. Looks and moves like the DataTable it
    replaces: a fixed header, zebra stripes, Enter or a click on the cursor row selects it."""

    COLUMNS = (("day", 3), ("time", 5), ("activity", 0), ("delivered", 0), ("score", 5), ("criteria", 12), ("", 2))
    FLEXIBLE = {"activity": 2, "delivered": 3}  # shares of the free width (the others are fixed)

    COMPONENT_CLASSES = {"timeline--header", "timeline--even-row", "timeline--odd-row", "timeline--cursor",
                         "timeline--hover"}
    # DataTable's own look, for the parts a timeline uses
    DEFAULT_CSS = """
    Timeline {
        background: $surface;
        color: $foreground;
        &:focus {
            background-tint: $foreground 5%;
            & > .timeline--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
            & > .timeline--header { background-tint: $foreground 5%; }
        }
        &:dark > .timeline--even-row { background: $surface-darken-1 40%; }
        & > .timeline--header { text-style: bold; background: $panel; color: $foreground; }
        &:ansi > .timeline--header { background: ansi_bright_blue; color: ansi_default; }
        & > .timeline--even-row { background: $surface-lighten-1 50%; }
        & > .timeline--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        & > .timeline--hover { background: $block-hover-background; }
    }
    """

    BINDINGS = [
        Binding("enter", "select_cursor", "Select", show=False),
        Binding("up", "cursor_up", "Cursor up", show=False),
        Binding("down", "cursor_down", "Cursor down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home", "scroll_x_home", "Home", show=False),
        Binding("end", "scroll_x_end", "End", show=False),
        Binding("ctrl+home", "cursor_first", "Top", show=False),
        Binding("ctrl+end", "cursor_last", "Bottom", show=False),
    ]

    class Highlighted(Message):
        """The step under the cursor changed (None: no rows)."""

        def __init__(self, timeline: "Timeline", step: dict | None):
            super().__init__()
            self.timeline, self.step = timeline, step

        @property
        def control(self) -> "Timeline":
            return self.timeline

    class Selected(Message):
        """Enter, or a click, on the cursor row."""

        def __init__(self, timeline: "Timeline", step: dict):
            super().__init__()
            self.timeline, self.step = timeline, step

        @property
        def control(self) -> "Timeline":
            return self.timeline

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.steps: list[dict] = []  # the rows' records, oldest first
        self.only_recommendations = False
        self.cursor_row = 0
        self._hover_row = -1  # under the mouse; -1: none (keys hide it, as in a DataTable)
        self._dropped = 0  # rows trimmed since the last reset: a row's number (its stripe, its cache key) stays
        self._widths = [width or 10 for _, width in self.COLUMNS]  # content widths; see _fit_columns
        self._strips: dict[tuple, Strip] = {}
        self._pseudo_classes = None

    # --- rows ----------------------------------------------------------------------------
    @property
    def row_count(self) -> int:
        return len(self.steps)

    def row_cells(self, row: int) -> tuple:
        return timeline_cells(self.steps[row])

    def visible(self, step: dict) -> bool:
        if is_away(step):
            return not self.only_recommendations
        return not self.only_recommendations or is_recommendation(step)

    def append_steps(self, steps: list[dict], follow: bool = True) -> None:
        """Nothing is rendered here: a row costs a list append until it is painted."""
        before = self.selected_step()
        self._append(steps, follow)
        self._announce(before)

    def reset(self, steps: list[dict], follow: bool = True) -> None:
        before = self.selected_step()
        self.steps, self._dropped, self.cursor_row, self._hover_row = [], 0, 0, -1
        self._strips.clear()
        self.scroll_to(y=0, animate=False, force=True)
        self._append(steps, follow)
        self._update_virtual_size()
        self.refresh()
        self._announce(before)

    def _append(self, steps: list[dict], follow: bool) -> None:
        shown = [s for s in steps if self.visible(s)]
        if not shown:
            return
        self.steps.extend(shown)
        excess = len(self.steps) - MAX_ROWS
        if excess > TRIM_SLACK:
            del self.steps[:excess]
            self._dropped += excess
            self.cursor_row = max(0, self.cursor_row - excess)  # on the same step as before
            self._hover_row = -1
            if not follow:
                self.scroll_to(y=self.scroll_y - excess, animate=False, force=True)  # the same rows in view
        self._update_virtual_size()
        if follow:
            self.cursor_row = len(self.steps) - 1
            self._scroll_to_cursor()
        self.refresh()

    def selected_step(self) -> dict | None:
        return self.steps[self.cursor_row] if 0 <= self.cursor_row < len(self.steps) else None

    # --- the cursor ----------------------------------------------------------------------
    def move_cursor(self, row: int, scroll: bool = True) -> None:
        before = self.selected_step()
        old, self.cursor_row = self.cursor_row, max(0, min(row, len(self.steps) - 1))
        if old != self.cursor_row:
            self._refresh_row(old)
            self._refresh_row(self.cursor_row)
        if scroll:
            self._scroll_to_cursor()
        self._announce(before)

    def _announce(self, before: dict | None) -> None:
        if self.selected_step() is not before:
            self.post_message(self.Highlighted(self, self.selected_step()))

    def _page_rows(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)  # less the header

    def _scroll_to_cursor(self) -> None:
        self._cursor_into_view()
        self.call_after_refresh(self._cursor_into_view)  # again once new scrollbars have taken their room

    def _cursor_into_view(self) -> None:
        rows, y = self._page_rows(), self.scroll_y
        if self.cursor_row < y:
            self.scroll_to(y=self.cursor_row, animate=False, force=True)
        elif self.cursor_row >= y + rows:
            self.scroll_to(y=self.cursor_row - rows + 1, animate=False, force=True)

    def _refresh_row(self, row: int) -> None:
        if 0 <= row < len(self.steps):
            self.refresh_line(row + 1)  # virtual line 0 is the header

    def _hide_hover(self) -> None:
        old, self._hover_row = self._hover_row, -1
        self._refresh_row(old)

    def action_cursor_up(self) -> None:
        self._hide_hover()
        self.move_cursor(self.cursor_row - 1)

    def action_cursor_down(self) -> None:
        self._hide_hover()
        self.move_cursor(self.cursor_row + 1)

    def action_page_up(self) -> None:
        self._hide_hover()
        self.scroll_to(y=self.scroll_y - self._page_rows(), animate=False, force=True)
        self.move_cursor(self.cursor_row - self._page_rows())

    def action_page_down(self) -> None:
        self._hide_hover()
        self.scroll_to(y=self.scroll_y + self._page_rows(), animate=False, force=True)
        self.move_cursor(self.cursor_row + self._page_rows())

    def action_cursor_first(self) -> None:
        self._hide_hover()
        self.move_cursor(0)

    def action_cursor_last(self) -> None:
        self._hide_hover()
        self.move_cursor(len(self.steps) - 1)

    def action_scroll_x_home(self) -> None:
        self.scroll_to(x=0, animate=False, force=True)

    def action_scroll_x_end(self) -> None:
        self.scroll_to(x=self.max_scroll_x, animate=False, force=True)

    def action_select_cursor(self) -> None:
        if self.steps:
            self.post_message(self.Selected(self, self.selected_step()))

    def _row_at(self, event: events.MouseEvent) -> int:
        """The row under the mouse (each rendered row carries its number), or -1."""
        number = event.style.meta.get("timeline_row")
        return -1 if number is None else number - self._dropped

    def on_mouse_move(self, event: events.MouseMove) -> None:
        row = self._row_at(event)
        if row != self._hover_row:
            self._hide_hover()
            self._hover_row = row
            self._refresh_row(row)

    def on_leave(self, event: events.Leave) -> None:
        self._hide_hover()

    def on_click(self, event: events.Click) -> None:
        row = self._row_at(event)
        if 0 <= row < len(self.steps):
            if row == self.cursor_row:
                self.action_select_cursor()
            self.move_cursor(row)
            event.stop()

    # --- layout --------------------------------------------------------------------------
    def on_resize(self) -> None:
        self._fit_columns()

    def _fit_columns(self) -> None:
        """Share the free width between activity (2/5) and the recommendation (3/5)."""
        fixed = sum(w for _, w in self.COLUMNS) + 2 * CELL_PADDING * len(self.COLUMNS) + 2  # + the scrollbar
        free = max(30, self.size.width - fixed)
        activity = free * self.FLEXIBLE["activity"] // sum(self.FLEXIBLE.values())
        flexible = {"activity": activity, "delivered": free - activity}
        self._widths = [flexible.get(label, width) for label, width in self.COLUMNS]
        self._update_virtual_size()
        self.refresh()

    def _table_width(self) -> int:
        return sum(self._widths) + 2 * CELL_PADDING * len(self._widths)

    def _update_virtual_size(self) -> None:
        size = Size(self._table_width(), len(self.steps) + 1)
        if size != self.virtual_size:
            self.virtual_size = size

    # --- painting ------------------------------------------------------------------------
    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()  # a new theme or class: the kept rows have the old styles

    def render_lines(self, crop):
        self._pseudo_classes = self.get_pseudo_class_state()  # focus changes the look: part of the cache key
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        x = int(self.scroll_x)
        if y == 0:
            strip = self._kept(("header",), self._render_header)
        else:
            row = y - 1 + int(self.scroll_y)
            if row >= len(self.steps):
                return Strip.blank(width, self.rich_style)
            cursor, hover = row == self.cursor_row, row == self._hover_row
            number = self._dropped + row
            strip = self._kept((number, cursor, hover), lambda: self._render_row(row, number, cursor, hover))
        return strip.crop(x, x + width).adjust_cell_length(width, self.rich_style)

    def _kept(self, key: tuple, render) -> Strip:
        key = (*key, tuple(self._widths), self.size.width, self._pseudo_classes)
        strip = self._strips.get(key)
        if strip is None:
            if len(self._strips) >= KEPT_STRIPS:
                self._strips.clear()
            strip = self._strips[key] = render()
        return strip

    def _render_header(self) -> Strip:
        style = self.get_component_rich_style("timeline--header")
        return self._render_cells([Text(label) for label, _ in self.COLUMNS], style, Style())

    def _render_row(self, row: int, number: int, cursor: bool, hover: bool) -> Strip:
        """As a DataTable draws a row: the stripe under each cell, the cursor's colours over it."""
        get = self.get_component_rich_style
        stripe = get("timeline--odd-row" if number % 2 else "timeline--even-row")
        over = Style()
        if hover:
            over += get("timeline--hover")
        if cursor:
            over += get("timeline--cursor")
        on_top = Style.from_color(over.color, over.bgcolor)
        meta = Style.from_meta({"timeline_row": number})
        return self._render_cells(self.row_cells(row), stripe + over + meta, on_top)

    def _render_cells(self, cells, style: Style, on_top: Style) -> Strip:
        """One line of cells cut or padded to the column widths, on `style`, `on_top` over all of it,
        out to the widget's edge. One Text for the line: a fraction of the cost of rendering each
        cell through the console, as a DataTable does, for the same segments' look."""
        line = Text(end="", no_wrap=True)
        pad = " " * CELL_PADDING
        for cell, width in zip(cells, self._widths):
            piece = cell.copy() if isinstance(cell, Text) else Text(cell)
            piece.truncate(width, pad=True)
            line.append(pad)
            line.append_text(piece)
            line.append(pad)
        line.append(" " * max(0, self.size.width - self._table_width()))
        line.stylize_before(style)  # a span, not Text.style: render() leaves that to a console's caller
        if on_top:
            line.stylize(on_top)
        return Strip(line.render(self.app.console)).simplify()
