'use strict';
// Administration: operators, queues, flows, reports. Every request is checked for the admin
// role by the Flow-Server; this page only shows what it answers.
const $ = id => document.getElementById(id);

async function admin(action, args = {}, password = '') {
  $('error').textContent = '';
  try {
    const r = await Hotline.post('/api/admin', { action, arguments: args, password });
    if (!r.columns.length) Hotline.note(`${action}: ${r.summary}`);
    return r;
  } catch (e) { $('error').textContent = `${action}: ${e.message}`; Hotline.note(`${action}: ${e.message}`); return null; }
}

async function operators() {
  const r = await admin('operator-list');
  if (!r) return;
  Hotline.table($('operators'), r.columns, r.rows, row => row.map((v, i) => i === 0 ? Hotline.el('a', { href: '#', onclick: e => { e.preventDefault(); pick(row); } }, v) : v));
}

function pick(row) {
  const [code, name, roles, skills, queues, ext, external] = row;
  $('op-code').value = code; $('op-name').value = name; $('op-roles').value = roles; $('op-skills').value = skills;
  $('op-queues').value = queues; $('op-extension').value = ext; $('op-external').value = external;
}

function fields() {
  return { work_code: $('op-code').value, name: $('op-name').value, roles: $('op-roles').value, skills: $('op-skills').value,
           queues: $('op-queues').value, extension: $('op-extension').value, external: $('op-external').value };
}

$('op-add').addEventListener('click', async () => { if (await admin('operator-add', fields(), $('op-password').value)) { $('op-password').value = ''; operators(); } });
$('op-edit').addEventListener('click', async () => { if (await admin('operator-edit', fields())) operators(); });
$('op-passwd').addEventListener('click', async () => { if (await admin('operator-passwd', { work_code: $('op-code').value }, $('op-password').value)) $('op-password').value = ''; });
$('op-disable').addEventListener('click', async () => { if (await admin('operator-disable', { work_code: $('op-code').value })) operators(); });
$('op-enable').addEventListener('click', async () => { if (await admin('operator-enable', { work_code: $('op-code').value })) operators(); });

async function queuesShow() {
  const r = await admin('queue-show');
  if (!r) return;
  $('queues-summary').textContent = r.summary;
  Hotline.table($('queues'), r.columns, r.rows);
}
$('q-set').addEventListener('click', async () => {
  const args = { [$('q-key').value]: $('q-value').value };
  if ($('q-name').value && $('q-name').value !== '-') args.queue = $('q-name').value;
  if ($('q-create').checked) args.create = 'yes';
  if (await admin('queue-set', args)) queuesShow();
});

async function flow(action, extra = {}) {
  $('error').textContent = '';
  try {
    const r = await Hotline.post('/api/flow', { action, name: $('f-name').value, ...extra });
    return r;
  } catch (e) { $('error').textContent = `${action}: ${e.message}`; return null; }
}
async function flowsList() { const r = await flow('list'); if (r) $('flows').textContent = r.text; }
$('f-show').addEventListener('click', async () => { const r = await flow('show'); if (r) { $('f-source').value = r.text; } });
$('f-graph').addEventListener('click', async () => { const r = await flow('show', { format: 'dot' }); if (r) drawGraph($('f-output'), r.text); });

