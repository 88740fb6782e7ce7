// The console's one client of the longrun API: same origin, the session cookie as the
// credential (the browser sends it; scripts cannot read it), and the session's CSRF token on
// every request that changes something. Errors keep the API's status, code and message, so
// pages show what the API said (a 403 of the role table, a 409 of a finished run, …).

let session = null;
let expired = () => {};

export function setSession(value) {
  session = value;
}

/** Called when a request of a signed-in page answers 401: the session ended. */
export function onExpired(handler) {
  expired = handler;
}

/** Whether the signed-in role may use `METHOD route` (the API's role table, as the session lists it). */
export function allowed(method, route) {
  return !!session && session.allowed.includes(`${method} ${route}`);
}

export class ApiError extends Error {
  constructor(status, code, message, retryAfter) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

/** The workspace's request budget, from the RateLimit-* headers of the latest answer. */
export const budget = { limit: null, remaining: null };

/** A random key: `crypto.randomUUID` exists only in secure contexts, this everywhere. */
export function randomKey() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export async function request(method, path, body, { idempotent = false } = {}) {
  const headers = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && session) headers['x-csrf-token'] = session.csrf_token;
  // A retried click never acts twice (the run routes honour Idempotency-Key).
  if (idempotent) headers['idempotency-key'] = randomKey();
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, 'network', 'The server cannot be reached: check the connection and retry.');
  }
  const limit = response.headers.get('ratelimit-limit');
  if (limit !== null) {
    budget.limit = Number(limit);
    budget.remaining = Number(response.headers.get('ratelimit-remaining'));
  }
  if (response.status === 204) return null;
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const error = new ApiError(
      response.status,
      data?.error?.code ?? `http_${response.status}`,
      data?.error?.message ?? `${response.status} ${response.statusText}`,
      Number(response.headers.get('retry-after')) || null,
    );
    if (response.status === 401 && session) {
      session = null;
      expired();
    }
    throw error;
  }
  return data;
}

export const get = (path) => request('GET', path);
export const post = (path, body, options) => request('POST', path, body, options);
export const put = (path, body) => request('PUT', path, body);
export const del = (path) => request('DELETE', path);

/** `path?query` from an object, leaving out empty values. */
export function withQuery(path, query) {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== '') params.set(name, value);
  }
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

/**
 * How long to wait between two polls of a list: a quarter of the workspace's request budget
 * at most (a free tier has 10 a minute), never more often than every 2 s.
 */
export function pollInterval() {
  if (!budget.limit) return 2000;
  const quarter = (60_000 * 4) / budget.limit;
  const scarce = budget.remaining !== null && budget.remaining < budget.limit / 4;
  return Math.min(60_000, Math.max(2000, scarce ? quarter * 2 : quarter));
}
