// Booking a petitioner into a session at a hall. Before saving, the page asks the server's
// booking checks (同人同事 by ID number and by similar text, pending at a lower level, past
// re-review) and shows them; the operator records the guidance given, which is saved with the
// booking. The checks inform: the booking goes through whatever they find.

import { api } from './api.js';
import { t, onLangChange } from './i18n.js';
import { $, el, cell, fail, ok, start, directory, sessionLabel, today, addDays, query, shDate } from './staff.js';

let dir = null;
let sessions = [];
let lastChecks = null;

const num = (id) => ($(id).value.trim() === '' ? 0 : Number($(id).value));

function fillHalls() {
  const s = sessions.find((x) => String(x.id) === $('b-session').value);
  const sel = $('b-hall');
  const keep = sel.value || String(query('hall') || '');
  sel.replaceChildren();
  if (!s) return;
  // The caller books into halls of their own subtree: the directory holds exactly those.
  for (const id of [s.studio_id, ...s.hall_ids].filter(Boolean)) {
    const h = dir.hall.get(id);
    if (h) sel.append(el('option', { value: String(id) }, h.name));
  }
  if ([...sel.options].some((o) => o.value === keep)) sel.value = keep;
}

async function loadSessions() {
  const from = today();
  const res = await api('GET', `/api/v1/sessions?from=${from}&to=${addDays(from, 60)}`);
  sessions = res.sessions;
  const sel = $('b-session');
  sel.replaceChildren();
  for (const s of sessions) sel.append(el('option', { value: String(s.id) }, sessionLabel(s)));
  if (query('session') && sessions.some((s) => s.id === query('session'))) sel.value = String(query('session'));
  fillHalls();
}

function rowsOf(tbody, table, items, fill) {
  tbody.replaceChildren();
  for (const x of items) {
    const tr = el('tr');
    fill(tr, x);
    tbody.append(tr);
  }
  table.hidden = items.length === 0;
}

// showChecks draws what the server found.
function showChecks(c) {
  lastChecks = c;
  const box = $('checks');
  box.hidden = false;
  const found = c.notes.length > 0;
  box.classList.toggle('none', !found);
  $('chk-none').hidden = found;
  const notes = $('chk-notes');
  notes.replaceChildren();
  for (const n of c.notes) notes.append(el('li', { class: 'note', 'data-code': n.code }, n.message));
  rowsOf($('chk-cases'), $('chk-cases-table'), c.cases, (tr, x) => {
    cell(tr, x.number);
    cell(tr, x.title || '—');
    cell(tr, x.holding_unit);
    const st = cell(tr, t('case.status.' + x.status));
    if (x.pending_lower) st.append(' ', el('span', { class: 'flag' }, t('chk.flag.pending')));
    if (x.past_rereview) st.append(' ', el('span', { class: 'flag' }, t('chk.flag.rereview')));
  });
  rowsOf($('chk-same'), $('chk-same-table'), c.same_person, (tr, a) => {
    cell(tr, `#${a.id} · ${shDate(a.created_at)} · ${a.name}`);
    cell(tr, a.matter);
    cell(tr, t('status.' + a.status));
  });
  rowsOf($('chk-similar'), $('chk-similar-table'), c.similar, (tr, m) => {
    cell(tr, m.kind === 'case' ? m.number : `#${m.id} · ${m.name || ''}`);
    cell(tr, `${Math.round(m.score * 100)}%`);
    cell(tr, m.title || m.matter || '—');
  });
  // Something to tell the petitioner: the guidance given belongs in the record.
  $('b-guidance').classList.toggle('needs', found);
}

async function check() {
  $('book-error').hidden = true;
  const id = $('b-id').value.trim();
  const matter = $('b-matter').value.trim();
  if (!id && !matter) return;
  try {
    const c = await api('POST', `/api/v1/sessions/${num('b-session')}/booking-checks`, {
      hall_id: num('b-hall'), id_number: id, matter,
    });
    showChecks(c);
  } catch (err) {
    fail($('book-error'), err, $('book-form'));
  }
}

$('b-session').addEventListener('change', fillHalls);
$('b-check').addEventListener('click', check);
// The checks run as soon as the ID number is complete or the matter is written.
$('b-id').addEventListener('change', () => { if ($('b-id').value.trim().length === 18) check(); });
$('b-matter').addEventListener('change', check);

$('book-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  $('book-error').hidden = true;
  $('book-ok').hidden = true;
  try {
    const reps = $('b-reps').value.split(/[,，、]/).map((s) => s.trim()).filter(Boolean);
    const res = await api('POST', `/api/v1/sessions/${num('b-session')}/appointments`, {
      hall_id: num('b-hall'), name: $('b-name').value.trim(), id_number: $('b-id').value.trim(),
      phone: $('b-phone').value.trim(), matter: $('b-matter').value.trim(), people: num('b-people'),
      representatives: reps, guidance: $('b-guidance').value.trim(), walk_in: $('b-walkin').checked,
      override_reason: $('b-override').value.trim(),
    });
    const a = res.appointment;
    ok($('book-ok'), t('sess.b.done', { no: (a.walk_in ? 'W' : '') + a.queue_no }));
    $('book-ok').dataset.queueNo = String(a.queue_no);
    showChecks(res.checks);
    // The page keeps no copy of the identity after booking.
    for (const id of ['b-name', 'b-id', 'b-phone', 'b-reps', 'b-matter', 'b-guidance', 'b-override']) $(id).value = '';
  } catch (err) {
    fail($('book-error'), err, $('book-form'));
  }
});

const me = await start();
if (me) {
  try {
    dir = await directory();
    await loadSessions();
    if (new URLSearchParams(location.search).get('walkin') === '1') $('b-walkin').checked = true;
  } catch (err) {
    fail($('book-error'), err);
  }
  onLangChange(() => { if (lastChecks) showChecks(lastChecks); });
  window.sanjiBook = { ready: true };
}
