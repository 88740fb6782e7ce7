// Agents: list, create, edit, delete. The form writes the API's agent document; the API
// checks it and names the field at fault, which the form shows.
import { useState } from 'preact/hooks';

import { del, post, put } from '../api.js';
import { ItemTable, Message, Page, attempt, useList } from '../components.jsx';
import { time } from '../format.js';

const LIMITS = [
  ['max_steps', 'Most model calls'],
  ['max_tokens', 'Most tokens'],
  ['max_cost_usd', 'Most cost (USD)'],
  ['max_duration_s', 'Longest run (s)'],
];

export function Agents() {
  const { items: agents, error, setError, reload: load } = useList('/v1/agents', 'agents');
  const [editing, setEditing] = useState(null);
  const [notice, setNotice] = useState(null);

  const saved = (message) => {
    setEditing(null);
    setNotice(message);
    load();
  };

  const remove = (agent) =>
    attempt(setError, async () => {
      await del(`/v1/agents/${encodeURIComponent(agent.name)}`);
      saved(`Deleted agent ${agent.name}.`);
    });

  return (
    <Page
      title="Agents"
      actions={
        agents &&
        !editing && (
          <button type="button" onClick={() => setEditing({})}>
            New agent
          </button>
        )
      }
    >
      <Message error={error} onDismiss={agents ? () => setError(null) : undefined} />
      <Message notice={notice} onDismiss={() => setNotice(null)} />
      {editing && <AgentForm key={editing.name ?? 'new'} agent={editing} onSaved={saved} onCancel={() => setEditing(null)} />}
      {agents && agents.length === 0 && <p class="muted">No agents yet.</p>}
      {agents && agents.length > 0 && (
        <ItemTable caption="Agents" columns={['Name', 'Model', 'Tools', 'Updated']}>
          {agents.map((agent) => (
            <tr key={agent.name}>
              <th scope="row">{agent.name}</th>
              <td class="mono">{agent.model}</td>
              <td>{agent.tools.map((t) => t.name + (t.requires_approval ? ' (approval)' : '')).join(', ') || '—'}</td>
              <td>{time(agent.updated_at)}</td>
              <td class="actions">
                <button type="button" class="secondary" onClick={() => setEditing(agent)} aria-label={`Edit agent ${agent.name}`}>
                  Edit
                </button>{' '}
                <button type="button" class="secondary" onClick={() => remove(agent)} aria-label={`Delete agent ${agent.name}`}>
                  Delete
                </button>
              </td>
            </tr>
          ))}
        </ItemTable>
      )}
    </Page>
  );
}

/** The tools of an agent as a request writes them (webhook secrets are never read back). */
function toolItems(tools = []) {
  return tools.map((tool) => {
    if (tool.type === 'webhook') {
      const { has_secret: _, ...rest } = tool;
      return rest;
    }
    return tool.requires_approval ? { name: tool.name, requires_approval: true } : tool.name;
  });
}

function AgentForm({ agent, onSaved, onCancel }) {
  const existing = !!agent.name;
  const [error, setError] = useState(null);
  const [toolsError, setToolsError] = useState(null);

  const submit = async (event) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    let tools;
    try {
      tools = JSON.parse(form.get('tools') || '[]');
      setToolsError(null);
    } catch (e) {
      setToolsError(`Not JSON: ${e.message}`);
      return;
    }
    const limits = {};
    for (const [name] of LIMITS) {
      const value = form.get(name);
      if (value !== '') limits[name] = Number(value);
    }
    const body = {
      name: existing ? agent.name : form.get('name'),
      model: form.get('model'),
      system_prompt: form.get('system_prompt'),
      tools,
      limits,
      await_input: form.get('await_input') === 'on',
    };
    if (form.get('max_output_tokens')) body.max_output_tokens = Number(form.get('max_output_tokens'));
    await attempt(setError, async () => {
      if (existing) await put(`/v1/agents/${encodeURIComponent(agent.name)}`, body);
      else await post('/v1/agents', body);
      onSaved(existing ? `Saved agent ${body.name}.` : `Created agent ${body.name}.`);
    });
  };

  return (
    <form class="card agent-form" onSubmit={submit} aria-label={existing ? `Edit agent ${agent.name}` : 'New agent'}>
      <h2>{existing ? `Edit ${agent.name}` : 'New agent'}</h2>
      <Message error={error} />
      <label for="agent-name">Name</label>
      <input id="agent-name" name="name" defaultValue={agent.name ?? ''} disabled={existing} required pattern="[a-z0-9][a-z0-9_\-]{0,63}" />
      <label for="agent-model">Model</label>
      <input id="agent-model" name="model" defaultValue={agent.model ?? 'offline/demo'} required maxLength={128} class="mono" />
      <label for="agent-prompt">System prompt</label>
      <textarea id="agent-prompt" name="system_prompt" rows={4} defaultValue={agent.system_prompt ?? ''} />
      <label for="agent-tools">Tools (JSON: names of built-in tools, or objects)</label>
      <textarea
        id="agent-tools"
        name="tools"
        rows={3}
        class="mono"
        defaultValue={JSON.stringify(toolItems(agent.tools))}
        aria-invalid={toolsError ? 'true' : undefined}
        aria-describedby={toolsError ? 'agent-tools-error' : undefined}
      />
      {toolsError && (
        <p id="agent-tools-error" class="field-error">
          {toolsError}
        </p>
      )}
      <fieldset>
        <legend>Limits of each run (empty: none)</legend>
        <div class="grid">
          {LIMITS.map(([name, label]) => (
            <div key={name}>
              <label for={`agent-${name}`}>{label}</label>
              <input id={`agent-${name}`} name={name} type="number" min="0" step="any" defaultValue={agent.limits?.[name] ?? ''} />
            </div>
          ))}
          <div>
            <label for="agent-max-output">Output tokens per call</label>
            <input id="agent-max-output" name="max_output_tokens" type="number" min="1" defaultValue={agent.max_output_tokens ?? ''} />
          </div>
        </div>
      </fieldset>
      <label class="check">
        <input type="checkbox" name="await_input" defaultChecked={agent.await_input ?? false} /> Wait for a person's answer when the model asks a question
      </label>
      <div class="buttons">
        <button type="submit">{existing ? 'Save' : 'Create agent'}</button>
        <button type="button" class="secondary" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
