// API keys: list, create (the secret is shown this once), revoke. The API's role table
// decides who may: anyone else sees its 403 as a message.
import { useState } from 'preact/hooks';

import { del, post } from '../api.js';
import { ItemTable, Message, Page, attempt, useList } from '../components.jsx';
import { time } from '../format.js';

export function Keys() {
  const { items: keys, error, setError, reload: load } = useList('/v1/api-keys', 'api_keys');
  const [created, setCreated] = useState(null);
  const [confirming, setConfirming] = useState(null);

  const create = (event) => {
    event.preventDefault();
    const formElement = event.currentTarget;
    const form = new FormData(formElement);
    return attempt(setError, async () => {
      const key = await post('/v1/api-keys', { name: form.get('name'), role: form.get('role') });
      setCreated(key);
      formElement.reset();
      load();
    });
  };

  const revoke = (key) =>
    attempt(setError, async () => {
      await del(`/v1/api-keys/${encodeURIComponent(key.id)}`);
      setConfirming(null);
      if (created?.id === key.id) setCreated(null);
      load();
    });

  return (
    <Page title="API keys">
      <Message error={error} onDismiss={keys ? () => setError(null) : undefined} />
      {created && (
        <div class="card secret" role="status">
          <p>
            Key <strong>{created.name}</strong> ({created.role}) is ready. Copy it now: it is not shown again.
          </p>
          <label for="new-secret">Secret</label>
          <input id="new-secret" class="mono" readOnly value={created.secret} onFocus={(e) => e.currentTarget.select()} />
        </div>
      )}
      {keys && (
        <>
          <form class="card inline" onSubmit={create} aria-label="Create an API key">
            <div>
              <label for="key-name">Name</label>
              <input id="key-name" name="name" required maxLength={100} />
            </div>
            <div>
              <label for="key-role">Role</label>
              <select id="key-role" name="role">
                <option value="member">member</option>
                <option value="admin">admin</option>
                <option value="billing">billing</option>
              </select>
            </div>
            <button type="submit">Create key</button>
          </form>
          <ItemTable caption="Live API keys" columns={['Name', 'Role', 'Prefix', 'Created', 'Last used']}>
            {keys.map((key) => (
              <tr key={key.id} data-key={key.name}>
                <th scope="row">{key.name}</th>
                <td>{key.role}</td>
                <td class="mono">{key.prefix}…</td>
                <td>{time(key.created_at)}</td>
                <td>{time(key.last_used_at)}</td>
                <td class="actions">
                  {confirming === key.id ? (
                    <>
                      <button type="button" class="danger" onClick={() => revoke(key)}>
                        Revoke {key.name} now
                      </button>{' '}
                      <button type="button" class="secondary" onClick={() => setConfirming(null)}>
                        Keep
                      </button>
                    </>
                  ) : (
                    <button type="button" class="secondary" onClick={() => setConfirming(key.id)} aria-label={`Revoke key ${key.name}`}>
                      Revoke
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </ItemTable>
        </>
      )}
    </Page>
  );
}
