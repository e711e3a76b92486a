'use strict';
// The supervisor's desktop: the live wallboard (pushed over the WebSocket as it changes) and
// the supervisor actions on each agent.
const $ = id => document.getElementById(id);
const queues = new Map();   // name → {figures, callers}
const agents = new Map();   // code → row
const actions = ['listen', 'whisper', 'barge', 'stop-monitor', 'intercept', 'force-release', 'force-ready', 'force-not-ready', 'force-logout', 'record-start', 'record-stop'];

function apply(v) {
  if (v.full) { queues.clear(); if (!v.following) agents.clear(); }
  for (const q of v.queues) queues.set(q.name, q);
  for (const a of v.agents) agents.set(a.agent, a);
  for (const c of v.removed_agents || []) agents.delete(c);
  $('updated').textContent = `updated ${new Date().toLocaleTimeString()}`;
  render();
}

function tile(n, label, id) { return Hotline.el('div', { class: 'tile' }, Hotline.el('div', { class: 'n', id }, n), Hotline.el('div', { class: 'l' }, label)); }
const pct = x => `${Math.round(Number(x || 0) * 100)} %`;

function render() {
  const names = [...queues.keys()].sort();
  const box = $('queues');
  box.replaceChildren(...names.map(n => {
    const f = queues.get(n).figures;
    return Hotline.el('div', {}, Hotline.el('h3', {}, n),
      Hotline.el('div', { class: 'tiles' },
        tile(f.waiting || 0, 'waiting', `q-${n}-waiting`), tile(`${Math.round(f.longest_wait_seconds || 0)} s`, 'longest wait', `q-${n}-longest`),
        tile(f.day_offered || 0, 'offered today', `q-${n}-offered`), tile(f.day_answered || 0, 'answered today', `q-${n}-answered`),
        tile(f.day_abandoned || 0, 'abandoned today', `q-${n}-abandoned`), tile(pct(f.day_service_level), 'service level', `q-${n}-sl`),
        tile(`${Math.round(f.day_asa_seconds || 0)} s`, 'ASA', `q-${n}-asa`), tile(`${f.agents_ready || 0} / ${f.agents || 0}`, 'agents ready', `q-${n}-ready`)));
  }));
  Hotline.bars($('chart'), names, names.map(n => Number(queues.get(n).figures.day_answered || 0)), names.map(n => Number(queues.get(n).figures.day_abandoned || 0)));
  const callers = names.flatMap(n => queues.get(n).callers.map(c => ({ ...c, queue: n })));
  if (callers.length) Hotline.table($('callers'), ['queue', 'caller', 'waiting (s)', 'priority', 'server'], callers, c => [c.queue, c.caller, Math.round(c.wait_seconds), c.priority, c.server]);
  else $('callers').textContent = 'Nobody waiting.';
  const rows = [...agents.values()].sort((a, b) => a.agent.localeCompare(b.agent));
  if (!rows.length) { $('agents').textContent = 'No agent logged in.'; return; }
  Hotline.table($('agents'), ['agent', 'state', 'for (s)', 'reason', 'calls', 'server', ''], rows, a => {
    const sel = Hotline.el('select', { id: `act-${a.agent}` }, ...actions.map(x => Hotline.el('option', {}, x)));
    const go = Hotline.el('button', { onclick: () => supervise(sel.value, a.agent) }, 'Do');
    return [a.agent, Hotline.el('span', { class: `badge ${a.state}` }, a.state), a.since_seconds, a.reason || '', a.calls || 0, a.server, Hotline.el('span', {}, sel, go)];
  });
}

async function supervise(action, agent) {
  $('error').textContent = '';
  try {
    const r = await Hotline.post('/api/supervise', { action, agent, extension: $('sup-ext').value, reason: $('sup-reason').value });
    Hotline.note(`${action} ${agent}: ${r.text}`);
  } catch (e) { $('error').textContent = `${action} ${agent}: ${e.message}`; }
}

Hotline.start().then(s => {
  if (!s) return;
  Hotline.events(m => { if (m.type === 'board') apply(m); });
});
