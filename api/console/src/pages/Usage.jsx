// Usage this period: tokens and cost per day (a chart, and the same figures as a table), by
// agent and by model, and quota gauges with the alert thresholds marked (80 %, 100 %, and the
// hard cap where running runs pause).
import { useEffect, useRef, useState } from 'preact/hooks';
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Legend,
  LineController,
  LineElement,
  LinearScale,
  PointElement,
  Tooltip,
} from 'chart.js';

import { get, withQuery } from '../api.js';
import { Message, Page } from '../components.jsx';
import { cost, tokens } from '../format.js';

Chart.register(BarController, BarElement, CategoryScale, LineController, LineElement, LinearScale, PointElement, Tooltip, Legend);

const COLORS = { input: '#3b6fd6', output: '#8fb1f0', cost: '#c2410c' };

export function Usage() {
  const [data, setData] = useState(null);
  const [error, setError] = useState(null);

  useEffect(() => {
    const usage = (group_by) => get(withQuery('/v1/usage', { group_by, limit: 1000 }));
    Promise.all([get('/v1/quota').catch((e) => ({ error: e })), usage('day'), usage('agent'), usage('model')])
      .then(([quota, days, agents, models]) => setData({ quota, days, agents, models }))
      .catch(setError);
  }, []);

  return (
    <Page title="Usage">
      <Message error={error} />
      {!data && !error && <p class="muted">Loading usage…</p>}
      {data && <Report {...data} />}
    </Page>
  );
}

/** Every day from `from` to `to` (YYYY-MM-DD, inclusive), with that day's row or zeros. */
function everyDay(report) {
  const byDay = new Map(report.rows.map((row) => [row.day, row]));
  const days = [];
  for (let t = Date.parse(`${report.from}T00:00:00Z`); t <= Date.parse(`${report.to}T00:00:00Z`); t += 86_400_000) {
    const day = new Date(t).toISOString().slice(0, 10);
    days.push(byDay.get(day) ?? { day, input_tokens: 0, output_tokens: 0, cost_usd: 0, tool_calls: 0 });
  }
  return days;
}

function Report({ quota, days, agents, models }) {
  const daily = everyDay(days);
  const today = daily[daily.length - 1];
  return (
    <>
      <p class="lead" data-testid="today">
        Today ({today.day}): <strong>{tokens(today.input_tokens + today.output_tokens)}</strong> tokens,{' '}
        <strong data-testid="today-cost">{cost(today.cost_usd)}</strong>. This period ({days.from} to {days.to}):{' '}
        {tokens(days.totals.input_tokens + days.totals.output_tokens)} tokens, {cost(days.totals.cost_usd)}.
      </p>
      <section aria-labelledby="daily-title">
        <h2 id="daily-title">Tokens and cost per day</h2>
        <DailyChart daily={daily} />
        <details>
          <summary>The same figures as a table</summary>
          <Table rows={daily} keyName="day" label="Day" />
        </details>
      </section>
      <div class="two">
        <section aria-labelledby="agents-title">
          <h2 id="agents-title">By agent</h2>
          <Table rows={agents.rows} keyName="agent" label="Agent" />
        </section>
        <section aria-labelledby="models-title">
          <h2 id="models-title">By model</h2>
          <Table rows={models.rows} keyName="model" label="Model" />
        </section>
      </div>
      <section aria-labelledby="quota-title">
        <h2 id="quota-title">Quota this period</h2>
        {quota.error ? <Message error={quota.error} /> : <Quota quota={quota} />}
      </section>
    </>
  );
}

