"""Follows a longrun run's events (``GET /v1/runs/{id}/events``, Server-Sent Events) to its
end, resuming with ``Last-Event-ID`` when the connection drops, so every stored event is
seen once and in order. Written by hand beside the generated ``longrun_client`` package.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import httpx
from httpx_sse import connect_sse


@dataclass(frozen=True)
class RunEvent:
    """One event: ``id`` is its sequence number (``None`` for live ``llm.delta`` text)."""

    id: int | None
    event: str
    data: Any


class LongrunError(Exception):
    """The API refused: its error ``code`` and ``message``, and the HTTP status."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message} (HTTP {status})")
        self.status, self.code, self.message = status, code, message


def follow_run(
    base_url: str,
    api_key: str,
    run_id: str,
    *,
    last_event_id: int | None = None,
    max_attempts: int = 10,
    client: httpx.Client | None = None,
    on_reconnect: Callable[[int | None], None] | None = None,
) -> Iterator[RunEvent]:
    """Yields the run's events until ``run.completed`` (the last one).

    A connection that breaks (or ends) before the run's end is opened again after the last
    event seen, with a growing pause; ``max_attempts`` failures in a row raise the last error.
    ``on_reconnect`` is told each resumption, with the id it resumes after.
    """
    http = client or httpx.Client(timeout=httpx.Timeout(10.0, read=60.0))
    url = f"{base_url.rstrip('/')}/v1/runs/{run_id}/events"
    failures = 0
    try:
        while True:
            headers = {"Authorization": f"Bearer {api_key}", "Accept": "text/event-stream"}
            if last_event_id is not None:
                headers["Last-Event-ID"] = str(last_event_id)
            try:
                with connect_sse(http, "GET", url, headers=headers) as source:
                    response = source.response
                    if response.status_code == 429 or response.status_code >= 500:
                        wait = float(response.headers.get("retry-after", "1"))
                        raise _Retry(min(wait, 30.0))
                    if response.status_code != 200:
                        response.read()
                        raise _api_error(response)
                    for sse in source.iter_sse():
                        event_id = int(sse.id) if sse.id else None
                        if event_id is not None:
                            if last_event_id is not None and event_id <= last_event_id:
                                continue
                            last_event_id = event_id
                        failures = 0
                        data = json.loads(sse.data) if sse.data else None
                        yield RunEvent(event_id, sse.event, data)
                        if sse.event == "run.completed":
                            return
                pause = 0.2
            except _Retry as retry:
                pause = retry.seconds
            except (httpx.TransportError, httpx.StreamError):
                pause = 0.2 * 2 ** min(failures, 5)
            failures += 1
            if failures > max_attempts:
                raise ConnectionError(f"the event stream of run {run_id} broke {max_attempts} times")
            if on_reconnect is not None:
                on_reconnect(last_event_id)
            time.sleep(pause)
    finally:
        if client is None:
            http.close()


class _Retry(Exception):
    def __init__(self, seconds: float) -> None:
        super().__init__(seconds)
        self.seconds = seconds


def _api_error(response: httpx.Response) -> LongrunError:
    try:
        error = response.json()["error"]
        return LongrunError(response.status_code, error["code"], error["message"])
    except (ValueError, KeyError, TypeError):
        return LongrunError(response.status_code, "http_error", response.text[:200])
