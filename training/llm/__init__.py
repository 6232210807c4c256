"""Real DPO training of the LLM assistant (trl + peft + bitsandbytes, the `[train]` extra).

Importing this package imports no model library: `run_dpo_round` (dpo_round.py) imports torch,
transformers, trl and peft when called, and `train_in_child` runs it in a spawned child process.
"""

from training.llm.isolated import TrainingFailed, train_in_child
from training.llm.model_source import ModelSource, smollm2_gguf
from training.llm.settings import LLMTrainingConfig
from training.llm.types import ChatPair, ProgressEvent, RoundResult

__all__ = ["ChatPair", "LLMTrainingConfig", "ModelSource", "ProgressEvent", "RoundResult", "TrainingFailed",
           "smollm2_gguf", "train_in_child"]
