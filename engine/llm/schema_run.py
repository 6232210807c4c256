"""One completion of engine.llm.schema_decoder: its text and tokens so far, and its decoding as a
generator that yields where it needs the model (the tokens so far, and how many of the last ones need
logits) and is sent their logits; the decoder drives several at once. Drafts (prompt lookup, see
schema_decoder.DRAFT_NGRAM) are made and checked here. It runs inside the worker process."""

import json
from typing import TYPE_CHECKING

from engine.llm.schema_tree import LEAD, SEP, minimal

if TYPE_CHECKING:
    from engine.llm.schema_decoder import SchemaDecoder


class Truncated(Exception):
    """The answer reached max_tokens."""


class SchemaRun:
    """One completion: the text so far, and the tokens after the prompt (forced text is
    tokenized when the next value token needs the model). Its decoding is a generator: where it needs
    the model it yields the tokens so far and is sent their logits (SchemaDecoder._lockstep drives
    several at once)."""

    def __init__(self, decoder: "SchemaDecoder", prompt: list[int], temperature: float, rng, max_tokens: int):
        self.d, self.tokens, self.temperature, self.rng = decoder, list(prompt), temperature, rng
        self.max_tokens, self.completion_tokens = max_tokens, 0
        self.out: list[str] = []
        self.pending = ""
        self.truncated = False  # it reached max_tokens
        self.guessed: tuple[int, list[int], list] | None = None  # the last draft: (at, its tokens, logits)

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
            raise Truncated()
        self.tokens.extend(tokens)
        self.completion_tokens += len(tokens)

    def take(self, token: int) -> None:
        self.flush()
        self._add([token])
        self.out.append(self.d.pieces[token])

    def pick(self, candidates, room: int = 0) -> int:
        """One of `candidates`, sampled from the logits after the tokens so far: those a draft checked if it
        guessed them all, else a decode's. `room` > 0: a string's pick, drafted (at most `room` characters)."""
        self.flush()
        logits = self._checked()
        if logits is None:
            draft = self.draft(room) if room > 0 else []
            got = yield self.tokens + draft, len(draft) + 1
            self.guessed, logits = (len(self.tokens), draft, got), got[0]
        return self.d.sample(self.d.np.asarray(candidates, dtype=self.d.np.int64), logits, self.temperature, self.rng)

    def _checked(self):
        """The logits after the tokens so far, if the last draft ran up to here and guessed them."""
        if self.guessed is None:
            return None
        at, draft, logits = self.guessed
        done = len(self.tokens) - at
        return logits[done] if 0 < done <= len(draft) and self.tokens[at:] == draft[:done] else None

    def draft(self, room: int) -> list[int]:
        """The tokens that followed the latest earlier occurrence of the last DRAFT_NGRAM tokens, while
        they are string text that fits `room` characters and the context."""
        d, tokens, n = self.d, self.tokens, self.d.draft_ngram
        limit = min(d.draft_max, d.llama.n_ctx() - 1 - len(tokens))
        if limit <= 0 or len(tokens) <= n:
            return []
        key = tokens[-n:]
        at = next((i for i in range(len(tokens) - n - 1, -1, -1) if tokens[i:i + n] == key), None)
        draft = []
        for token in tokens[at + n:at + n + limit] if at is not None else ():
            room -= int(d.char_len[token])
            if not d.is_body[token] or room < 0:
                break
            draft.append(token)
        return draft

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
            token = yield from self.pick(candidates, room=min(room, 1 << 20))
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
