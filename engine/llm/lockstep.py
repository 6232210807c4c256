"""Several sequences of one llama.cpp context decoded together, for the schema decoder: each round,
ONE llama_decode evaluates the new tokens of every live sequence (the n completions of a request,
or the independent members of a judge's verdicts). On a CPU one decode of a small batch costs about
what one token does (the weights are read once per decode), so two sequences in lockstep cost little
more than one. Imported only inside the llama-cpp worker (it needs llama_cpp).

The context must have a unified KV cache (engine.llm.llama_worker creates it so): then any sequence
id below llama.cpp's LLAMA_MAX_SEQ is valid and every sequence sees the whole n_ctx. Sequence 0 is
the Llama object's own (its input_ids and n_tokens describe it, and its cached prompt prefix is reused
as llama-cpp-python does); the others start as a copy of the prompt's cached part (a KV copy costs
nothing: the cells are shared) and are removed when the request ends.
"""

MAX_SEQUENCES = 8  # the worker's contexts allow this many; more sequences run in groups of it


class Lockstep:
    """The KV state of `count` sequences that all begin with `prompt`, and their batched evaluation."""

    def __init__(self, llama, prompt: list[int], count: int):
        import llama_cpp as lib
        import numpy as np

        self.np, self.lib, self.llama = np, lib, llama
        self.mem = lib.llama_get_memory(llama.ctx)
        limit = min(llama.n_tokens, len(prompt))
        differ = np.nonzero(llama.input_ids[:limit] != np.asarray(prompt[:limit]))[0]
        common = int(differ[0]) if len(differ) else limit
        common = min(common, len(prompt) - 1)  # the prompt's last token is evaluated again, for its logits
        lib.llama_memory_seq_rm(self.mem, 0, common, -1)
        for seq in range(1, count):
            lib.llama_memory_seq_rm(self.mem, seq, -1, -1)
            lib.llama_memory_seq_cp(self.mem, 0, seq, 0, common)
        self.kv: list[list[int]] = [list(prompt[:common]) for _ in range(count)]  # what each sequence holds
        self.fresh = True  # every sequence holds the same tokens: the first round shares their common new ones
        self.n_batch = llama.n_batch
        self.batch = lib.llama_batch_init(self.n_batch, 0, count)
        self.decodes = 0  # llama_decode calls, for the worker's perf figures

    def round(self, requests: dict[int, tuple[list[int], int]]) -> dict[int, list]:
        """Per sequence, the logits after each of its last `count` tokens (sequence -> (tokens,
        count)), all evaluated in one decode (more only when the new tokens exceed n_batch). A count
        above 1 checks guessed tokens (a draft) in the same decode; a guess that turns out wrong is
        dropped from the KV cache at the next round, which no longer asks for it."""
        entries: list[tuple[int, int, tuple[int, ...]]] = []  # (token, position, sequences)
        wanted: dict[int, range] = {}  # sequence -> the entries whose logits it needs
        if self.fresh:  # the tokens all requests share after the cached prefix are evaluated once, for all
            self.fresh = False
            reqs = [tokens for tokens, _ in requests.values()]
            start = same = len(self.kv[0])
            last = min(len(r) - count for r, count in requests.values())  # the tokens with logits: each its own
            while same < last and len({r[same] for r in reqs}) == 1:
                same += 1
            entries += [(reqs[0][p], p, tuple(requests)) for p in range(start, same)]
            for seq in requests:
                self.kv[seq] = list(reqs[0][:same])
        for seq, (tokens, count) in requests.items():
            held = self.kv[seq]
            if tokens[:len(held)] == held:  # the usual case: a decoding only ever appends
                common = len(held)
            else:
                limit = min(len(held), len(tokens))
                common = next((i for i in range(limit) if held[i] != tokens[i]), limit)
            common = min(common, len(tokens) - count)
            if common < len(held):
                self.lib.llama_memory_seq_rm(self.mem, seq, common, -1)
            entries += [(tokens[p], p, (seq,)) for p in range(common, len(tokens))]
            wanted[seq] = range(len(entries) - count, len(entries))
            self.kv[seq] = list(tokens)
        return self._decode(entries, wanted)

    def _decode(self, entries: list, wanted: dict[int, range]) -> dict[int, list]:
        np, lib, batch = self.np, self.lib, self.batch
        rows = {index: seq for seq, indexes in wanted.items() for index in indexes}
        out: dict[int, list] = {seq: [] for seq in wanted}
        for begin in range(0, len(entries), self.n_batch):
            chunk = entries[begin:begin + self.n_batch]
            for i, (token, position, seqs) in enumerate(chunk):
                batch.token[i], batch.pos[i], batch.n_seq_id[i] = token, position, len(seqs)
                for j, seq in enumerate(seqs):
                    batch.seq_id[i][j] = seq
                batch.logits[i] = begin + i in rows
            batch.n_tokens = len(chunk)
            code = lib.llama_decode(self.llama.ctx, batch)
            if code != 0:
                raise RuntimeError(f"llama_decode returned {code} (KV cache full or an invalid batch)")
            self.decodes += 1
            for i in range(len(chunk)):
                if begin + i in rows:
                    row = lib.llama_get_logits_ith(self.llama.ctx, i)
                    out[rows[begin + i]].append(np.ctypeslib.as_array(row, shape=(self.llama.n_vocab(),)).copy())
        return out

    def close(self, failed: bool = False) -> None:
        """Keep sequence 0 as the Llama's own (its prefix serves the next request), drop the others; after
        a failure forget everything (the KV state is not known)."""
        lib, llama = self.lib, self.llama
        lib.llama_batch_free(self.batch)
        if failed:
            lib.llama_memory_clear(self.mem, True)
            llama.n_tokens = 0
            return
        for seq in range(1, len(self.kv)):
            lib.llama_memory_seq_rm(self.mem, seq, -1, -1)
        held = self.kv[0]
        llama.input_ids[:len(held)] = held
        llama.n_tokens = len(held)
