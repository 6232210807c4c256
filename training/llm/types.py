"""Plain data that crosses the parent/child process boundary: it must pickle and import no model library."""

from dataclasses import asdict, dataclass, field

Message = dict[str, str]  # {"role": ..., "content": ...}, as in engine.llm


@dataclass(frozen=True, slots=True)
class ChatPair:
    """One preference pair in chat form.

    `prompt` is the message list exactly as the assistant saw it when it sampled the two
    candidates; `chosen` / `rejected` are the assistant replies' text. `weight` > 1 marks a
    pair that should count more (human labels); DPO here realizes it as repetition. `day` and
    `source` ("simulated" or "human") are what the replay buffer samples by.
    """

    prompt: tuple[Message, ...]
    chosen: str
    rejected: str
    weight: float = 1.0
    day: int = 0
    source: str = "simulated"

    def __post_init__(self) -> None:
        if not self.prompt:
            raise ValueError("a pair needs a non-empty prompt")
        if not self.weight > 0:
            raise ValueError(f"pair weight must be > 0, got {self.weight}")
        object.__setattr__(self, "prompt", tuple(dict(m) for m in self.prompt))


@dataclass(frozen=True, slots=True)
class ProgressEvent:
    """One logged optimizer step of a DPO round."""

    step: int
    max_steps: int
    epoch: float
    loss: float
    reward_accuracy: float | None = None
    reward_margin: float | None = None


@dataclass(frozen=True, slots=True)
class RoundResult:
    """What one DPO round did. Losses and margins are per logged optimizer step (logging every step);
    `reward_accuracy` is the last logged value. `peak_memory_bytes` is the CUDA allocator's peak when
    training on a GPU, else the process's peak resident set size."""

    loss_first: float
    loss_last: float
    reward_accuracy: float | None
    margins: tuple[float, ...]
    steps: int
    seconds: float
    peak_memory_bytes: int
    losses: tuple[float, ...] = field(default=())
    pairs: int = 0  # training rows after weight repetition
    quantized_4bit: bool = False  # the base really was loaded in 4 bits

    def to_json(self) -> dict:
        return asdict(self)
