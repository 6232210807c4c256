"""`propersim --batch --dry-run`: what a batch would spend on language models, before anything is spent.

Every run is planned and checked as for real; then its first day is simulated in memory with each LLM
role on the dry backend (engine/llm/dry.py: real prompts, stand-in answers, no model) and the calls and
prompt tokens per role are scaled to the run's days. Nothing is written. The stand-in assistant offers a
recommendation at every step, which asks the judge at every step; memory growing over the days and a real
model's re-asks (longer plans, invalid answers) are not in the estimate.
"""

import asyncio
import dataclasses

from rich.console import Console
from rich.table import Table

from engine.compose import RunPlan, build_simulation, plan_run
from engine.config import RunConfig
from engine.llm.config import BackendConfig


def _label(backend: BackendConfig) -> str:
    return f"{backend.kind} {backend.model or (backend.gguf_path.name if backend.gguf_path else 'smollm2')}"


def _dry(config: RunConfig) -> RunConfig:
    """The same run on one day, its backends swapped for dry ones that keep the real model's name."""
    backends = {role: BackendConfig(kind="dry", model=_label(b)) for role, b in config.backends.items()}
    return config.model_copy(update={"backends": backends, "days": 1})


async def _first_day(plan: RunPlan) -> dict[str, tuple[str, int, int]]:
    """role -> (model, calls, prompt tokens) of the run's first day."""
    sim = build_simulation(dataclasses.replace(plan, config=_dry(plan.config)), None)
    sim.start_at(0)
    await sim.run_and_close()
    return {role: (sim.backends.config_for(role).model, totals.calls, totals.prompt_tokens)
            for role, totals in sim.backends.ledger.totals().items()}


def dry_run(configs: list[RunConfig], console: Console) -> int:
    plans = [plan_run(config) for config in configs]  # every check of a real batch
    table = Table(title="Estimated LLM calls and prompt tokens\n(one simulated day with stand-in answers, times --days)",
                  header_style="bold")
    for column in ("persona", "role", "calls/day", "tokens/day", "calls", "tokens"):
        table.add_column(column, justify="left" if column in ("persona", "role") else "right", no_wrap=True)
    calls = tokens = 0
    models: dict[str, str] = {}
    for plan in plans:
        per_role = asyncio.run(_first_day(plan))
        days = plan.config.days
        for role, (model, role_calls, role_tokens) in per_role.items():
            models[role] = model
            table.add_row(plan.persona.id, role, f"{role_calls:,}", f"{role_tokens:,}",
                          f"{role_calls * days:,}", f"{role_tokens * days:,}")
            calls += role_calls * days
            tokens += role_tokens * days
    if not calls:
        console.print("No role of these runs uses a language model: a batch of them spends nothing on one.")
        return 0
    console.print(table)
    console.print("Models: " + "; ".join(f"{role} on {model}" for role, model in models.items()))
    console.print(f"In all: about {calls:,} calls and {tokens:,} prompt tokens. The stand-in assistant offers "
                  "a recommendation at every step, so the judge is counted at every step (an assistant that stays "
                  "quiet more is judged less); memory growing over the days and a real model's re-asks are not "
                  "counted. Nothing was written.")
    return 0