function DailyChart({ daily }) {
  const canvas = useRef(null);
  useEffect(() => {
    const chart = new Chart(canvas.current, {
      data: {
        labels: daily.map((d) => d.day.slice(5)),
        datasets: [
          { type: 'bar', label: 'Input tokens', data: daily.map((d) => d.input_tokens), backgroundColor: COLORS.input, stack: 'tokens', yAxisID: 'tokens' },
          { type: 'bar', label: 'Output tokens', data: daily.map((d) => d.output_tokens), backgroundColor: COLORS.output, stack: 'tokens', yAxisID: 'tokens' },
          { type: 'line', label: 'Cost (USD)', data: daily.map((d) => d.cost_usd), borderColor: COLORS.cost, backgroundColor: COLORS.cost, yAxisID: 'cost' },
        ],
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        interaction: { mode: 'index', intersect: false },
        scales: {
          x: { stacked: true },
          tokens: { type: 'linear', position: 'left', stacked: true, beginAtZero: true, title: { display: true, text: 'tokens' } },
          cost: { type: 'linear', position: 'right', beginAtZero: true, grid: { drawOnChartArea: false }, title: { display: true, text: 'USD' } },
        },
      },
    });
    canvas.current.dataset.ready = 'true';
    return () => chart.destroy();
  }, [daily.length, daily[daily.length - 1]?.cost_usd]);
  const total = daily.reduce((sum, d) => sum + d.input_tokens + d.output_tokens, 0);
  return (
    <div class="chart">
      <canvas ref={canvas} role="img" aria-label={`Tokens and cost per day, ${daily[0].day} to ${daily[daily.length - 1].day}: ${tokens(total)} tokens in all. The table below has the figures.`} />
    </div>
  );
}

function Table({ rows, keyName, label }) {
  if (!rows.length) return <p class="muted">Nothing used yet this period.</p>;
  return (
    <div class="table-wrap">
      <table>
        <thead>
          <tr>
            <th scope="col">{label}</th>
            <th scope="col" class="num">Input tokens</th>
            <th scope="col" class="num">Output tokens</th>
            <th scope="col" class="num">Tool calls</th>
            <th scope="col" class="num">Cost</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr key={row[keyName]}>
              <th scope="row">{row[keyName]}</th>
              <td class="num">{tokens(row.input_tokens)}</td>
              <td class="num">{tokens(row.output_tokens)}</td>
              <td class="num">{tokens(row.tool_calls)}</td>
              <td class="num">{cost(row.cost_usd)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function Quota({ quota }) {
  const factor = quota.limits.hard_cap_factor;
  return (
    <div class="gauges">
      <p class="muted">
        Tier <strong>{quota.tier}</strong>, period {quota.period.label}. Alerts at 80 % and 100 % of a monthly quota; at {factor * 100} % running runs pause.
      </p>
      <Gauge label="Tokens" used={quota.used.tokens} limit={quota.limits.tokens_per_month} cap={factor} unit="tokens" />
      <Gauge label="Agent minutes" used={quota.used.agent_minutes} limit={quota.limits.agent_minutes_per_month} cap={factor} unit="minutes" />
      <Gauge label="Concurrent runs" used={quota.used.concurrent_runs} limit={quota.limits.concurrent_runs} cap={1} unit="runs" />
    </div>
  );
}

/** A bar from 0 to the hard cap (`cap` × the limit), with the 80 %, 100 % and cap marks. */
function Gauge({ label, used, limit, cap, unit }) {
  if (limit === null) {
    return (
      <div class="gauge">
        <div class="gauge-label">
          {label}: {tokens(used)} {unit} (unlimited)
        </div>
      </div>
    );
  }
  const top = limit * cap;
  const share = (value) => `${Math.min(100, (value / top) * 100)}%`;
  const percent = limit ? Math.round((used / limit) * 100) : 0;
  const level = percent >= 100 ? 'over' : percent >= 80 ? 'near' : 'ok';
  const marks = [0.8, 1, ...(cap > 1 ? [cap] : [])];
  return (
    <div class="gauge">
      <div class="gauge-label" id={`gauge-${unit}`}>
        {label}: {tokens(used)} of {tokens(limit)} {unit} ({percent} %)
      </div>
      <div class={`gauge-bar ${level}`} role="meter" aria-labelledby={`gauge-${unit}`} aria-valuemin={0} aria-valuemax={top} aria-valuenow={used}>
        <div class="gauge-fill" style={{ width: share(used) }} />
        {marks.map((m) => (
          <div key={m} class="gauge-mark" style={{ left: share(limit * m) }} title={`${m * 100} %`}>
            <span>{m * 100} %</span>
          </div>
        ))}
      </div>
    </div>
  );
}
