/**
 * The longrun API for TypeScript: `longrunClient` makes typed requests (openapi-fetch over the
 * types generated from the API's OpenAPI document into `schema.d.ts`), and `followRun`
 * follows a run's events to its end, resuming with `Last-Event-ID` when the connection drops,
 * so every stored event is seen once and in order. This file is written by hand.
 */
import createClient from "openapi-fetch";
import { createParser, type EventSourceMessage } from "eventsource-parser";

import type { components, paths } from "./schema.js";

export type { components, paths };
export type RunView = components["schemas"]["RunView"];
export type CreateRun = components["schemas"]["CreateRun"];

/** A typed client of the API at `baseUrl`, with a workspace API key. */
export function longrunClient(baseUrl: string, apiKey: string, fetchImpl?: typeof fetch) {
  return createClient<paths>({
    baseUrl,
    headers: { Authorization: `Bearer ${apiKey}` },
    ...(fetchImpl ? { fetch: fetchImpl } : {}),
  });
}

/** One event of a run: `id` is its sequence number (absent for live `llm.delta` text). */
export interface RunEvent {
  id?: number;
  event: string;
  data: any;
}

/** The API refused: its error `code` and `message`, and the HTTP status. */
export class LongrunError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(`${code}: ${message} (HTTP ${status})`);
  }
}

export interface FollowOptions {
  /** Resume after this event. */
  lastEventId?: number;
  /** Failed connections in a row before giving up (default 10). */
  maxAttempts?: number;
  signal?: AbortSignal;
  fetch?: typeof fetch;
  /** Told each resumption, with the id it resumes after. */
  onReconnect?: (lastEventId: number | undefined) => void;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Yields the run's events until `run.completed` (the last one). */
export async function* followRun(
  baseUrl: string,
  apiKey: string,
  runId: string,
  options: FollowOptions = {},
): AsyncGenerator<RunEvent> {
  const fetchImpl = options.fetch ?? fetch;
  const maxAttempts = options.maxAttempts ?? 10;
  const url = `${baseUrl.replace(/\/$/, "")}/v1/runs/${encodeURIComponent(runId)}/events`;
  let last = options.lastEventId;
  let failures = 0;
  for (;;) {
    let pause = 200 * 2 ** Math.min(failures, 5);
    try {
      const headers: Record<string, string> = {
        Authorization: `Bearer ${apiKey}`,
        Accept: "text/event-stream",
      };
      if (last !== undefined) headers["Last-Event-ID"] = String(last);
      const response = await fetchImpl(url, { headers, signal: options.signal });
      if (response.status === 429 || response.status >= 500) {
        pause = 1000 * Math.min(Number(response.headers.get("retry-after") ?? "1"), 30);
        throw new Retry();
      }
      if (!response.ok || !response.body) {
        const body: any = await response.json().catch(() => ({}));
        throw new LongrunError(
          response.status,
          body?.error?.code ?? "http_error",
          body?.error?.message ?? response.statusText,
        );
      }
      const ready: EventSourceMessage[] = [];
      const parser = createParser({ onEvent: (message) => ready.push(message) });
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        parser.feed(value);
        while (ready.length > 0) {
          const message = ready.shift()!;
          const id = message.id ? Number(message.id) : undefined;
          if (id !== undefined) {
            if (last !== undefined && id <= last) continue;
            last = id;
          }
          failures = 0;
          const event = message.event ?? "message";
          yield { id, event, data: message.data ? JSON.parse(message.data) : null };
          if (event === "run.completed") {
            await reader.cancel().catch(() => {});
            return;
          }
        }
      }
    } catch (err) {
      if (err instanceof LongrunError || options.signal?.aborted) throw err;
    }
    failures += 1;
    if (failures > maxAttempts) {
      throw new Error(`the event stream of run ${runId} broke ${maxAttempts} times`);
    }
    options.onReconnect?.(last);
    await sleep(pause);
  }
}

class Retry extends Error {}
