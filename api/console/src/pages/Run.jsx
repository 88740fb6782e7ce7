// One run: its conversation (each model turn's text streaming as it is generated), tool calls
// with their inputs and results, the event timeline, usage and cost, the Temporal UI link,
// and what a person can do: approve or deny a gated tool call, answer a waiting run, complete,
// cancel, resume. Live over `GET /v1/runs/{id}/events` (the cookie is the credential): the
// server numbers each stored event, so a dropped stream reconnects with Last-Event-ID and
// catches up on what it missed.
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';

import { get, post } from '../api.js';
import { Message, Page, StatusBadge } from '../components.jsx';
import { cost, duration, json, statusLabel, time, tokens } from '../format.js';
import { NotFound } from './NotFound.jsx';

export function Run({ id, session }) {
  const [run, setRun] = useState(null);
  const [missing, setMissing] = useState(false);
  const [events, setEvents] = useState([]);
  const [streaming, setStreaming] = useState('');
  const [link, setLink] = useState('connecting');
  const [error, setError] = useState(null);
  const [notice, setNotice] = useState(null);
  const refresh = useRefresh(id, setRun, setMissing, setError);

  useEffect(() => {
    setRun(null);
    setEvents([]);
    setMissing(false);
    refresh.now();
  }, [id]);

  // The event stream, once the run is known to exist.
  const terminal = run && session.statuses.find((s) => s.name === run.status)?.terminal;
  const known = run !== null;
  useEffect(() => {
    if (!known) return undefined;
    let source = null;
    let retry = null;
    let closed = false;
    const seen = new Set();
    const open = () => {
      source = new EventSource(`/v1/runs/${encodeURIComponent(id)}/events`);
      source.onopen = () => setLink('live');
      source.onerror = () => {
        if (closed) return;
        if (source.readyState === EventSource.CONNECTING) {
          // The browser reconnects by itself, sending Last-Event-ID.
          setLink('reconnecting');
          return;
        }
        // The server refused the stream (401, 429, …): ask the API why, then try again.
        setLink('offline');
        get(`/v1/runs/${encodeURIComponent(id)}`)
          .then(() => {
            retry = setTimeout(open, 5000);
          })
          .catch((e) => {
            if (e.status !== 401 && e.status !== 404) retry = setTimeout(open, (e.retryAfter ?? 5) * 1000);
          });
      };
      for (const kind of session.event_kinds) {
        source.addEventListener(kind, (message) => {
          const data = safeParse(message.data);
          if (kind === 'llm.delta') {
            setStreaming((text) => text + (data?.text ?? ''));
            return;
          }
          const seq = Number(message.lastEventId);
          if (seen.has(seq)) return;
          seen.add(seq);
          setEvents((list) => [...list, { seq, kind, data }]);
          if (kind === 'llm.completed') setStreaming('');
          if (kind === 'run.completed') {
            closed = true;
            source.close();
            setLink('ended');
            refresh.now();
          } else {
            refresh.soon();
          }
        });
      }
    };
    open();
    return () => {
      closed = true;
      clearTimeout(retry);
      source?.close();
    };
  }, [id, known]);

  const view = useMemo(() => conversation(run, events), [run, events]);

  if (missing) return <NotFound what="run" />;
  if (!run) return <Page title="Run">{error ? <Message error={error} /> : <p class="muted">Loading the run…</p>}</Page>;

  const act = async (action, body, done) => {
    setError(null);
    setNotice(null);
    try {
      await post(`/v1/runs/${encodeURIComponent(id)}/${action}`, body, { idempotent: true });
      if (done) setNotice(done);
      refresh.now();
      return true;
    } catch (e) {
      setError(e);
      return false;
    }
  };

  return (
    <Page title={`Run ${id.slice(-10)}`} actions={<StatusBadge status={run.status} />}>
      <p class="muted stream-state" role="status">
        {linkLabel(link, terminal)}
      </p>
      <Message error={error} onDismiss={() => setError(null)} />
      <Message notice={notice} onDismiss={() => setNotice(null)} />
      <div class="run-layout">
        <div class="run-main">
          <h2>Conversation</h2>
          <ol class="conversation" aria-label="Conversation">
            {view.turns.map((turn, i) => (
              <Turn key={i} turn={turn} run={run} act={act} />
            ))}
            {streaming && (
              <li class="turn assistant streaming" aria-live="polite">
                <div class="who">model · writing</div>
                <p class="text">{streaming}</p>
              </li>
            )}
          </ol>
          {run.status === 'waiting_input' && <Answer act={act} question={view.question} />}
          <Controls run={run} terminal={terminal} act={act} />
          {run.result && (
            <>
              <h2>Result</h2>
              <p class="result">{run.result}</p>
            </>
          )}
          {run.error && (
            <p class="message error">
              {run.error.code}: {run.error.message}
            </p>
          )}
        </div>
        <aside class="run-side">
          <h2>Details</h2>
          <dl class="facts">
            <dt>Status</dt>
            <dd>
              {statusLabel(run.status)}
              {run.status_reason && <span class="muted"> ({run.status_reason})</span>}
            </dd>
            <dt>Agent</dt>
            <dd>{run.agent}</dd>
            <dt>Step</dt>
            <dd>{run.step}</dd>
            <dt>Tokens</dt>
            <dd>
              {tokens(run.usage.input_tokens)} in · {tokens(run.usage.output_tokens)} out
            </dd>
            <dt>Tool calls</dt>
            <dd>{run.usage.tool_calls}</dd>
            <dt>Agent time</dt>
            <dd>{duration(run.usage.agent_ms)}</dd>
            <dt>Cost</dt>
            <dd data-testid="run-cost">{cost(run.usage.cost_usd)}</dd>
            <dt>Created</dt>
            <dd>{time(run.created_at)}</dd>
            <dt>Finished</dt>
            <dd>{time(run.finished_at)}</dd>
            <dt>Workflow</dt>
            <dd>
              <a href={run.temporal_ui_url} target="_blank" rel="noopener noreferrer">
                {run.workflow_id}
              </a>{' '}
              <span class="muted">(Temporal UI)</span>
            </dd>
          </dl>
          <h2>Events</h2>
          <ol class="timeline" aria-label="Event timeline">
            {events.map((event) => (
              <li key={event.seq}>
                <span class="mono seq">#{event.seq}</span> <span class="kind">{event.kind}</span>{' '}
                <span class="muted">{summary(event)}</span>
              </li>
            ))}
          </ol>
        </aside>
      </div>
    </Page>
  );
}

