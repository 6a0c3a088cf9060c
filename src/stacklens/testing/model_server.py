"""A scripted OpenAI-compatible model server for tests that run a real agent (OpenCode)
with no real model: ``POST /v1/chat/completions`` streamed as Server-Sent Events in the
OpenAI chunk format.

The script: a request without tools (OpenCode's title request) gets a short title; the
first agent turn gets a ``bash`` tool call (``ls``); the turn after the tool result gets a
final message. Every stream ends with ``usage`` on its last chunk, as OpenAI's does with
``stream_options.include_usage``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["ScriptedModelServer"]


def _chunk(delta: dict[str, Any], finish: str | None = None, usage: Any = None) -> bytes:
    body: dict[str, Any] = {
        "id": "chatcmpl-test",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "scripted",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    if usage is not None:
        body["usage"] = usage
    return b"data: " + json.dumps(body).encode() + b"\n\n"


class ScriptedModelServer:
    def __init__(self, *, prompt_tokens: int = 1200, completion_tokens: int = 80) -> None:
        self.requests: list[dict[str, Any]] = []
        self.usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                request = json.loads(self.rfile.read(length) or b"{}")
                server.requests.append(request)
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.send_header("Connection", "close")
                self.end_headers()
                for piece in server.stream(request):
                    self.wfile.write(piece)
                    self.wfile.flush()
                self.close_connection = True

            def log_message(self, *_: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def stream(self, request: dict[str, Any]) -> Iterator[bytes]:
        messages = request.get("messages", [])
        if not request.get("tools"):
            yield _chunk({"role": "assistant", "content": "Listing files"})
            yield _chunk({}, "stop", self.usage)
        elif not any(m.get("role") == "tool" for m in messages):
            call = {
                "index": 0,
                "id": "call_ls_1",
                "type": "function",
                "function": {
                    "name": "bash",
                    "arguments": json.dumps({"command": "ls", "description": "List files"}),
                },
            }
            yield _chunk({"role": "assistant", "content": None, "tool_calls": [call]})
            yield _chunk({}, "tool_calls", self.usage)
        else:
            yield _chunk({"role": "assistant", "content": "Here are the files in this folder."})
            yield _chunk({}, "stop", self.usage)
        yield b"data: [DONE]\n\n"

    def __enter__(self) -> ScriptedModelServer:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()
