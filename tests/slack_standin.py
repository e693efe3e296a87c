"""A local stand-in for Slack's Web API: records every call, answers like Slack."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from chalicelib.emulator import free_port


class SlackStandIn:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any], str]] = []  # (method, body, raw)
        self.fail: str | None = None  # a Slack error code to answer with, e.g. "channel_not_found"
        self.http_status = 200
        self._ts = 1700000000
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length).decode()
                if "json" in self.headers.get("Content-Type", ""):
                    body = json.loads(raw or "{}")
                else:
                    body = {k: v[0] for k, v in parse_qs(raw).items()}
                method = self.path.rsplit("/", 1)[-1]
                stand_in.calls.append((method, body, raw))
                if stand_in.fail:
                    answer: dict[str, Any] = {"ok": False, "error": stand_in.fail}
                else:
                    stand_in._ts += 1
                    answer = {"ok": True, "channel": body.get("channel", "C0"),
                              "ts": body.get("ts") or f"{stand_in._ts}.000100"}
                data = json.dumps(answer).encode()
                self.send_response(stand_in.http_status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.port = free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def methods(self) -> list[str]:
        return [m for m, _, _ in self.calls]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
