"""Schema-guided JSON decoding in the llama-cpp worker (json_decoding "schema"): for the kind of schema
the roles' pydantic models produce, the JSON's fixed parts (braces, keys, separators) are written here
and the model is asked only for the values, among the tokens that keep the answer valid. Those fixed
tokens cost no decoding step of their own: they are evaluated in the same batch as the next value
token, and never after the last one. The n completions of a request (and the independent members of
a judge's verdicts) are decoded in lockstep, one llama_decode per round for all of them
(engine.llm.lockstep). Imported only inside the worker process (it needs llama_cpp)."""

import json

from engine.llm.lockstep import MAX_SEQUENCES, Lockstep
from engine.llm.schema_tree import LEAD, SEP, independent_members, minimal

# The sampling settings of llama-cpp-python's create_chat_completion, in its order (the grammar
# mask first, then top-k, top-p, min-p, temperature); repeat_penalty 1.0 does nothing there.
TOP_K, TOP_P, MIN_P = 40, 0.95, 0.05
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


class _Truncated(Exception):
    """The answer reached max_tokens."""


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
    evaluation."""

    def __init__(self, llama, lockstep: bool = True):
        """lockstep False (measurement only): one sequence at a time, and no independent members."""
        import numpy as np
        from llama_cpp import llama_chat_format

        self.np, self.llama = np, llama
        self.group = MAX_SEQUENCES if lockstep else 1  # sequences decoded together
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
        runs: list[tuple[int, _Run, object]] = []  # (answer, run, its decoding)
        for i in range(n):
            answer_seed = None if seed is None else (seed + i) % 2**64
            if members is None:
                run = _Run(self, prompt, temperature, np.random.default_rng(answer_seed), max_tokens)
                runs.append((i, run, run.answer(root)))
                continue
            for j, member in enumerate(members):
                rng = np.random.default_rng(None if answer_seed is None else (answer_seed, j))
                run = _Run(self, prompt, temperature, rng, max_tokens // len(members))
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
        pending: dict[int, list[int]] = {}  # sequence -> the tokens whose logits it waits for

        def advance(seq: int, logits=None, error: Exception | None = None) -> None:
            run, decoding = runs[seq][1], runs[seq][2]
            try:
                if error is not None:
                    pending[seq] = decoding.throw(error)
                else:
                    pending[seq] = decoding.send(logits)
            except StopIteration:
                pending.pop(seq, None)
            except _Truncated:
                run.truncated = True
                pending.pop(seq, None)

        try:
            for seq in range(len(runs)):
                advance(seq)
            while pending:
                for seq in [s for s, tokens in pending.items() if len(tokens) > self.llama.n_ctx()]:
                    advance(seq, error=_Truncated())
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


class _Run:
    """One completion: the text so far, and the tokens after the prompt (forced text is
    tokenized when the next value token needs the model). Its decoding is a generator: where it needs
    the model it yields the tokens so far and is sent their logits (SchemaDecoder._lockstep drives
    several at once)."""

    def __init__(self, decoder: SchemaDecoder, prompt: list[int], temperature: float, rng, max_tokens: int):
        self.d, self.tokens, self.temperature, self.rng = decoder, list(prompt), temperature, rng
        self.max_tokens, self.completion_tokens = max_tokens, 0
        self.out: list[str] = []
        self.pending = ""
        self.truncated = False  # it reached max_tokens

    def answer(self, root: tuple):
        """The whole answer's decoding."""
        yield from self.value(root, "", "")
        self.flush()

    def left(self) -> int:
        """Tokens of max_tokens still free, the fixed text not yet tokenized counted."""
        return self.max_tokens - self.completion_tokens - (len(self.d.tokenize(self.pending)) if self.pending else 0)

    def force(self, text: str) -> None:
        self.pending += text
        self.out.append(text)

    def flush(self) -> None:
        if self.pending:
            tokens = self.d.tokenize(self.pending)
            self.pending = ""
            self._add(tokens)

    def _add(self, tokens: list[int]) -> None:
        if self.completion_tokens + len(tokens) > self.max_tokens:
            raise _Truncated()
        self.tokens.extend(tokens)
        self.completion_tokens += len(tokens)

    def take(self, token: int) -> None:
        self.flush()
        self._add([token])
        self.out.append(self.d.pieces[token])

    def pick(self, candidates) -> int:
        self.flush()
        logits = yield self.tokens
        return self.d.sample(self.d.np.asarray(candidates, dtype=self.d.np.int64), logits, self.temperature, self.rng)

    def value(self, node: tuple, follow: str, lead: str, reserve: int = 0) -> int:
        """Write one value; `follow` is the fixed text after it, `reserve` the tokens that what comes
        after it needs at least (a string ends early rather than leave the answer unfinished at
        max_tokens). Returns how much of `follow` it wrote."""
        kind = node[0]
        if kind == "bool":
            options = [self.d.tokenize(lead + word) for word in ("true", "false")]
            chosen = (yield from self.pick([options[0][0], options[1][0]])) if options[0][0] != options[1][0] \
                else options[0][0]
            for token in options[0] if chosen == options[0][0] else options[1]:
                self.take(token)
            return 0
        if kind == "string":
            return (yield from self.string(node[1], node[2], follow, lead, reserve))
        if kind == "enum":
            return (yield from self.enum(node[1], follow, lead))
        if kind == "object":
            return (yield from self.object(node[1], follow, lead, reserve))
        if kind == "literal":
            self.force(lead + node[1])
            return 0
        if kind == "choice":
            return (yield from self.choice(node[1], node[2], follow, lead, reserve))
        return (yield from self.array(node[1], node[2], node[3], lead, reserve))

    def string(self, low: int, high: int | None, follow: str, lead: str, reserve: int) -> int:
        np, d = self.d.np, self.d
        close_ids, close_len, covers = d.closers_for(follow)
        self.force(lead + '"')
        count = 0
        while True:
            room = 1 << 30 if high is None else high - count
            ends = close_ids[(close_len <= room) & (count + close_len >= low)]
            if count >= low and self.left() < reserve + 3:  # one more token, the quote and the rest: no room
                body = d.body_ids[:0]
            else:
                body = d.body_ids[d.body_len <= room] if room < 1 << 20 else d.body_ids
            candidates = np.concatenate([body, ends])
            if len(candidates) == 0:  # nothing fits: close the quote
                self.force('"')
                return 0
            token = yield from self.pick(candidates)
            self.take(token)
            if token in covers:
                return covers[token]
            count += int(d.char_len[token])

    def enum(self, values: tuple[str, ...], follow: str, lead: str) -> int:
        close_ids, close_len, covers = self.d.closers_for(follow)
        ends = [int(t) for t in close_ids[close_len == 0]]
        self.force(lead + '"')
        node = self.d.trie(values)
        while True:
            complete = None in node
            children = [t for t in node if t is not None]
            if not children:
                self.force('"')
                return 0
            if len(children) == 1 and not complete:
                token = children[0]  # the only way on: no need to ask the model
            else:
                token = yield from self.pick(children + ends if complete else children)
            self.take(token)
            if token in node:
                node = node[token]
            else:  # a closing quote, perhaps with what follows it
                return covers[token]

    def object(self, props: list, follow: str, lead: str, reserve: int) -> int:
        if not props:
            self.force(lead + "{}")
            return 0
        self.force(lead + "{" + json.dumps(props[0][0]) + ":")
        return (yield from self.members(props, 0, follow, reserve))

    def members(self, props: list, start: int, follow: str, reserve: int) -> int:
        """The values of props[start:], the key of props[start] written already, and the object's end."""
        for i in range(start, len(props)):
            child = props[i][1]
            last = i == len(props) - 1
            after = "}" + follow if last else SEP + json.dumps(props[i + 1][0]) + ":"
            rest = "".join(f"{SEP}{json.dumps(key)}:{LEAD}{minimal(sub)}" for key, sub in props[i + 1:]) + "}"
            covered = yield from self.value(child, after, LEAD, reserve + len(self.d.tokenize(rest)))
            if not last:
                self.force(after[covered:])
            elif covered == 0:
                self.force("}")
            else:
                return covered - 1
        return 0

    def choice(self, key: str, options: tuple, follow: str, lead: str, reserve: int) -> int:
        """One of the objects that begin with `key`: the model picks the constant after the key, as
        it tokenizes (one decoding step where the constants' first tokens differ), and the rest of the
        object is the chosen one's."""
        head = "{" + json.dumps(key) + ":"
        self.force(lead + head)
        left = [(self.d.tokenize(LEAD + text), i) for i, (text, _) in enumerate(options)]
        # an object whose shortest form does not fit the budget left is no option (unless none fits)
        fits = [(tokens, i) for tokens, i in left
                if len(self.d.tokenize(minimal(("object", options[i][1]))[len(head):])) <= self.left() - reserve]
        left = fits or left
        at = 0
        while len(left) > 1 and all(len(tokens) > at for tokens, _ in left):
            nexts = list(dict.fromkeys(tokens[at] for tokens, _ in left))
            token = nexts[0] if len(nexts) == 1 else (yield from self.pick(nexts))
            self.take(token)
            left = [(tokens, i) for tokens, i in left if tokens[at] == token]
            at += 1
        tokens, chosen = min(left, key=lambda option: len(option[0]))
        for token in tokens[at:]:
            self.take(token)
        props = options[chosen][1]
        if len(props) == 1:
            self.force("}")
            return 0
        self.force(SEP + json.dumps(props[1][0]) + ":")
        return (yield from self.members(props, 1, follow, reserve))

    def array(self, item: tuple, low: int, high: int | None, lead: str, reserve: int) -> int:
        self.force(lead + "[")
        close, comma = self.d.tokenize("]")[0], self.d.tokenize(",")[0]
        one = len(self.d.tokenize("," + LEAD + minimal(item)))  # what one more item needs at least
        count = 0
        while True:
            if (high is not None and count >= high) or (count >= low and self.left() < one + reserve + 2):
                self.force("]")
                return 0
            if count >= low:
                first = self._start(item) if count == 0 else comma
                chosen = (yield from self.pick([first, close])) if first != close else close
                if chosen == close:
                    self.take(close)
                    return 0
                if count:
                    self.take(comma)
            elif count:
                self.force(",")
            yield from self.value(item, "", LEAD if count else "", reserve + 1 + one * max(0, low - count - 1))
            count += 1

    def _start(self, item: tuple) -> int:
        """The first token of an array item (what the model must prefer to ']' for the array to go on)."""
        kind = item[0]
        text = {"object": "{" + (json.dumps(item[1][0][0]) if item[1] else "}"), "array": "[",
                "bool": "true", "literal": item[1], "choice": "{" + json.dumps(item[1])}.get(kind, '"')
        return self.d.tokenize(text)[0]
