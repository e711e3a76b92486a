'use strict';
// The agent desktop: state, the pop with the customer, call control, the queue, today's calls.
const $ = id => document.getElementById(id);
let call = null;        // the pop of the call offered or connected
let held = false;
let stateSince = Date.now();

function setState(s) {
  if (!s) return;
  const b = $('state');
  if (b.textContent !== s) stateSince = Date.now();
  b.textContent = s; b.className = `badge ${s}`;
  const onCall = ['talking', 'held'].includes(s);
  const offered = ['reserved', 'ringing'].includes(s);
  $('answer').disabled = !offered; $('reject').disabled = !offered;
  for (const id of ['hangup', 'hold', 'transfer', 'consult', 'complete', 'cancel', 'conference', 'return', 'record-pause', 'record-resume']) $(id).disabled = !onCall;
  if (!onCall && !offered && s !== 'wrap-up') showCall(null);
}

function showCall(pop) {
  call = pop;
  $('no-call').hidden = !!pop;
  $('pop-caller').textContent = pop ? pop.caller : '';
  $('pop-customer').textContent = pop ? (pop['customer.name'] || '') : '';
  const vars = pop ? Object.entries(pop).filter(([k]) => !['caller', 'call'].includes(k)).sort() : [];
  Hotline.table($('pop-vars'), ['', ''], vars);
  if (pop) loadCustomer(pop.caller);
}

async function loadCustomer(phone) {
  try {
    const r = await Hotline.get(`/api/customer?phone=${encodeURIComponent(phone)}`);
    const c = r.customers[0];
    $('cust-id').value = c ? c.id : '';
    $('cust-name').value = c ? c.name : '';
    $('cust-account').value = c ? c.account : '';
    $('cust-phones').value = c ? c.phones.join(', ') : phone;
    $('cust-notes').value = c ? (c.fields.notes || '') : '';
    $('cust-status').textContent = c ? `customer ${c.id}` : 'new customer';
    if (c && !$('pop-customer').textContent) $('pop-customer').textContent = c.name;
  } catch (e) { $('cust-status').textContent = e.message; }
}

async function act(action, args = {}) {
  $('error').textContent = '';
  try {
    const r = await Hotline.post('/api/agent', { action, args });
    setState(r.state);
    if (r.text && !['status', 'queue', 'calls-today'].includes(action)) Hotline.note(`${action}: ${r.text}`);
    return r;
  } catch (e) {
    $('error').textContent = `${action}: ${e.message}`;
    Hotline.note(`${action}: ${e.message}`);
    return null;
  }
}

async function refresh() {
  const st = await act('status');
  if (st) {
    const f = st.fields;
    $('stats').textContent = `calls ${f.calls || 0} · extension ${f.extension || '—'} · mode ${f.mode || '—'}` + (f.reason ? ` · ${f.reason}` : '');
    $('unlock').hidden = f.locked !== 'yes';
  }
  const q = await Hotline.post('/api/agent', { action: 'queue', args: {} }).catch(() => null);
  if (q) {
    if (q.rows.length === 0) $('queue').textContent = 'Nobody waiting.';
    else Hotline.table($('queue'), ['caller', 'queue', 'waiting (s)'], q.rows, r => [r.caller, r.queue, r.waited_seconds]);
  }
}

async function history() {
  const h = await Hotline.post('/api/agent', { action: 'calls-today', args: {} }).catch(e => ({ rows: [], text: e.message }));
  if (!h.rows.length) { $('history').textContent = h.text || 'No calls yet today.'; return; }
  Hotline.table($('history'), ['time', 'direction', 'caller', 'called', 'queue', 'outcome', 'talk (s)'], h.rows,
    r => [new Date(Number(r.arrived) * 1000).toLocaleTimeString(), r.direction, r.caller, r.called, r.queue, r.disposition, r.talk_seconds]);
}

$('ready').addEventListener('click', () => act('ready', $('unlock').hidden ? {} : { password: $('unlock').value }));
$('not-ready').addEventListener('click', () => act('not-ready', { reason: $('reason').value, lock: $('lock').value }));
$('answer').addEventListener('click', () => act('answer'));
$('reject').addEventListener('click', () => act('reject'));
$('hangup').addEventListener('click', () => act('hangup'));
$('hold').addEventListener('click', async () => { if (await act(held ? 'retrieve' : 'hold')) { held = !held; $('hold').textContent = held ? 'Retrieve' : 'Hold'; } });
$('transfer').addEventListener('click', () => act('transfer', { to: $('transfer-to').value }));
$('consult').addEventListener('click', () => act('consult', { to: $('transfer-to').value }));
$('complete').addEventListener('click', () => act('complete'));
$('cancel').addEventListener('click', () => act('cancel'));
$('conference').addEventListener('click', () => act('conference'));
$('return').addEventListener('click', () => act('return'));
$('record-pause').addEventListener('click', () => act('record', { do: 'pause' }));
$('record-resume').addEventListener('click', () => act('record', { do: 'resume' }));
$('customer').addEventListener('submit', async e => {
  e.preventDefault();
  try {
    const r = await Hotline.post('/api/customer', {
      id: $('cust-id').value || '0', name: $('cust-name').value, account: $('cust-account').value,
      phones: $('cust-phones').value.split(',').map(x => x.trim()).filter(Boolean), fields: { notes: $('cust-notes').value },
    });
    const c = r.customers[0];
    if (c) { $('cust-id').value = c.id; $('cust-status').textContent = `saved (customer ${c.id})`; }
  } catch (err) { $('cust-status').textContent = err.message; }
});

Hotline.start().then(s => {
  if (!s) return;
  setState(s.state);
  Hotline.events(m => {
    if (m.type === 'hello') { setState(m.state); return; }
    if (m.type !== 'agent') return;
    setState(m.state);
    Hotline.note(`${m.kind} ${m.fields.caller || ''} ${m.fields.reason || m.fields.text || ''}`.trim());
    if (m.kind === 'offered') { held = false; $('hold').textContent = 'Hold'; showCall(m.fields); }
    if (m.kind === 'ended' || m.kind === 'transferred') { history(); }
    refresh();
  });
  refresh(); history();
  setInterval(refresh, 3000);
  setInterval(history, 5000);
  setInterval(() => { $('since').textContent = `${Math.round((Date.now() - stateSince) / 1000)} s`; }, 1000);
});
