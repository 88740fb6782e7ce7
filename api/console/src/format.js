// How figures read in the console.

const integer = new Intl.NumberFormat('en', { maximumFractionDigits: 0 });

export function tokens(n) {
  return integer.format(n ?? 0);
}

export function cost(usd) {
  const value = usd ?? 0;
  const digits = value !== 0 && Math.abs(value) < 1 ? 4 : 2;
  return `$${value.toFixed(digits)}`;
}

/** "12 s", "5 min", "3 h", "2 d" since `iso`. */
export function age(iso, now = Date.now()) {
  if (!iso) return '';
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)} h`;
  return `${Math.floor(seconds / 86_400)} d`;
}

export function time(iso) {
  return iso ? new Date(iso).toLocaleString() : '—';
}

export function duration(ms) {
  if (!ms) return '0 s';
  return ms < 60_000 ? `${(ms / 1000).toFixed(1)} s` : `${(ms / 60_000).toFixed(1)} min`;
}

export function json(value) {
  return JSON.stringify(value, null, 2);
}

/** The status as people read it: `waiting_approval` → "waiting approval". */
export function statusLabel(status) {
  return (status ?? '').replaceAll('_', ' ');
}
