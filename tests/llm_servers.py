"""A small OpenAI-compatible HTTP server on 127.0.0.1 for backend tests: scripted answers,
fixed delay, fault modes, and a record of every request and of the peak concurrency."""

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# Fault modes, one per request, taken in order from `server.faults`.
FAULTS = ("429", "500", "hang", "malformed", "truncated")


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True  # a hung handler must not keep the test process alive
    request_queue_size = 128  # 32+ clients connecting at once


class FakeOpenAIServer:
    """`with FakeOpenAIServer(answers=[...]) as server: server.base_url` -> "http://127.0.0.1:PORT/v1".

    answers: texts cycled one per choice, or a callable (request body, choice index) -> text.
    delay_s: sleep before every answer. faults: queued fault modes, consumed one per request.
    ignore_n: answer one choice whatever n asked. usage: include a `usage` object (fixed counts, or
    "estimate": about 4 characters a token of the request's messages and the answers). keep_alive:
    speak HTTP/1.1 and keep connections open, as real servers do (default: HTTP/1.0, one connection
    per request)."""

    def __init__(self, answers: list[str] | Callable[[dict, int], str] = ("ok",), *, delay_s: float = 0.0,
                 faults: list[str] | None = None, retry_after: str | None = "1", hang_s: float = 2.0,
                 ignore_n: bool = False, usage: bool | str = True, keep_alive: bool = False):
        self.answers = answers
        self.delay_s = delay_s
        self.faults = list(faults or [])
        self.retry_after = retry_after
        self.hang_s = hang_s
        self.ignore_n = ignore_n
        self.usage = usage
        self.keep_alive = keep_alive
        self.requests: list[dict[str, Any]] = []  # {"path", "headers", "body", "fault"}
        self.loras: dict[str, str] = {}  # LoRA adapters loaded at run time: name -> path
        self.in_flight = 0
        self.max_in_flight = 0
        self._answered = 0
        self._lock = threading.Lock()
        self._http = _HTTPServer(("127.0.0.1", 0), self._handler())
        # A short poll interval: shutdown() waits up to one interval, on every test's exit.
        self._thread = threading.Thread(target=self._http.serve_forever, kwargs={"poll_interval": 0.02},
                                        name="fake-openai", daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._http.server_address[1]}/v1"

    def __enter__(self) -> "FakeOpenAIServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.shutdown()
        self._http.server_close()

    def _next_text(self, body: dict, index: int) -> str:
        if callable(self.answers):
            return self.answers(body, index)
        with self._lock:
            text = self.answers[self._answered % len(self.answers)]
            self._answered += 1
        return text

    def _respond(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = json.loads(handler.rfile.read(length) or b"{}")
        with self._lock:
            fault = self.faults.pop(0) if self.faults else None
            self.requests.append({"path": handler.path, "headers": dict(handler.headers), "body": body,
                                  "fault": fault})
        if self.delay_s:
            time.sleep(self.delay_s)
        if fault == "429":
            headers = {"Retry-After": self.retry_after} if self.retry_after is not None else {}
            return _send(handler, 429, b'{"error": {"message": "rate limited"}}', headers)
        if fault == "500":
            return _send(handler, 500, b'{"error": {"message": "boom"}}')
        if fault == "hang":
            time.sleep(self.hang_s)
        if fault == "malformed":
            return _send(handler, 200, b'{"choices": [{"message": {"content": "cut')
        n = 1 if self.ignore_n else int(body.get("n", 1))
        texts = [self._next_text(body, i) for i in range(n)]
        data: dict[str, Any] = {
            "id": "chatcmpl-test", "object": "chat.completion", "model": body.get("model", ""),
            "choices": [{"index": i, "message": {"role": "assistant", "content": t}, "finish_reason": "stop"}
                        for i, t in enumerate(texts)]}
        if self.usage == "estimate":  # about 4 characters a token, as a tokenizer would roughly count
            prompt = sum(len(m.get("content") or "") for m in body.get("messages", [])) // 4 + 1
            completion = sum(len(t) for t in texts) // 4 + n
            data["usage"] = {"prompt_tokens": prompt, "completion_tokens": completion,
                             "total_tokens": prompt + completion}
        elif self.usage:
            data["usage"] = {"prompt_tokens": 11, "completion_tokens": 3 * n, "total_tokens": 11 + 3 * n}
        payload = json.dumps(data).encode()
        if fault == "truncated":  # promise the whole body, send half, hang up
            handler.send_response(200)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(payload)))
            handler.end_headers()
            handler.wfile.write(payload[: len(payload) // 2])
            handler.wfile.flush()
            handler.close_connection = True
            return None
        return _send(handler, 200, payload)

    def _load_lora(self, handler: BaseHTTPRequestHandler) -> None:
        """Like vLLM with --enable-lora: records the adapter, then answers requests addressed to it."""
        body = json.loads(handler.rfile.read(int(handler.headers.get("Content-Length") or 0)) or b"{}")
        with self._lock:
            self.requests.append({"path": handler.path, "headers": dict(handler.headers), "body": body, "fault": None})
            known = body.get("lora_name") in self.loras
            self.loras[body.get("lora_name")] = body.get("lora_path")
        if known:
            return _send(handler, 400, b'{"error": {"message": "The lora adapter is already loaded."}}')
        return _send(handler, 200, b"Success: LoRA adapter loaded.")

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1" if server.keep_alive else "HTTP/1.0"
            disable_nagle_algorithm = True  # headers and body go out as two writes: no 40 ms stall between them

            def do_POST(self) -> None:
                if self.path.rstrip("/") == "/v1/load_lora_adapter":  # vLLM's runtime LoRA loading
                    server._load_lora(self)
                    return
                if self.path.rstrip("/") != "/v1/chat/completions":
                    self.close_connection = True  # its body is left unread
                    _send(self, 404, b'{"error": "not found"}')
                    return
                with server._lock:
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    server._respond(self)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout) first
                finally:
                    with server._lock:
                        server.in_flight -= 1

            def log_message(self, format: str, *args: Any) -> None:  # quiet test output
                pass

        return Handler


def _send(handler: BaseHTTPRequestHandler, status: int, payload: bytes, headers: dict[str, str] | None = None) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(payload)))
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(payload)