// The flow's graph from the Flow-Server's Graphviz text: nodes in columns by their distance
// from the start, edges with their branch labels (no layout library).
function drawGraph(target, dot) {
  const str = '"((?:[^"\\\\]|\\\\.)*)"';
  const nodes = new Map();
  for (const m of dot.matchAll(new RegExp(str + '\\s*\\[label=' + str + '([^\\]]*)\\]', 'g'))) {
    const [id, kind] = m[2].split('\n');
    nodes.set(m[1], { id, kind: kind || '', end: m[3].includes('doubleoctagon') });
  }
  const edges = [...dot.matchAll(new RegExp('(start|' + str + ')\\s*->\\s*' + str + '(?:\\s*\\[label=' + str + '\\])?', 'g'))]
    .map(m => ({ from: m[2] || 'start', to: m[3], label: m[4] || '' }));
  const layer = new Map([['start', 0]]);
  const queue = ['start'];
  while (queue.length) {
    const n = queue.shift();
    for (const e of edges.filter(e => e.from === n && !layer.has(e.to))) { layer.set(e.to, layer.get(n) + 1); queue.push(e.to); }
  }
  for (const id of nodes.keys()) if (!layer.has(id)) layer.set(id, 1);
  const rows = new Map();
  const pos = new Map();
  for (const [id, l] of [...layer.entries()]) {
    const r = rows.get(l) || 0; rows.set(l, r + 1);
    pos.set(id, { x: 20 + l * 190, y: 20 + r * 80 });
  }
  const w = 60 + Math.max(...[...layer.values()]) * 190 + 150, h = 60 + Math.max(...rows.values()) * 80;
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', `0 0 ${w} ${h}`); svg.setAttribute('width', w); svg.setAttribute('height', h);
  const add = (tag, attrs, text) => { const e = document.createElementNS(ns, tag); for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v); if (text) e.textContent = text; svg.append(e); return e; };
  for (const e of edges) {
    const a = pos.get(e.from), b = pos.get(e.to);
    if (!a || !b) continue;
    const x1 = a.x + (e.from === 'start' ? 14 : 140), y1 = a.y + 20, x2 = b.x, y2 = b.y + 20;
    add('line', { x1, y1, x2, y2, stroke: '#5d6b7a', 'stroke-width': 1.2 });
    add('circle', { cx: x2, cy: y2, r: 3, fill: '#5d6b7a' });
    if (e.label) add('text', { x: (x1 + x2) / 2, y: (y1 + y2) / 2 - 4, 'text-anchor': 'middle' }, e.label);
  }
  for (const [key, p] of pos) {
    if (key === 'start') { add('circle', { cx: p.x + 7, cy: p.y + 20, r: 7, fill: '#1769aa' }); continue; }
    const n = nodes.get(key) || { id: key, kind: '' };
    add('rect', { x: p.x, y: p.y, width: 140, height: 40, rx: 5, fill: n.end ? '#fbe9e7' : '#fff', stroke: '#1769aa' });
    add('text', { x: p.x + 70, y: p.y + 17, 'text-anchor': 'middle', style: 'font-size:12px;fill:#1d2733' }, n.id);
    add('text', { x: p.x + 70, y: p.y + 31, 'text-anchor': 'middle' }, n.kind);
  }
  target.replaceChildren(svg);
}
$('f-validate').addEventListener('click', async () => { const r = await flow('validate', { source: $('f-source').value }); if (r) $('f-output').textContent = r.text; });
$('f-publish').addEventListener('click', async () => { const r = await flow('publish', { source: $('f-source').value }); if (r) { $('f-output').textContent = r.text; flowsList(); } });
$('f-rollback').addEventListener('click', async () => { const r = await flow('rollback', { version: $('f-version').value }); if (r) { $('f-output').textContent = r.text; flowsList(); } });

async function report() {
  try {
    const r = await Hotline.get(`/api/report?by=${$('r-by').value}&interval=hour`);
    const hours = [...new Set(r.rows.map(x => x.start_ms))].sort();
    const label = ms => new Date(ms).getHours() + 'h';
    Hotline.bars($('r-chart'), hours.map(label), hours.map(h => r.rows.filter(x => x.start_ms === h).reduce((s, x) => s + x.answered, 0)),
                 hours.map(h => r.rows.filter(x => x.start_ms === h).reduce((s, x) => s + x.abandoned, 0)));
    Hotline.table($('r-table'), ['hour', 'key', 'offered', 'answered', 'abandoned', 'service level', 'ASA (s)', 'AHT (s)'], r.rows,
      x => [label(x.start_ms), x.key, x.offered, x.answered, x.abandoned, `${Math.round(x.service_level * 100)} %`, x.asa_seconds.toFixed(1), x.aht_seconds.toFixed(1)]);
  } catch (e) { $('error').textContent = `report: ${e.message}`; }
}
$('r-load').addEventListener('click', report);

Hotline.start().then(s => { if (!s) return; operators(); queuesShow(); flowsList(); report(); });
