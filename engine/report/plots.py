"""The report's PNG plots with matplotlib (the [report] extra): learning curves per assistant with their
95% band, recommendations per hour against the wanted range, and the trait comparison."""

import importlib.util
from pathlib import Path

from engine.vocab import BIG_FIVE

PLOTS = ("learning.png", "recs_per_hour.png", "traits.png")


def plots_missing() -> str | None:
    """The install hint when matplotlib is not installed, else None."""
    if importlib.util.find_spec("matplotlib") is None:
        return "PNG plots need the [report] extra: pip install -e '.[report]'"
    return None


def _band(ax, curve: list[dict], label: str) -> None:
    from matplotlib.ticker import MaxNLocator

    days = [d + 1 for d in range(len(curve))]
    ax.plot(days, [c["mean"] for c in curve], marker="o", label=label)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    low = [c["low"] if c["low"] is not None else c["mean"] for c in curve]
    high = [c["high"] if c["high"] is not None else c["mean"] for c in curve]
    if all(v is not None for v in low + high):
        ax.fill_between(days, low, high, alpha=0.2)


def write_plots(report: dict, folder: Path) -> list[str]:
    """Write the PNGs into `folder`; their file names."""
    import matplotlib
    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    folder = Path(folder)
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for assistant, curves in report["curves"].items():
        _band(ax, curves["mean_score"], assistant)
    ax.set(title="Daily mean score (95% band over runs)", xlabel="day", ylabel="mean score (0–4)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(folder / PLOTS[0], dpi=100)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(8, 4.5))
    for assistant, curves in report["curves"].items():
        _band(ax, curves["recs_per_hour"], assistant)
    table = report["assistants_table"]
    low = [t["wanted_min_per_hour"]["mean"] for t in table.values() if t["wanted_min_per_hour"]["mean"] is not None]
    high = [t["wanted_max_per_hour"]["mean"] for t in table.values() if t["wanted_max_per_hour"]["mean"] is not None]
    if low and high:
        ax.axhspan(min(low), max(high), color="green", alpha=0.1, label="wanted range")
    ax.set(title="Recommendations per hour", xlabel="day", ylabel="recommendations / awake hour")
    ax.legend()
    fig.tight_layout()
    fig.savefig(folder / PLOTS[1], dpi=100)
    plt.close(fig)

    assistants = list(report["traits"])
    fig, axes = plt.subplots(1, len(assistants), figsize=(4 * len(assistants), 4), squeeze=False, sharey=True)
    for ax, assistant in zip(axes[0], assistants):
        for offset, level in ((-0.2, "high"), (0.2, "low")):
            entries = [report["traits"][assistant][t][level] for t in BIG_FIVE]
            means = [e["mean"] or 0.0 for e in entries]
            errors = [(e["high"] - e["mean"]) if e["high"] is not None and e["mean"] is not None else 0.0
                      for e in entries]
            ax.bar([i + offset for i in range(len(BIG_FIVE))], means, width=0.4, yerr=errors, label=level, capsize=3)
        ax.set_xticks(range(len(BIG_FIVE)), [t[:5] for t in BIG_FIVE])
        ax.set_title(assistant)
        ax.axhline(0, color="black", linewidth=0.5)
    axes[0][0].set_ylabel(f"improvement ({report['improvement']})")
    axes[0][0].legend()
    fig.tight_layout()
    fig.savefig(folder / PLOTS[2], dpi=100)
    plt.close(fig)
    return list(PLOTS)
