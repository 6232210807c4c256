"""The composition root: the one place where a run is validated, its folder created and its roles built.

Order matters and is the point: (1) validate everything (config, persona, each role's
options, installed extras, combinations), (2) only then create the run folder, locked,
(3) build the roles from their registries and hand them to the loop. A bad option
leaves nothing behind, so the corrected rerun works.
"""

import importlib.metadata
import os
import platform
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel

from engine.assistants import ASSISTANTS, BACKEND_FLAG, ORACLE_FLAG
from engine.catalog import Catalog, load_catalog
from engine.clock import SimClock
from engine.config import RunConfig, parse_run_config
from engine.errors import RunError
from engine.judges import JUDGES, Judge
from engine.judges.takeover import TakeoverJudge
from engine.llm import Backend
from engine.llm.config import BackendConfig, build_backend
from engine.llm.ledger import CallLedger
from engine.names import check_name
from engine.persona import Persona, load_persona
from engine.persona_library import resolve_persona
from engine.registry import Entry, missing_extra
from engine.seeding import stable_hash
from engine.simulation import Simulation
from engine.store import RunStore
from engine.tomlfile import read_toml
from engine.users import USERS
from engine.users.takeover import TakeoverUser


@dataclass(frozen=True)
class RunPlan:
    """A run that passed every check: what to build, and where to record it (None: nowhere)."""

    config: RunConfig  # resolved: the persona by id, options typed
    persona: Persona
    persona_text: str
    run_dir: Path | None
    user_options: BaseModel
    judge_options: BaseModel
    assistant_options: BaseModel

    @property
    def name(self) -> str:
        return run_name(self.config)


class BackendPool:
    """The run's LLM backends: one per role that asks (metered under that role's name, and for
    llama-cpp its own model instance, so each role's prompt prefix stays warm); roles and runs that
    share a backend config share its in-flight limit, process-wide (see build_backend); one CallLedger
    per run (calls.jsonl in the run folder, made by the first call); all closed by aclose()."""

    def __init__(self, configs: dict[str, BackendConfig], run_dir: Path | None = None):
        self.configs = dict(configs)
        self.ledger = CallLedger(run_dir)
        self._built: dict[str, Backend] = {}

    def config_for(self, role: str) -> BackendConfig | None:
        return self.configs.get(role) or self.configs.get("default")

    def get(self, role: str) -> Backend:
        config = self.config_for(role)
        if config is None:
            raise RunError(f"{role} needs a backend: set [backends.{role}] or [backends.default] in the run config")
        if role not in self._built:
            self._built[role] = build_backend(config, role, ledger=self.ledger,
                                              cache_dir=llm_cache_dir() if config.cache else None)
        return self._built[role]

    def describe(self) -> dict[str, str]:
        """role -> "backend · model", for the roles that have one."""
        return {role: f"{b.name} · {b.model}" for role, b in self._built.items()}

    async def aclose(self) -> None:
        built, self._built = list(self._built.values()), {}
        for backend in built:
            await backend.aclose()


def llm_cache_dir() -> Path:
    """The response cache shared by runs (content-addressed, safe across processes):
    $PROPERSIM_LLM_CACHE, default ~/.cache/propersim/llm."""
    return Path(os.environ.get("PROPERSIM_LLM_CACHE", "~/.cache/propersim/llm")).expanduser()


@dataclass(frozen=True)
class RoleContext:
    """What a role's factory may use. Only the oracle's factory gets `judge` (the hidden rubric) and `user`."""

    name: str
    config: RunConfig
    persona: Persona | None  # None for assistants: they never see the persona
    clock: SimClock
    catalog: Catalog
    assistant_seed: int
    judge: object | None = None
    backends: BackendPool | None = None
    run_dir: Path | None = None  # the run folder, for a role's own files (training logs); None: not recorded
    user: object | None = None  # the oracle only: it knows the user's plan for the day

    def backend(self, role: str) -> Backend:
        """The LLM backend of `role` ("user", "judge" or "assistant"), built once per run."""
        if self.backends is None:
            raise RunError(f"{role} needs a backend: set [backends.{role}] or [backends.default] in the run config")
        return self.backends.get(role)


