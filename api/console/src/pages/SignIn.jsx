// Sign-in: an email and password checked as `POST /v1/auth/login` checks them; the session
// lives in an HttpOnly cookie the page never sees.
import { useEffect, useRef, useState } from 'preact/hooks';

import { post } from '../api.js';
import { Message } from '../components.jsx';

export function SignIn({ notice, onSignedIn }) {
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const email = useRef(null);

  useEffect(() => {
    document.title = 'Sign in · longrun console';
    email.current?.focus();
  }, []);

  const submit = async (event) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const body = { email: form.get('email'), password: form.get('password') };
    if (form.get('workspace')) body.workspace = form.get('workspace');
    setBusy(true);
    setError(null);
    try {
      onSignedIn(await post('/console/session', body));
    } catch (e) {
      if (e.status === 401) e.message = 'Wrong email or password.';
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <main id="main" class="signin">
      <h1>
        <span class="logo" aria-hidden="true">
          ⟳
        </span>{' '}
        longrun console
      </h1>
      <Message notice={notice} />
      <Message error={error} />
      <form onSubmit={submit} class="card">
        <label for="email">Email</label>
        <input id="email" name="email" type="email" autocomplete="username" required ref={email} />
        <label for="password">Password</label>
        <input id="password" name="password" type="password" autocomplete="current-password" required />
        <label for="workspace">
          Workspace <span class="muted">(optional: when your email has accounts in several)</span>
        </label>
        <input id="workspace" name="workspace" autocomplete="organization" pattern="[a-z0-9][a-z0-9_\-]{0,63}" />
        <button type="submit" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
