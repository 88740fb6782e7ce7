#!/usr/bin/env python3
"""The model of bench/chaos: a fake provider speaking the Anthropic Messages API, streamed
(`POST /v1/messages`, `stream: true`), with a switch that makes it answer every call with an
error status for as long as it is on (python3 standard library only).

It answers as `offline/demo` does, so a chaos run's results are the same with either: a user
turn asking "What is <expression>?" gets a tool call to the calculator with that expression;
a user turn carrying the calculator's result gets "<expression> = <result>." It must never
depend on longrun's code: it stands for a provider on the other side of the network.

    python3 bench/chaos_model.py PORT

Control, on the same port (loopback only):
  POST /control/outage {"status": 503}   every call from now on answers 503 (an
                                         Anthropic-shaped `overloaded_error` body)
  POST /control/outage {"status": null}  answers again
  GET  /control/stats                    what it saw: calls, answered, refused, malformed
                                         (400s: a wire-format bug on the caller's side), and
                                         per first user message (one per run) how many calls
                                         were refused, with the first and last refusal's time
"""

import http.server
import json
import re
import sys
import threading
import time

QUESTION = re.compile(r"What is (.+?)\?")


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.outage = None  # the status every call gets, or None
        self.calls = 0
        self.answered = 0
        self.refused = 0
        self.malformed = 0
        self.refused_runs = {}  # first user message -> [refusals, first ms, last ms]
        self.outages = []  # [status, from ms, to ms or None]

    def stats(self):
        with self.lock:
            return {"calls": self.calls, "answered": self.answered, "refused": self.refused,
                    "malformed": self.malformed, "outage": self.outage,
                    "outages": [list(o) for o in self.outages],
                    "refused_runs": {k: list(v) for k, v in self.refused_runs.items()}}


STATE = State()


def now_ms():
    return int(time.time() * 1000)


def text_of(content):
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(b.get("text", "") for b in content
                       if isinstance(b, dict) and b.get("type") == "text")
    return ""


def respond(body):
    """(content blocks, stop_reason) for a Messages request, or raises ValueError."""
    if body.get("stream") is not True:
        raise ValueError("stream must be true")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ValueError("no messages")
    if not any(t.get("name") == "calculator" for t in body.get("tools") or []):
        raise ValueError("the calculator tool is not declared")
    last = messages[-1]
    if last.get("role") != "user":
        raise ValueError("the last message is not the user's")
    blocks = last.get("content") if isinstance(last.get("content"), list) else []
    results = [b for b in blocks if isinstance(b, dict) and b.get("type") == "tool_result"]
    if results:
        asked = {}
        for m in messages:
            for b in m.get("content") if isinstance(m.get("content"), list) else []:
                if isinstance(b, dict) and b.get("type") == "tool_use":
                    asked[b.get("id")] = (b.get("input") or {}).get("expression", "")
        sentences = []
        for r in results:
            expression = asked.get(r.get("tool_use_id"), "")
            content = text_of(r.get("content"))
            sentences.append(f"I could not compute {expression}: {content}" if r.get("is_error")
                             else f"{expression} = {content}.")
        return [{"type": "text", "text": " ".join(sentences)}], "end_turn"
    found = QUESTION.search(text_of(last.get("content")))
    if not found:
        return [{"type": "text", "text": "Ask me what an expression is."}], "end_turn"
    expression = found.group(1)
    call_id = f"toolu_chaos_{len(messages)}_{abs(hash(expression)) % 10**8}"
    return [{"type": "text", "text": f"Let me calculate {expression}."},
            {"type": "tool_use", "id": call_id, "name": "calculator",
             "input": {"expression": expression}}], "tool_use"


def sse(event, data):
    return f"event: {event}\ndata: {json.dumps(data)}\n\n"