def run_name(config: RunConfig) -> str:
    return f"{config.persona}__{config.assistant}__s{config.seed}"


def package_versions() -> dict:
    versions = {"python": platform.python_version()}
    for name in ("propersim", "numpy", "usearch", "textual", "torch", "trl", "peft", "transformers", "llama_cpp_python"):
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    return versions


def build_config(cli: dict, file: Path | None = None) -> RunConfig:
    """The run config from a TOML file (optional) with the command line over it (None = not given)."""
    raw: dict = {}
    where = "command line"
    if file is not None:
        raw = read_config_file(file)
        where = f"{file} + command line"
    for key, value in cli.items():
        if value is None:
            continue
        if isinstance(value, dict) and isinstance(raw.get(key), dict):
            raw[key] = raw[key] | value
        else:
            raw[key] = value
    return parse_run_config(raw, where)


def read_config_file(file: Path) -> dict:
    """A run config file's raw tables, not yet validated (a run.toml's versions dropped)."""
    raw = read_toml(file)
    raw.pop("versions", None)
    return raw


def plan_run(config: RunConfig, run_dir: Path | None = None, out: Path | None = None,
             persona_file: Path | None = None) -> RunPlan:
    """Check everything about a run before anything is written.

    `run_dir` names the folder exactly; `out` puts it at out/<run name>. A persona given by
    path runs under its id; `persona_file` is a recorded run's own copy.
    """
    if persona_file is not None:
        persona, persona_path = load_persona(persona_file, check_name=False), Path(persona_file)
    else:
        persona, persona_path = _persona(config.persona)
    config = config.model_copy(update={"persona": persona.id})
    check_name("assistant", config.assistant)
    assistant = ASSISTANTS.get(config.assistant)
    user, judge = USERS.get(config.user.kind), JUDGES.get(config.judge.kind)
    user_options = _check_role(config, "user", user, config.user.options, "user options")
    judge_options = _check_role(config, "judge", judge, config.judge.options, "judge options")
    assistant_options = _check_role(config, "assistant", assistant, config.assistant_options,
                                    f"--option for {assistant.name}")
    for entry, options in ((user, user_options), (judge, judge_options), (assistant, assistant_options)):
        entry.check_plan(config, options)
    if ORACLE_FLAG in assistant.flags and judge.name != "rubric":
        raise RunError(f"the {assistant.name} reads the rubric judge's hidden preferences: it needs judge 'rubric', "
                       f"not {judge.name!r}")
    config = config.model_copy(update={"assistant_options": assistant_options.model_dump(exclude_unset=True)})
    if out is not None:
        run_dir = Path(out) / check_name("run", run_name(config))
    return RunPlan(config, persona, persona_path.read_text("utf-8"), run_dir, user_options, judge_options,
                   assistant_options)


def _check_role(config: RunConfig, role: str, entry: Entry, raw_options: dict, where: str) -> BaseModel:
    """One role's typed options, once its extra is known to be installed and its backend configured."""
    options = entry.parse_options(raw_options, where)
    hint = missing_extra(entry.extra)
    if hint:
        raise RunError(f"{entry.name} {hint}")
    if BACKEND_FLAG in entry.flags and not (config.backends.get(role) or config.backends.get("default")):
        raise RunError(f"{role} {entry.name!r} needs a backend: set [backends.{role}] or [backends.default] "
                       f"in the run config")
    return options


def plan_judge(config: RunConfig) -> BaseModel:
    """plan_run's checks of the judge alone (a judge built without a run, e.g. to re-judge a
    recording): its typed options."""
    judge = JUDGES.get(config.judge.kind)
    options = _check_role(config, "judge", judge, config.judge.options, "judge options")
    judge.check_plan(config, options)
    return options


