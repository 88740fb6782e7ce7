// The TypeScript client against a live longrun (LONGRUN_API_URL, LONGRUN_API_KEY; started by
// scripts/clients test): an agent is created, a run submitted and followed to its end through
// a forced disconnect, and its gated tool call approved.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { test } from "node:test";

import { LongrunError, followRun, longrunClient, type RunEvent } from "../src/index.js";

const URL = process.env.LONGRUN_API_URL ?? "";
const KEY = process.env.LONGRUN_API_KEY ?? "";
if (!URL || !KEY) {
  throw new Error("LONGRUN_API_URL and LONGRUN_API_KEY must name a live longrun (scripts/clients test)");
}

/** A fetch that breaks the first event stream right after it carried `approval.requested`,
 * as a network failure would, and records the Last-Event-ID of every stream opened. */
function droppingOnce() {
  const state = { dropped: false, resumedAfter: [] as (string | null)[] };
  const wrapped: typeof fetch = async (input, init) => {
    const response = await fetch(input, init);
    if (!String(input).endsWith("/events")) return response;
    state.resumedAfter.push(new Headers(init?.headers).get("last-event-id"));
    if (state.dropped || !response.body) return response;
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        const { value, done } = await reader.read();
        if (done) return controller.close();
        controller.enqueue(value);
        if (decoder.decode(value, { stream: true }).includes("approval.requested")) {
          state.dropped = true;
          await reader.cancel();
          controller.error(new TypeError("connection dropped (test)"));
        }
      },
    });
    return new Response(body, { status: response.status, headers: response.headers });
  };
  return { fetch: wrapped, state };
}

test("create, submit, follow through a disconnect, approve", async () => {
  const api = longrunClient(URL, KEY);
  const name = `ts-${randomUUID().slice(0, 8)}`;
  const created = await api.POST("/v1/agents", {
    body: { name, model: "offline/demo", tools: [{ name: "calculator", requires_approval: true }] },
  });
  assert.equal(created.response.status, 201, JSON.stringify(created.error));

  const submitted = await api.POST("/v1/runs", {
    body: { agent: name, input: "What is 6 * 7?", metadata: { client: "typescript" } },
  });
  assert.ok(submitted.data, JSON.stringify(submitted.error));
  const run = submitted.data;
  assert.equal(run.status, "queued");

  const { fetch: dropping, state } = droppingOnce();
  const reconnects: (number | undefined)[] = [];
  const seen: RunEvent[] = [];
  for await (const event of followRun(URL, KEY, run.id, {
    fetch: dropping,
    onReconnect: (last) => reconnects.push(last),
  })) {
    seen.push(event);
    if (event.event === "approval.requested") {
      const waiting = await api.GET("/v1/runs/{id}", { params: { path: { id: run.id } } });
      assert.equal(waiting.data?.status, "waiting_approval");
      assert.equal(waiting.data?.pending_approvals[0]?.tool, "calculator");
      const decided = await api.POST("/v1/runs/{id}/approvals", {
        params: { path: { id: run.id } },
        body: { tool_call_id: event.data.tool_call_id, approve: true },
      });
      // 200 with the decision as the run took it; 202 only while Temporal does not answer.
      assert.equal(decided.response.status, 200, JSON.stringify(decided.error));
      assert.ok(decided.data && "approve" in decided.data && decided.data.approve === true);
    }
  }

  assert.ok(state.dropped, "the stream was broken once");
  const requested = seen.find((e) => e.event === "approval.requested")!;
  assert.deepEqual(reconnects, [requested.id]);
  assert.deepEqual(state.resumedAfter, [null, String(requested.id)]);
  const ids = seen.flatMap((e) => (e.id === undefined ? [] : [e.id]));
  assert.deepEqual(ids, Array.from({ length: ids.length }, (_, i) => i + 1), "each event once, in order");
  const last = seen[seen.length - 1];
  assert.equal(last.event, "run.completed");
  assert.equal(last.data.status, "succeeded");
  assert.equal(last.data.result, "6 * 7 = 42.");

  const listed = await api.GET("/v1/runs", { params: { query: { agent: name } } });
  assert.deepEqual(listed.data?.runs.map((r) => r.id), [run.id]);
});

test("errors carry the API's code", async () => {
  await assert.rejects(
    async () => {
      for await (const _ of followRun(URL, KEY, "0".repeat(32))) {
        // nothing arrives
      }
    },
    (err: unknown) => err instanceof LongrunError && err.status === 404 && err.code === "run_not_found",
  );
});
