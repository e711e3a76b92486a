'use strict';
let token = '';
fetch('/api/login-token', { credentials: 'same-origin' }).then(r => r.json()).then(j => { token = j.token; });
document.getElementById('login').addEventListener('submit', async e => {
  e.preventDefault();
  const err = document.getElementById('error');
  err.textContent = '';
  const data = Object.fromEntries(new FormData(e.target).entries());
  const r = await fetch('/api/login', {
    method: 'POST', credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': token }, body: JSON.stringify(data),
  });
  const body = await r.json().catch(() => ({}));
  if (r.ok) { location.href = body.home; return; }
  err.textContent = body.error || `refused (${r.status})`;
  const t = await fetch('/api/login-token', { credentials: 'same-origin' }).then(x => x.json());
  token = t.token;
});