def _persona(ref: str) -> tuple[Persona, Path]:
    if not ref.endswith(".toml"):
        check_name("persona id", ref)
    persona, path = resolve_persona(ref)
    check_name("persona id", persona.id)
    return persona, path


def open_run(plan: RunPlan, takeover: bool = False, lock: bool = True) -> Simulation:
    """Create the plan's run folder (if any), build the roles, and return the loop at day 0."""
    store = None
    if plan.run_dir is not None:
        store = RunStore.create(plan.run_dir, plan.config, plan.persona_text, package_versions(), lock=lock)
    try:
        sim = build_simulation(plan, store, takeover)
    except BaseException:
        if store is not None:
            store.close()
        raise
    sim.start_at(0)
    return sim


def new_run(config: RunConfig, run_dir: Path | None = None, takeover: bool = False) -> Simulation:
    """Validate, then open: a fresh run recorded in `run_dir` (None: nothing is written)."""
    return open_run(plan_run(config, run_dir), takeover)


def resume_run(run_dir: Path, takeover: bool = False, lock: bool = True) -> Simulation:
    """Continue a recorded run from its last complete day (locking its folder)."""
    run_dir = Path(run_dir)
    config = RunStore.read_config(run_dir)
    persona_path = run_dir / "persona.toml"
    if not persona_path.exists():
        raise RunError(f"{run_dir} has no persona.toml")
    plan = plan_run(config, run_dir, persona_file=persona_path)
    store, done = RunStore.reopen(run_dir, lock=lock)
    try:
        sim = build_simulation(plan, store, takeover)
        done = store.restore(done, sim.assistant.load)  # an unusable checkpoint: back to the day before it
    except BaseException:
        store.close()
        raise
    sim.start_at(done)
    return sim


def build_simulation(plan: RunPlan, store: RunStore | None, takeover: bool = False) -> Simulation:
    config = plan.config
    clock = SimClock(config.start_date, config.days, config.step_seconds)
    catalog = load_catalog()
    assistant_seed = _assistant_seed(config, plan.persona)
    run_dir = store.folder if store is not None else None
    backends = BackendPool(config.backends, run_dir)
    ctx = RoleContext("", config, plan.persona, clock, catalog, assistant_seed, backends=backends, run_dir=run_dir)
    user = USERS.get(config.user.kind).factory()(_named(ctx, config.user.kind), plan.user_options)
    judge = JUDGES.get(config.judge.kind).factory()(_named(ctx, config.judge.kind), plan.judge_options)
    entry = ASSISTANTS.get(config.assistant)
    oracle = ORACLE_FLAG in entry.flags
    assistant_ctx = RoleContext(entry.name, config, None, clock, catalog, assistant_seed,
                                judge if oracle else None, backends, run_dir, user if oracle else None)
    assistant = entry.factory()(assistant_ctx, plan.assistant_options)
    if takeover:
        user, judge = TakeoverUser(user), TakeoverJudge(judge, config.deliver)
    return Simulation(config, plan.persona, user, judge, assistant, clock, store, backends)


def build_judge(config: RunConfig, persona: Persona, options: BaseModel,
                backends: BackendPool | None = None) -> Judge:
    """The config's judge alone, built as build_simulation builds it (e.g. to re-judge a recording)."""
    clock = SimClock(config.start_date, config.days, config.step_seconds)
    ctx = RoleContext(config.judge.kind, config, persona, clock, load_catalog(), _assistant_seed(config, persona),
                      backends=backends)
    return JUDGES.get(config.judge.kind).factory()(ctx, options)


def _assistant_seed(config: RunConfig, persona: Persona) -> int:
    return config.seed * 1_000_003 + stable_hash(persona.id)


def _named(ctx: RoleContext, name: str) -> RoleContext:
    return RoleContext(name, ctx.config, ctx.persona, ctx.clock, ctx.catalog, ctx.assistant_seed,
                       backends=ctx.backends, run_dir=ctx.run_dir)