/** Re-reads the run: at once, or soon (many events in a burst cost one request). */
function useRefresh(id, setRun, setMissing, setError) {
  const pending = useRef(null);
  const now = () => {
    clearTimeout(pending.current);
    pending.current = null;
    get(`/v1/runs/${encodeURIComponent(id)}`)
      .then(setRun)
      .catch((e) => {
        if (e.status === 404) setMissing(true);
        else setError(e);
      });
  };
  const soon = () => {
    if (!pending.current) pending.current = setTimeout(now, 400);
  };
  useEffect(() => () => clearTimeout(pending.current), []);
  return { now, soon };
}

function safeParse(text) {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

function linkLabel(link, terminal) {
  if (link === 'ended' || (terminal && link !== 'live')) return 'The run has ended.';
  return {
    connecting: 'Connecting to the live event stream…',
    live: 'Live: events appear as they happen.',
    reconnecting: 'Connection lost: reconnecting and catching up…',
    offline: 'Live updates are paused; retrying…',
  }[link];
}

/** The conversation the events tell: turns, with each tool call followed to its result. */
function conversation(run, events) {
  const turns = [];
  const calls = new Map();
  let question = null;
  if (run?.input !== undefined) turns.push({ role: 'user', text: run.input });
  for (const { kind, data } of events) {
    if (!data) continue;
    switch (kind) {
      case 'llm.completed': {
        const text = data.content
          .filter((b) => b.type === 'text')
          .map((b) => b.text)
          .join('\n');
        const turn = { role: 'assistant', text, step: data.step, calls: [] };
        for (const block of data.content.filter((b) => b.type === 'tool_use')) {
          const call = { id: block.id, name: block.name, input: block.input, state: 'requested' };
          calls.set(block.id, call);
          turn.calls.push(call);
        }
        turns.push(turn);
        break;
      }
      case 'approval.requested':
        update(calls, data.tool_call_id, { state: 'awaiting_approval' });
        break;
      case 'tool.requested':
        // A client-executed tool: the API's client posts its result.
        update(calls, data.tool_call_id, { state: 'awaiting_client' });
        break;
      case 'approval.decided':
        update(calls, data.tool_call_id, {
          state: data.approve ? 'approved' : 'denied',
          decision: { approve: data.approve, reason: data.reason, by: data.by },
        });
        break;
      case 'tool.started':
        update(calls, data.tool_call_id, { state: 'running' });
        break;
      case 'tool.completed':
        update(calls, data.tool_call_id, { state: data.is_error ? 'failed' : 'done', result: data.content });
        break;
      case 'input.requested':
        question = data.question;
        break;
      case 'input.received':
        question = null;
        turns.push({ role: 'user', text: data.text });
        break;
      case 'llm.error':
        turns.push({ role: 'error', text: data.message ?? 'The model answered with something unreadable.' });
        break;
      default:
        break;
    }
  }
  return { turns, question };
}

function update(calls, id, fields) {
  const call = calls.get(id);
  if (call) Object.assign(call, fields);
}

function summary({ kind, data }) {
  if (!data) return '';
  switch (kind) {
    case 'llm.completed':
      return `step ${data.step}, ${data.stop_reason}`;
    case 'tool.started':
    case 'approval.requested':
    case 'tool.requested':
      return data.tool;
    case 'tool.completed':
      return `${data.tool}${data.is_error ? ' (error)' : ''}`;
    case 'approval.decided':
      return data.approve ? 'approved' : 'denied';
    case 'run.completed':
      return data.status;
    default:
      return '';
  }
}

function Turn({ turn, run, act }) {
  const who = { user: 'input', assistant: `model · step ${turn.step}`, error: 'model error' }[turn.role];
  return (
    <li class={`turn ${turn.role}`}>
      <div class="who">{who}</div>
      {turn.text && <p class="text">{turn.text}</p>}
      {turn.calls?.map((call) => (
        <ToolCall key={call.id} call={call} run={run} act={act} />
      ))}
    </li>
  );
}

const CALL_STATES = {
  requested: 'requested',
  awaiting_approval: 'awaiting approval',
  awaiting_client: 'awaiting the client',
  approved: 'approved',
  denied: 'denied',
  running: 'running',
  done: 'done',
  failed: 'failed',
};

function ToolCall({ call, run, act }) {
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const pending = call.state === 'awaiting_approval' && run.status === 'waiting_approval';
  const decide = async (approve) => {
    setBusy(true);
    const body = { tool_call_id: call.id, approve };
    if (reason.trim()) body.reason = reason.trim();
    await act('approvals', body, approve ? `Approved ${call.name}.` : `Denied ${call.name}.`);
    setBusy(false);
  };
  const reasonId = `reason-${call.id}`;
  return (
    <div class={`tool-call state-${call.state}`} data-tool-call={call.id}>
      <div class="tool-head">
        <span class="mono">{call.name}</span> <span class="badge">{CALL_STATES[call.state]}</span>
      </div>
      <details open={pending}>
        <summary>Input</summary>
        <pre>{json(call.input)}</pre>
      </details>
      {call.decision && (
        <p class="muted">
          {call.decision.approve ? 'Approved' : 'Denied'} by {call.decision.by}
          {call.decision.reason ? `: ${call.decision.reason}` : ''}
        </p>
      )}
      {call.result !== undefined && (
        <details open>
          <summary>Result</summary>
          <pre>{call.result}</pre>
        </details>
      )}
      {pending && (
        <div class="approval" role="group" aria-label={`Decide the call to ${call.name}`}>
          <label for={reasonId}>Reason (optional; told to the model when you deny)</label>
          <textarea id={reasonId} rows={2} maxLength={4096} value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
          <div class="buttons">
            <button type="button" disabled={busy} onClick={() => decide(true)}>
              Approve
            </button>
            <button type="button" class="danger" disabled={busy} onClick={() => decide(false)}>
              Deny
            </button>
          </div>
        </div>
      )}
    </div>
  );
}

function Answer({ act, question }) {
  const [text, setText] = useState('');
  const [busy, setBusy] = useState(false);
  const send = async (event) => {
    event.preventDefault();
    if (!text.trim()) return;
    setBusy(true);
    if (await act('messages', { text }, 'Sent.')) setText('');
    setBusy(false);
  };
  return (
    <form class="card answer" onSubmit={send}>
      <label for="answer">The run waits for your answer</label>
      {question && <p class="muted">{question}</p>}
      <textarea id="answer" rows={3} maxLength={65536} value={text} onInput={(e) => setText(e.currentTarget.value)} required />
      <div class="buttons">
        <button type="submit" disabled={busy}>
          Send
        </button>
        <button type="button" class="secondary" disabled={busy} onClick={() => act('complete', undefined, 'The run will end with the answer it has.')}>
          Complete
        </button>
      </div>
    </form>
  );
}

function Controls({ run, terminal, act }) {
  if (terminal) return null;
  return (
    <div class="buttons controls" role="group" aria-label="Run actions">
      {run.status === 'paused_quota' && (
        <button type="button" onClick={() => act('resume', undefined, 'The run will check its limits again.')}>
          Resume
        </button>
      )}
      <button type="button" class="danger" onClick={() => act('cancel', undefined, 'Cancellation requested.')}>
        Cancel run
      </button>
    </div>
  );
}
