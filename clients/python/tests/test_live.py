"""The Python client against a live longrun (``LONGRUN_API_URL``, ``LONGRUN_API_KEY``; started
by ``scripts/clients test``): an agent is created, a run submitted and followed to its end
through a forced disconnect, and its gated tool call approved."""

from __future__ import annotations

import os
import uuid

import httpx
import pytest

from longrun_client import AuthenticatedClient
from longrun_client.api.agents import create_agent
from longrun_client.api.runs import create_run, decide_approval, get_run, list_runs
from longrun_client.models import CreateAgent, CreateRun, ErrorBody, PostApproval, RunView
from longrun_follow import LongrunError, follow_run

URL = os.environ.get("LONGRUN_API_URL", "")
KEY = os.environ.get("LONGRUN_API_KEY", "")
if not URL or not KEY:
    pytest.fail("LONGRUN_API_URL and LONGRUN_API_KEY must name a live longrun (scripts/clients test)")


class DropOnce(httpx.BaseTransport):
    """Breaks the first event stream right after it carried `approval.requested`, as a
    network failure would; records the Last-Event-ID of every stream opened."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.dropped = False
        self.resumed_after: list[str | None] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if not request.url.path.endswith("/events"):
            return response
        self.resumed_after.append(request.headers.get("last-event-id"))
        if self.dropped:
            return response
        transport = self

        class Breaking(httpx.SyncByteStream):
            def __iter__(self):
                for chunk in response.stream:
                    yield chunk
                    if b"approval.requested" in chunk:
                        transport.dropped = True
                        response.close()
                        raise httpx.ReadError("connection dropped (test)")

            def close(self) -> None:
                response.close()

        return httpx.Response(
            response.status_code, headers=response.headers, stream=Breaking(), request=request
        )


def test_create_submit_follow_through_a_disconnect_and_approve() -> None:
    client = AuthenticatedClient(base_url=URL, token=KEY)
    agent_name = f"py-{uuid.uuid4().hex[:8]}"
    agent = CreateAgent.from_dict(
        {
            "name": agent_name,
            "model": "offline/demo",
            "tools": [{"name": "calculator", "requires_approval": True}],
        }
    )
    created = create_agent.sync_detailed(client=client, body=agent)
    assert created.status_code == 201, created.content

    run = create_run.sync(
        client=client,
        body=CreateRun.from_dict(
            {"agent": agent_name, "input": "What is 6 * 7?", "metadata": {"client": "python"}}
        ),
    )
    assert isinstance(run, RunView), run
    assert run.status == "queued"

    transport = DropOnce()
    http = httpx.Client(transport=transport, timeout=httpx.Timeout(10.0, read=60.0))
    reconnects: list[int | None] = []
    seen = []
    for event in follow_run(URL, KEY, run.id, client=http, on_reconnect=reconnects.append):
        seen.append(event)
        if event.event == "approval.requested":
            waiting = get_run.sync(run.id, client=client)
            assert isinstance(waiting, RunView)
            assert waiting.status == "waiting_approval"
            assert waiting.pending_approvals[0].tool == "calculator"
            decision = decide_approval.sync(
                run.id,
                client=client,
                body=PostApproval.from_dict(
                    {"tool_call_id": event.data["tool_call_id"], "approve": True}
                ),
            )
            assert not isinstance(decision, ErrorBody), decision
            assert decision.approve is True

    assert transport.dropped, "the stream was broken once"
    requested = next(e for e in seen if e.event == "approval.requested")
    assert reconnects == [requested.id]
    assert transport.resumed_after == [None, str(requested.id)]
    ids = [e.id for e in seen if e.id is not None]
    assert ids == list(range(1, len(ids) + 1)), "each stored event once, in order"
    assert seen[-1].event == "run.completed"
    assert seen[-1].data["status"] == "succeeded"
    assert seen[-1].data["result"] == "6 * 7 = 42."

    listed = list_runs.sync(client=client, agent=agent_name)
    assert [r.id for r in listed.runs] == [run.id]


def test_errors_carry_the_apis_code() -> None:
    try:
        list(follow_run(URL, KEY, "0" * 32))
    except LongrunError as err:
        assert (err.status, err.code) == (404, "run_not_found")
    else:
        raise AssertionError("an unknown run must be refused")
