// Shared by every page: the session (with its CSRF token), JSON calls, the event WebSocket,
// and small DOM helpers. No framework, no build step.
'use strict';
const Hotline = {
  session: null,
  async start() {
    const r = await fetch('/api/session', { credentials: 'same-origin' });
    if (r.status === 401) { location.href = '/login'; return null; }
    this.session = await r.json();
    const who = document.getElementById('who');
    if (who) who.textContent = `${this.session.name} (${this.session.code}) · ${this.session.roles.join(', ')}`;
    const out = document.getElementById('logout');
    if (out) out.addEventListener('click', async () => {
      await this.post('/api/logout', {}).catch(() => {});
      location.href = '/login';
    });
    for (const a of document.querySelectorAll('[data-role]')) {
      if (!a.dataset.role.split(',').some(x => this.session.roles.includes(x))) a.hidden = true;
    }
    return this.session;
  },
  async get(url) {
    const r = await fetch(url, { credentials: 'same-origin' });
    const body = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(body.error || `${r.status}`);
    return body;
  },
  async post(url, data) {
    const r = await fetch(url, {
      method: 'POST', credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': this.session ? this.session.csrf : '' },
      body: JSON.stringify(data),
    });
    const body = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(body.error || `${r.status}`);
    return body;
  },
  // The event stream: reconnects after a drop; `ended` (logout, link lost) returns to the login.
  events(onMessage) {
    const open = () => {
      const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`);
      ws.onmessage = e => {
        const m = JSON.parse(e.data);
        if (m.type === 'ended') { alert(`Session ended: ${m.reason}`); location.href = '/login'; return; }
        onMessage(m);
      };
      ws.onclose = () => setTimeout(open, 2000);
      this.ws = ws;
    };
    open();
  },
  el(tag, attrs = {}, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === 'class') e.className = v; else if (k.startsWith('on')) e.addEventListener(k.slice(2), v); else e.setAttribute(k, v);
    }
    for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(c == null ? '' : String(c)));
    return e;
  },
  table(target, columns, rows, render) {
    const t = this.el('table', {}, this.el('thead', {}, this.el('tr', {}, ...columns.map(c => this.el('th', {}, c)))));
    const body = this.el('tbody');
    for (const r of rows) body.append(this.el('tr', {}, ...(render ? render(r) : r).map(c => c instanceof Node ? this.el('td', {}, c) : this.el('td', {}, c))));
    t.append(body);
    target.replaceChildren(t);
  },
  note(text) {
    const log = document.getElementById('log');
    if (!log) return;
    log.textContent = `${new Date().toLocaleTimeString()}  ${text}\n` + log.textContent.slice(0, 4000);
  },
  // A bar chart as SVG: values by label, a second series drawn over in red (abandons).
  bars(target, labels, values, bad = []) {
    const w = 600, h = 160, max = Math.max(1, ...values), bw = w / Math.max(1, labels.length);
    const ns = 'http://www.w3.org/2000/svg';
    const svg = document.createElementNS(ns, 'svg');
    svg.setAttribute('viewBox', `0 0 ${w} ${h + 16}`); svg.setAttribute('width', '100%');
    labels.forEach((l, i) => {
      const add = (v, cls) => {
        const r = document.createElementNS(ns, 'rect');
        const bh = (v / max) * h;
        r.setAttribute('x', i * bw + 2); r.setAttribute('y', h - bh); r.setAttribute('width', Math.max(1, bw - 4)); r.setAttribute('height', bh);
        r.setAttribute('class', cls); svg.append(r);
      };
      add(values[i] || 0, 'bar');
      if (bad[i]) add(bad[i], 'bar bad');
      const t = document.createElementNS(ns, 'text');
      t.setAttribute('x', i * bw + bw / 2); t.setAttribute('y', h + 12); t.setAttribute('text-anchor', 'middle'); t.textContent = l;
      svg.append(t);
    });
    target.replaceChildren(svg);
  },
};
