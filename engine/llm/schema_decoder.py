"""Schema-guided JSON decoding in the llama-cpp worker (json_decoding "schema"): for the kind of schema
the roles' pydantic models produce, the JSON's fixed parts (braces, keys, separators) are written here
and the model is asked only for the values, among the tokens that keep the answer valid. Those fixed
tokens cost no decoding step of their own: they are evaluated in the same batch as the next value
token, and never after the last one. The n completions of a request (and the independent members of
a judge's verdicts) are decoded in lockstep, one llama_decode per round for all of them
(engine.llm.lockstep), and a string's next tokens are guessed from the text before (drafts, see
DRAFT_NGRAM) and checked in the same decode. It decodes only inside the worker process (llama_cpp is
imported there, on first use)."""

from engine.llm.lockstep import MAX_SEQUENCES, Lockstep
from engine.llm.schema_run import SchemaRun, Truncated
from engine.llm.schema_tree import SEP, independent_members

# The sampling settings of llama-cpp-python's create_chat_completion, in its order (the grammar
# mask first, then top-k, top-p, min-p, temperature); repeat_penalty 1.0 does nothing there.
TOP_K, TOP_P, MIN_P = 40, 0.95, 0.05
# Drafts (prompt lookup): a string's next tokens guessed as what followed the last DRAFT_NGRAM tokens
# where they occurred before, in the prompt or the answer so far, at most DRAFT_MAX of them. SmolLM2's
# judge reasons are nearly always words of its prompt (the option's own text), the assistant's texts
# often repeat earlier ones: the guesses are checked in the decode that samples the token before them,
# so every right guess is a decode saved, and a wrong one costs only its evaluation in that batch.
DRAFT_NGRAM, DRAFT_MAX = 2, 8


def _match_tail(tail: str, follow: str) -> int | None:
    """How much of `follow` (the fixed text after a string) `tail` covers, spaces in `follow`
    being optional; None if it does not fit."""
    i = 0
    for ch in tail:
        while i < len(follow) and follow[i] == " " and ch != " ":
            i += 1
        if i >= len(follow) or follow[i] != ch:
            return None
        i += 1
    return i


