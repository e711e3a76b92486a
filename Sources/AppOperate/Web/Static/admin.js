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
$('f-graph').addEventListener('click', async () => { const r = await flow('show', { format: 'dot' }); if (r) $('f-output').textContent = r.text; });
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
