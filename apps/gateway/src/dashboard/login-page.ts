/**
 * The queue dashboard's login form: one self-contained page (no assets to fetch before logging
 * in). It POSTs the key as JSON, so the endpoint stays behind the gateway's JSON-only rule and a
 * cross-site form cannot log a browser in with someone else's key.
 */
const STYLE = `body{font:16px/1.5 system-ui,sans-serif;margin:0;display:grid;place-items:center;min-height:100vh;background:#f4f5f7;color:#1d2330}
form{background:#fff;padding:2rem;border-radius:8px;box-shadow:0 1px 4px #0002;width:min(22rem,90vw)}
h1{font-size:1.25rem;margin:0 0 1rem}label{display:block;margin-bottom:.25rem}
input{width:100%;box-sizing:border-box;padding:.5rem;font:inherit;border:1px solid #8a93a6;border-radius:4px}
button{margin-top:1rem;padding:.5rem 1rem;font:inherit;border:0;border-radius:4px;background:#2457c5;color:#fff;cursor:pointer}
[role=alert]{color:#a4161a;min-height:1.5em;margin:.75rem 0 0}`;

const SCRIPT = `document.getElementById('login').addEventListener('submit', async (e) => {
  e.preventDefault();
  const out = document.getElementById('error');
  out.textContent = '';
  try {
    const res = await fetch('/admin/queues/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key: document.getElementById('key').value }) });
    if (res.ok) { location.reload(); return; }
    const body = await res.json().catch(() => null);
    out.textContent = (body && body.error && body.error.message) || 'Login failed (HTTP ' + res.status + ').';
  } catch (err) { out.textContent = 'The gateway could not be reached: ' + err.message; }
});`;

export function loginPage(rejected: boolean): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Switchyard queues: log in</title><style>${STYLE}</style></head>
<body><form id="login"><h1>Switchyard queue dashboard</h1>
<label for="key">Admin key</label><input id="key" name="key" type="password" autocomplete="current-password" required autofocus>
<button type="submit">Log in</button>
<p id="error" role="alert">${rejected ? 'Your saved key no longer opens the dashboard: log in again.' : ''}</p></form>
<script>${SCRIPT}</script></body></html>`;
}