class SchemaDecoder:
    """JSON answers of a compiled schema, from one Llama: canonical JSON whose fixed parts are
    written here and whose values the model samples, token by token, among the tokens that keep
    the answer valid. A string value is any text without quotes, backslashes or control
    characters, ended by a token that closes the quote (alone, or with the separator that
    follows it, such as `",`); an enum is one of its values as the tokenizer writes it; a
    boolean is `true` or `false`; a choice is one decoding step among its constants (`true` or
    `false` for the assistant's "recommend"), then the chosen object's other values, so
    `{"recommend":false}` costs that one step. max_tokens is a budget for the whole answer: a
    string (or an array) ends early when what the rest of the answer needs at least would not fit
    otherwise, and a choice leaves out the objects whose shortest form would not fit, so the answer
    stays whole; only one whose shortest form does not fit ends as "length". The prompt's KV prefix
    is reused like llama-cpp-python does, and the n completions of one request share the prompt's
    evaluation. Drafts change which decode evaluates a token, not how it is sampled: each token is
    still drawn from the logits after the tokens before it, with the same random draws in order (the
    logits differ only by the rounding of the batch they are computed in)."""

    def __init__(self, llama, lockstep: bool = True, draft: int = DRAFT_NGRAM):
        """lockstep False (measurement only): one sequence at a time, and no independent members.
        draft: the tokens a draft's match needs (DRAFT_NGRAM); 0 (measurement only): no drafts."""
        import numpy as np
        from llama_cpp import llama_chat_format

        self.np, self.llama = np, llama
        self.group = MAX_SEQUENCES if lockstep else 1  # sequences decoded together
        self.draft_ngram, self.draft_max = draft, DRAFT_MAX if draft else 0
        self.decodes = 0  # llama_decode calls of the last request
        eos, bos = llama.token_eos(), llama.token_bos()
        self.formatter = llama_chat_format.Jinja2ChatFormatter(
            template=llama.metadata["tokenizer.chat_template"],
            eos_token=llama._model.token_get_text(eos) if eos != -1 else "",
            bos_token=llama._model.token_get_text(bos) if bos != -1 else "", stop_token_ids=[eos])
        n_vocab = llama.n_vocab()
        self.pieces: list[str] = [""] * n_vocab
        body_len = np.full(n_vocab, -1, dtype=np.int32)
        closers = []  # (token, body length, tail)
        for token in range(n_vocab):
            try:
                text = llama._model.detokenize([token], special=False).decode("utf-8")
            except UnicodeDecodeError:
                continue  # part of a multi-byte character: left out of strings
            self.pieces[token] = text
            body, quote, tail = text.partition('"')
            if not text or not self._plain(body):
                continue
            if quote:
                closers.append((token, len(body), tail))
            else:
                body_len[token] = len(body)
        self.body_ids = np.nonzero(body_len > 0)[0]
        self.body_len = body_len[self.body_ids]
        self.is_body = body_len > 0
        self.char_len = np.maximum(body_len, 0)
        self.closers = closers
        self._closers: dict[str, tuple] = {}
        self._tries: dict[tuple, dict] = {}
        self._tokens: dict[str, list[int]] = {}

    @staticmethod
    def _plain(text: str) -> bool:
        return not any(ch == "\\" or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in text)

    def tokenize(self, text: str) -> list[int]:
        tokens = self._tokens.get(text)
        if tokens is None:
            tokens = self._tokens[text] = self.llama.tokenize(text.encode("utf-8"), add_bos=False, special=False)
        return tokens

    def closers_for(self, follow: str) -> tuple:
        """(tokens, body lengths, chars of `follow` covered) of the tokens that can end a string
        followed by `follow`."""
        found = self._closers.get(follow)
        if found is None:
            rows = [(t, n, c) for t, n, tail in self.closers if (c := _match_tail(tail, follow)) is not None]
            np = self.np
            found = self._closers[follow] = (np.array([r[0] for r in rows], dtype=np.int64),
                                             np.array([r[1] for r in rows], dtype=np.int32),
                                             {r[0]: r[2] for r in rows})
        return found

    def trie(self, values: tuple[str, ...]) -> dict:
        """token -> subtree over the values' tokenizations; the key None marks a complete value."""
        root = self._tries.get(values)
        if root is None:
            root = self._tries[values] = {}
            for value in values:
                node = root
                for token in self.tokenize(value):
                    node = node.setdefault(token, {})
                node[None] = {}
        return root

    def prompt(self, messages: list) -> list[int]:
        """The prompt's tokens, exactly as llama-cpp-python's chat handler for the GGUF's template makes them."""
        result = self.formatter(messages=messages)
        return self.llama.tokenize(result.prompt.encode("utf-8"), add_bos=not result.added_special, special=True)

    def complete(self, messages: list, root: tuple, n: int, temperature: float, max_tokens: int,
                 seed: int | None) -> list[dict]:
        """n answers of `root`, decoded in lockstep (one llama_decode per round for all of them); a root
        of independent members (independent_members) has each member of each answer decoded in a
        sequence of its own, its budget max_tokens shared out."""
        np = self.np
        prompt = self.prompt(messages)
        if len(prompt) >= self.llama.n_ctx():
            raise ValueError(f"Requested tokens ({len(prompt)}) exceed context window of {self.llama.n_ctx()}")
        members = independent_members(root) if self.group > 1 else None
        runs: list[tuple[int, SchemaRun, object]] = []  # (answer, run, its decoding)
        for i in range(n):
            answer_seed = None if seed is None else (seed + i) % 2**64
            if members is None:
                run = SchemaRun(self, prompt, temperature, np.random.default_rng(answer_seed), max_tokens)
                runs.append((i, run, run.answer(root)))
                continue
            for j, member in enumerate(members):
                rng = np.random.default_rng(None if answer_seed is None else (answer_seed, j))
                run = SchemaRun(self, prompt, temperature, rng, max_tokens // len(members))
                runs.append((i, run, run.answer(("object", [member]))))
        self.decodes = 0
        for begin in range(0, len(runs), self.group):
            self._lockstep(prompt, runs[begin:begin + self.group])
        self.llama._requires_eval = True  # the context's logits are not those of its last token
        answers = []
        for i in range(n):
            mine = [run for answer, run, _ in runs if answer == i]
            texts = ["".join(run.out) for run in mine]
            # members decoded apart: each wrote a one-member object; their insides make the whole one
            text = texts[0] if members is None else "{" + SEP.join(t[1:-1] for t in texts) + "}"
            completion = sum(run.completion_tokens for run in mine)
            answers.append({"choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                         "finish_reason": "length" if any(r.truncated for r in mine) else "stop"}],
                            "usage": {"prompt_tokens": len(prompt), "completion_tokens": completion,
                                      "total_tokens": len(prompt) + completion}})
        return answers

    def _lockstep(self, prompt: list[int], runs: list) -> None:
        """Drive the runs' decodings together: each round evaluates what every live one asks for in one
        batch (engine.llm.lockstep), and gives each its logits."""
        step = Lockstep(self.llama, prompt, len(runs))
        pending: dict[int, tuple[list[int], int]] = {}  # sequence -> (its tokens, how many last ones need logits)

        def advance(seq: int, logits=None, error: Exception | None = None) -> None:
            run, decoding = runs[seq][1], runs[seq][2]
            try:
                if error is not None:
                    pending[seq] = decoding.throw(error)
                else:
                    pending[seq] = decoding.send(logits)
            except StopIteration:
                pending.pop(seq, None)
            except Truncated:
                run.truncated = True
                pending.pop(seq, None)

        try:
            for seq in range(len(runs)):
                advance(seq)
            while pending:
                for seq in [s for s, (tokens, _) in pending.items() if len(tokens) > self.llama.n_ctx()]:
                    advance(seq, error=Truncated())
                if pending:
                    logits = step.round(dict(pending))
                    for seq in list(pending):
                        advance(seq, logits[seq])
        except BaseException:
            step.close(failed=True)
            raise
        self.decodes += step.decodes
        step.close()

    def sample(self, candidates, logits, temperature: float, rng) -> int:
        """One of `candidates` (token ids), by llama-cpp-python's chain: top-k, top-p, min-p, temperature."""
        np = self.np
        x = logits[candidates].astype(np.float64)
        if temperature <= 0 or len(candidates) == 1:
            return int(candidates[int(np.argmax(x))])
        if len(x) > TOP_K:
            keep = np.argpartition(-x, TOP_K - 1)[:TOP_K]
        else:
            keep = np.arange(len(x))
        keep = keep[np.argsort(-x[keep], kind="stable")]
        top = x[keep]
        p = np.exp(top - top[0])
        p /= p.sum()
        cut = int(np.searchsorted(np.cumsum(p), TOP_P)) + 1
        keep, top = keep[:cut], top[:cut]
        mask = top >= top[0] + np.log(MIN_P)
        keep, top = keep[mask], top[mask]
        p = np.exp((top - top[0]) / temperature)
        p /= p.sum()
        return int(candidates[keep[int(rng.choice(len(p), p=p))]])