def role_answer(body: dict, index: int) -> str:
    """A plausible, schema-valid answer for each role's request, told apart by the schema's title:
    a day plan, verdicts on candidates, or a recommendation (every other one stays quiet)."""
    fmt = body.get("response_format") or {}
    schema = (fmt.get("json_schema") or {}).get("schema") or fmt.get("schema") or {}
    title = schema.get("title", "")
    if title == "DayPlan":
        return json.dumps({"activities": [
            {"start": "07:00", "end": "08:00", "activity": "Breakfast and the news", "room": "kitchen",
             "object": "dining table", "tags": ["meal"]},
            {"start": "08:00", "end": "12:00", "activity": "Working from home", "room": "study", "object": "desk",
             "tags": ["work"]},
            {"start": "12:00", "end": "13:00", "activity": "Lunch", "room": "kitchen", "object": "dining table",
             "tags": ["meal"]},
            {"start": "13:00", "end": "18:00", "activity": "Reading on the sofa", "room": "common_room",
             "object": "sofa", "tags": ["leisure", "reading"]},
            {"start": "18:00", "end": "22:00", "activity": "Listening to records", "room": "common_room",
             "object": "sofa", "tags": ["leisure", "music"]}]})
    if title == "Verdicts":
        verdict_schema = next(iter(schema.get("$defs", {}).values()), {})
        criteria = [k for k, v in verdict_schema.get("properties", {}).items() if v.get("type") == "boolean"]
        return json.dumps({name: {"reason": "fine by me", **{c: (i + index) % 3 != 0 for i, c in enumerate(criteria)}}
                           for name in schema.get("properties", {})})
    if title == "Answer":
        recommend = index % 2 == 1
        return json.dumps({"recommend": recommend, "text": "Put on a favourite record?" if recommend else "",
                           "topic": "music", "tone": "warm"})
    if title == "Check":
        return json.dumps({"reason": "fine", "passes": index % 2 == 0})
    return "{}"
