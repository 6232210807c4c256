"""The report's tables as plain data (title, columns, rows of text): the console, report.md and the TUI
render these same tables, so they cannot disagree."""

from dataclasses import dataclass

from engine.report.summary import interval
from engine.vocab import BIG_FIVE

TOP = 3  # best and worst personas shown per assistant


@dataclass(frozen=True)
class Table:
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


def _i(entry: dict, digits: int = 2) -> str:
    return interval(entry).text(digits)


def _num(x, digits: int = 2) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def assistant_table(report: dict) -> Table:
    columns = ("assistant", "runs", "daily mean", "normalized", "precision", "recall", "missed/day")
    rows = tuple((a, str(t["mean_score"]["n"]), _i(t["mean_score"]), _i(t["normalized"]), _i(t["precision"]),
                  _i(t["recall"]), _i(t["missed_per_day"], 1)) for a, t in report["assistants_table"].items())
    return Table("Per assistant across personas and seeds (mean ±95% interval over runs; a run's figure is the "
                 "mean of its days)", columns, rows)


def rate_table(report: dict) -> Table:
    criteria = report["criteria"]
    rows = []
    for assistant, t in report["assistants_table"].items():
        wanted = f"{_num(t['wanted_min_per_hour']['mean'])}–{_num(t['wanted_max_per_hour']['mean'])}"
        rows.append((assistant, _i(t["recs_per_hour"], 1), wanted, _i(t["in_range"]),
                     *(_i(t[f"pass_{c}"]) for c in criteria)))
    return Table("Recommendations per awake hour against the wanted range, share of days in range, and pass rate "
                 "per criterion", ("assistant", "recs/h", "wanted/h", "days in range", *criteria), tuple(rows))


def learning_table(report: dict) -> Table:
    rows = tuple((a, _i(t["day1"]), _i(t["day8"]), _i(t["week1"]), _i(t["week2"]), _i(t["improvement"]))
                 for a, t in report["assistants_table"].items())
    return Table(f"Learning, week-aligned (daily mean score; improvement = {report['improvement']})",
                 ("assistant", "day 1", "day 8", "week 1", "week 2", "improvement"), rows)


def trait_table(report: dict) -> Table:
    rows = []
    for assistant, traits in report["traits"].items():
        for trait in BIG_FIVE:
            high, low = traits[trait]["high"], traits[trait]["low"]
            gap = None if high["mean"] is None or low["mean"] is None else high["mean"] - low["mean"]
            rows.append((assistant, trait, _i(high), _i(low), _num(gap)))
    return Table(f"Improvement ({report['improvement']}) by Big Five trait, high vs low",
                 ("assistant", "trait", "high", "low", "high − low"), tuple(rows))


def persona_table(report: dict) -> Table:
    rows = []
    for assistant, ranked in report["personas_ranked"].items():
        shown = ranked if len(ranked) <= 2 * TOP else ranked[:TOP] + ranked[-TOP:]
        for place, p in enumerate(shown):
            rank = place + 1 if place < TOP or len(ranked) <= 2 * TOP else len(ranked) - len(shown) + place + 1
            rows.append((assistant, str(rank), p["persona"], _num(p["mean_score"]), _num(p["improvement"]),
                         "conditional" if p["conditional"] else "simple"))
    return Table(f"Best and worst personas (by daily mean; {TOP} each way)",
                 ("assistant", "rank", "persona", "daily mean", "improvement", "preferences"), tuple(rows))


def complexity_table(report: dict) -> Table:
    rows = tuple((a, kind, str(c[kind]["personas"]), _i(c[kind]["mean_score"]), _i(c[kind]["improvement"]))
                 for a, c in report["complexity"].items() for kind in ("conditional", "simple"))
    return Table("Complex (conditional preferences) vs simple personas",
                 ("assistant", "personas", "count", "daily mean", "improvement"), rows)


def cost_table(report: dict) -> Table | None:
    if not report["costs"]:
        return None
    rows = tuple((a, role, *(f"{c[k]:,}" for k in ("calls", "prompt_tokens", "completion_tokens", "cached", "failed")))
                 for a, roles in report["costs"].items() for role, c in roles.items())
    return Table("LLM cost per role (from calls.jsonl; tokens count only calls a model answered)",
                 ("assistant", "role", "calls", "prompt tokens", "completion tokens", "cache hits", "failures"), rows)


def report_tables(report: dict) -> list[Table]:
    tables = [assistant_table(report), rate_table(report), learning_table(report), trait_table(report), persona_table(report),
              complexity_table(report)]
    cost = cost_table(report)
    return tables + ([cost] if cost else [])
