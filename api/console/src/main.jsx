// The console: who is signed in, the frame (skip link, navigation, sign-out) and which page
// a path shows. Pages fetch what they show from the /v1 API themselves.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';

import { allowed, del, get, onExpired, setSession } from './api.js';
import { Message } from './components.jsx';
import { BASE, Link, navigate, useLocation } from './router.jsx';
import { SignIn } from './pages/SignIn.jsx';
import { Runs } from './pages/Runs.jsx';
import { Run } from './pages/Run.jsx';
import { Usage } from './pages/Usage.jsx';
import { Agents } from './pages/Agents.jsx';
import { Keys } from './pages/Keys.jsx';
import { NotFound } from './pages/NotFound.jsx';
import './style.css';

/** The navigation: a page appears when the role may read what it lists. */
const SECTIONS = [
  { href: `${BASE}/`, label: 'Runs', route: ['GET', '/v1/runs'] },
  { href: `${BASE}/usage`, label: 'Usage', route: ['GET', '/v1/usage'] },
  { href: `${BASE}/agents`, label: 'Agents', route: ['GET', '/v1/agents'] },
  { href: `${BASE}/keys`, label: 'API keys', route: ['GET', '/v1/api-keys'] },
];

function route(path, session) {
  const rest = path.slice(BASE.length).replace(/\/+$/, '') || '/';
  const run = rest.match(/^\/runs\/([^/]+)$/);
  if (run) return <Run id={decodeURIComponent(run[1])} session={session} />;
  switch (rest) {
    case '/':
      return allowed('GET', '/v1/runs') ? <Runs session={session} /> : <Usage />;
    case '/usage':
      return <Usage />;
    case '/agents':
      return <Agents />;
    case '/keys':
      return <Keys />;
    default:
      return <NotFound />;
  }
}

function App() {
  const where = useLocation();
  // undefined: not known yet; null: signed out.
  const [session, setCurrent] = useState(undefined);
  const [notice, setNotice] = useState(null);

  const signedIn = (value) => {
    setSession(value);
    setCurrent(value);
  };

  useEffect(() => {
    onExpired(() => {
      setCurrent(null);
      setNotice('Your session has ended: sign in again.');
    });
    get('/console/session')
      .then(signedIn)
      .catch(() => signedIn(null));
  }, []);

  const onSignInPage = where.path === `${BASE}/signin`;
  useEffect(() => {
    if (session === null && !onSignInPage) {
      const next = encodeURIComponent(where.path + where.search);
      navigate(`${BASE}/signin?next=${next}`, { replace: true });
    }
  }, [session, onSignInPage]);

  if (session === undefined) return <p class="muted boot">Loading…</p>;
  if (session === null || onSignInPage) {
    return (
      <SignIn
        notice={notice}
        onSignedIn={(value) => {
          setNotice(null);
          signedIn(value);
          const next = new URLSearchParams(location.search).get('next');
          navigate(next && next.startsWith(`${BASE}/`) && !next.startsWith(`${BASE}/signin`) ? next : `${BASE}/`, {
            replace: true,
          });
        }}
      />
    );
  }

  const signOut = async () => {
    try {
      await del('/console/session');
    } catch {
      // Signed out either way: the token is revoked, or was already dead.
    }
    signedIn(null);
    setNotice('You have signed out.');
    navigate(`${BASE}/signin`, { replace: true });
  };

  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <div class="brand">
          <span class="logo" aria-hidden="true">
            ⟳
          </span>{' '}
          longrun <span class="muted">· {session.workspace.name}</span>
        </div>
        <nav aria-label="Sections">
          <ul>
            {SECTIONS.filter((s) => allowed(...s.route)).map((s) => {
              const current = s.href === `${BASE}/` ? where.path === s.href || where.path.startsWith(`${BASE}/runs`) : where.path.startsWith(s.href);
              return (
                <li key={s.href}>
                  <Link href={s.href} aria-current={current ? 'page' : undefined}>
                    {s.label}
                  </Link>
                </li>
              );
            })}
          </ul>
        </nav>
        <div class="who">
          <span class="muted">{session.role}</span>
          <button type="button" class="secondary" onClick={signOut}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main">
        <Message notice={notice} onDismiss={() => setNotice(null)} />
        {route(where.path, session)}
      </main>
    </>
  );
}

render(<App />, document.getElementById('app'));
