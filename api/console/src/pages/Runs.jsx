// The runs list: status, agent, step, tokens, cost and age, filtered by status and agent,
// kept current by polling `GET /v1/runs` within the workspace's request budget. (One event
// stream per visible run would use up the browser's six connections per origin.)
import { useEffect, useState } from 'preact/hooks';

import { allowed, get, pollInterval, withQuery } from '../api.js';
import { Message, Page, StatusBadge } from '../components.jsx';
import { age, cost, tokens } from '../format.js';
import { BASE, Link, navigate, useLocation } from '../router.jsx';

const PAGE = 25;

export function Runs({ session }) {
  const where = useLocation();
  const params = new URLSearchParams(where.search);
  const status = params.get('status') ?? '';
  const agent = params.get('agent') ?? '';
  const [runs, setRuns] = useState(null);
  const [cursor, setCursor] = useState(null);
  const [shown, setShown] = useState(PAGE);
  const [agents, setAgents] = useState([]);
  const [error, setError] = useState(null);
  const [now, setNow] = useState(Date.now());

  useEffect(() => {
    if (!allowed('GET', '/v1/agents')) return;
    get(withQuery('/v1/agents', { limit: 100 }))
      .then((page) => setAgents(page.agents.map((a) => a.name)))
      .catch(() => setAgents([]));
  }, []);

  // Poll the newest `shown` runs while the page is visible; a 429 waits as long as it says.
  useEffect(() => {
    let stopped = false;
    let timer = null;
    const load = async () => {
      let wait = pollInterval();
      if (document.visibilityState === 'visible') {
        try {
          const page = await get(withQuery('/v1/runs', { status, agent, limit: Math.min(shown, 100) }));
          if (stopped) return;
          setRuns(page.runs);
          setCursor(page.next_cursor);
          setNow(Date.now());
          setError(null);
          wait = pollInterval();
        } catch (e) {
          if (stopped) return;
          setError(e);
          if (e.status === 401) return;
          if (e.retryAfter) wait = e.retryAfter * 1000;
        }
      }
      if (!stopped) timer = setTimeout(load, wait);
    };
    load();
    const visible = () => {
      if (document.visibilityState === 'visible') {
        clearTimeout(timer);
        load();
      }
    };
    document.addEventListener('visibilitychange', visible);
    return () => {
      stopped = true;
      clearTimeout(timer);
      document.removeEventListener('visibilitychange', visible);
    };
  }, [status, agent, shown]);

  const filter = (name, value) => {
    const next = new URLSearchParams(where.search);
    if (value) next.set(name, value);
    else next.delete(name);
    const query = next.toString();
    setShown(PAGE);
    navigate(`${BASE}/${query ? `?${query}` : ''}`, { replace: true });
  };

  return (
    <Page title="Runs">
      <form class="filters" onSubmit={(e) => e.preventDefault()} aria-label="Filter runs">
        <div>
          <label for="filter-status">Status</label>
          <select id="filter-status" value={status} onChange={(e) => filter('status', e.currentTarget.value)}>
            <option value="">any</option>
            {session.statuses.map((s) => (
              <option key={s.name} value={s.name}>
                {s.name.replaceAll('_', ' ')}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label for="filter-agent">Agent</label>
          <select id="filter-agent" value={agent} onChange={(e) => filter('agent', e.currentTarget.value)}>
            <option value="">any</option>
            {[...new Set([...agents, agent].filter(Boolean))].map((name) => (
              <option key={name} value={name}>
                {name}
              </option>
            ))}
          </select>
        </div>
        <p class="muted live" aria-live="off">
          Updates every {Math.round(pollInterval() / 1000)} s
        </p>
      </form>
      <Message error={error} />
      {runs === null && !error && <p class="muted">Loading runs…</p>}
      {runs && runs.length === 0 && <p class="muted">No runs{status || agent ? ' match these filters' : ' yet'}.</p>}
      {runs && runs.length > 0 && (
        <div class="table-wrap">
          <table class="runs">
            <caption class="visually-hidden">Runs, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Run</th>
                <th scope="col">Status</th>
                <th scope="col">Agent</th>
                <th scope="col" class="num">Step</th>
                <th scope="col" class="num">Tokens</th>
                <th scope="col" class="num">Cost</th>
                <th scope="col" class="num">Age</th>
              </tr>
            </thead>
            <tbody>
              {runs.map((run) => (
                <tr key={run.id} data-run={run.id}>
                  <td>
                    <Link href={`${BASE}/runs/${run.id}`} class="mono">
                      {run.id.slice(-10)}
                    </Link>
                  </td>
                  <td>
                    <StatusBadge status={run.status} />
                  </td>
                  <td>{run.agent}</td>
                  <td class="num">{run.step}</td>
                  <td class="num">{tokens(run.usage.input_tokens + run.usage.output_tokens)}</td>
                  <td class="num">{cost(run.usage.cost_usd)}</td>
                  <td class="num">
                    <time dateTime={run.created_at} title={run.created_at}>
                      {age(run.created_at, now)}
                    </time>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {cursor && shown < 100 && (
        <button type="button" class="secondary" onClick={() => setShown(shown + PAGE)}>
          Show more
        </button>
      )}
    </Page>
  );
}
