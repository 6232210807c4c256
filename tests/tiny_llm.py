"""A tiny randomly initialised Llama with a tokenizer trained on the spot, for CPU tests of the
training and transformers paths (nothing is downloaded)."""

import random
from pathlib import Path

from training.llm.types import ChatPair

CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
SPECIAL = ["<unk>", "<pad>", "<s>", "<|im_start|>", "<|im_end|>"]
_rng = random.Random(7)
WORDS = ["".join(_rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(_rng.randint(3, 7))) for _ in range(300)]
GOOD, BAD, CONTEXT = WORDS[:40], WORDS[40:80], WORDS[80:]


def build_tiny_model(folder: Path, seed: int = 0) -> Path:
    """Save a 2-layer, hidden-64 Llama and its BPE tokenizer (vocab ~512, ChatML template) to `folder`."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    rng = random.Random(seed)
    lines = [" ".join(rng.choice(WORDS) for _ in range(20)) for _ in range(400)]
    lines += ["user assistant system"] * 10
    core = Tokenizer(models.BPE(unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    core.train_from_iterator(lines, trainers.BpeTrainer(vocab_size=512, special_tokens=SPECIAL,
                                                        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, unk_token="<unk>", pad_token="<pad>",
                                        bos_token="<s>", eos_token="<|im_end|>")
    tokenizer.chat_template = CHAT_TEMPLATE
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                         pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
                         eos_token_id=tokenizer.eos_token_id, tie_word_embeddings=False)
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def synthetic_pairs(n: int, seed: int = 0, words: int = 6) -> list[ChatPair]:
    """Pairs whose chosen reply always uses GOOD words and the rejected one BAD words: learnable."""
    rng = random.Random(seed)
    pairs = []
    for _ in range(n):
        prompt = ({"role": "system", "content": "you recommend"},
                  {"role": "user", "content": " ".join(rng.choice(CONTEXT) for _ in range(8))})
        pairs.append(ChatPair(prompt=prompt, chosen=" ".join(rng.choice(GOOD) for _ in range(words)),
                              rejected=" ".join(rng.choice(BAD) for _ in range(words))))
    return pairs


def completion_logps(model, tokenizer, pairs: list[ChatPair]) -> list[tuple[float, float]]:
    """Summed log-probability of (chosen, rejected) given each prompt, under `model` as it is."""
    import torch

    out = []
    for pair in pairs:
        scores = []
        for reply in (pair.chosen, pair.rejected):
            prompt_ids = tokenizer.apply_chat_template(list(pair.prompt), add_generation_prompt=True, tokenize=True,
                                                       return_dict=True)["input_ids"]
            full = tokenizer.apply_chat_template([*pair.prompt, {"role": "assistant", "content": reply}],
                                                 tokenize=True, return_dict=True)["input_ids"]
            ids = torch.tensor([full])
            with torch.no_grad():
                logits = model(input_ids=ids).logits[0, :-1].float()
            logp = torch.log_softmax(logits, -1).gather(1, ids[0, 1:, None])[:, 0]
            scores.append(float(logp[len(prompt_ids) - 1:].sum()))
        out.append((scores[0], scores[1]))
    return out