def stream(content, stop_reason, input_tokens):
    out = [sse("message_start", {"type": "message_start", "message": {
        "id": f"msg_chaos_{now_ms()}", "type": "message", "role": "assistant",
        "model": "claude-chaos-1", "content": [], "stop_reason": None,
        "usage": {"input_tokens": input_tokens, "output_tokens": 1}}})]
    output_chars = 0
    for i, block in enumerate(content):
        if block["type"] == "text":
            text = block["text"]
            output_chars += len(text)
            half = len(text) // 2
            out.append(sse("content_block_start", {"type": "content_block_start", "index": i,
                                                   "content_block": {"type": "text", "text": ""}}))
            for piece in (text[:half], text[half:]):
                out.append(sse("content_block_delta", {"type": "content_block_delta", "index": i,
                                                       "delta": {"type": "text_delta",
                                                                 "text": piece}}))
        else:
            raw = json.dumps(block["input"])
            output_chars += len(raw)
            half = len(raw) // 2
            out.append(sse("content_block_start", {
                "type": "content_block_start", "index": i,
                "content_block": {"type": "tool_use", "id": block["id"], "name": block["name"],
                                  "input": {}}}))
            for piece in (raw[:half], raw[half:]):
                out.append(sse("content_block_delta", {"type": "content_block_delta", "index": i,
                                                       "delta": {"type": "input_json_delta",
                                                                 "partial_json": piece}}))
        out.append(sse("content_block_stop", {"type": "content_block_stop", "index": i}))
    out.append(sse("message_delta", {"type": "message_delta",
                                     "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                                     "usage": {"output_tokens": max(1, output_chars // 4)}}))
    out.append(sse("message_stop", {"type": "message_stop"}))
    return "".join(out).encode()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *_args):
        pass

    def reply(self, status, body, content_type="application/json"):
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def read_body(self):
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length else b""

    def do_GET(self):
        if self.path == "/control/stats":
            self.reply(200, STATE.stats())
        else:
            self.reply(404, {"error": "not found"})

    def do_POST(self):
        raw = self.read_body()
        if self.path == "/control/outage":
            status = json.loads(raw or b"{}").get("status")
            with STATE.lock:
                at = now_ms()
                if STATE.outages and STATE.outages[-1][2] is None:
                    STATE.outages[-1][2] = at
                STATE.outage = int(status) if status else None
                if STATE.outage:
                    STATE.outages.append([STATE.outage, at, None])
            self.reply(200, {"outage": STATE.outage})
            return
        if self.path != "/v1/messages":
            self.reply(404, {"type": "error", "error": {"type": "not_found_error",
                                                        "message": self.path}})
            return
        try:
            body = json.loads(raw)
            first = next((text_of(m.get("content")) for m in body.get("messages") or []
                          if m.get("role") == "user"), "")
        except (ValueError, AttributeError):
            body, first = None, ""
        with STATE.lock:
            STATE.calls += 1
            outage = STATE.outage
            if outage:
                STATE.refused += 1
                at = now_ms()
                seen = STATE.refused_runs.setdefault(first, [0, at, at])
                seen[0] += 1
                seen[2] = at
        if outage:
            self.reply(outage, {"type": "error", "error": {
                "type": "overloaded_error", "message": "the chaos provider is down"}})
            return
        try:
            if body is None or not self.headers.get("x-api-key"):
                raise ValueError("no JSON body or no x-api-key")
            content, stop_reason = respond(body)
        except (ValueError, AttributeError, TypeError) as err:
            with STATE.lock:
                STATE.malformed += 1
            self.reply(400, {"type": "error", "error": {"type": "invalid_request_error",
                                                        "message": str(err)}})
            return
        with STATE.lock:
            STATE.answered += 1
        self.reply(200, stream(content, stop_reason, max(1, len(raw) // 4)),
                   "text/event-stream")


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256


if __name__ == "__main__":
    server = Server(("127.0.0.1", int(sys.argv[1])), Handler)
    print(f"chaos model on 127.0.0.1:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
