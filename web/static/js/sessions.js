// Staff page for receptions: the coming sessions, a form for ad hoc sessions and hearings
// (conflicts shown inline with the other session named), bookings, and the day's hall queue.

import './sessions-messages.js';
import { initPage, showUser, showError } from './nav.js';
import { api, requireLogin, ApiError } from './api.js';
import { t } from './i18n.js';

initPage();

const $ = (id) => document.getElementById(id);
const ids = (s) => s.split(/[,，\s]+/).filter(Boolean).map(Number);
const num = (s) => (s.trim() === '' ? 0 : Number(s));

function fail(box, err) {
  showError(box, err instanceof ApiError ? err : null, t('err.network'));
  if (err instanceof ApiError && err.field) {
    const el = document.querySelector(`[data-field="${err.field}"]`);
    if (el) el.focus();
  }
}

function cell(tr, text) {
  const td = document.createElement('td');
  td.textContent = text;
  tr.append(td);
  return td;
}

async function loadSessions() {
  $('list-error').hidden = true;
  try {
    const res = await api('GET', '/api/v1/sessions');
    const rows = $('sess-rows');
    rows.replaceChildren();
    for (const s of res.sessions) {
      const tr = document.createElement('tr');
      cell(tr, String(s.id));
      cell(tr, `${new Date(s.start).toLocaleString()} – ${new Date(s.end).toLocaleTimeString()}${s.holiday ? ' · ' + s.holiday : ''}`);
      cell(tr, s.title);
      cell(tr, [s.leader_post, s.leader_name].filter(Boolean).join(' '));
      cell(tr, s.hall_ids.join(', '));
      cell(tr, t('status.' + s.status));
      rows.append(tr);
    }
    $('sess-empty').hidden = res.sessions.length > 0;
  } catch (err) {
    fail($('list-error'), err);
  }
}

$('s-unit').dataset.field = 'unit_id';
$('s-leader').dataset.field = 'leader_id';
$('s-studio').dataset.field = 'studio_id';
$('s-halls').dataset.field = 'hall_ids';
$('s-units').dataset.field = 'unit_ids';
$('s-end').dataset.field = 'end';
$('b-override').dataset.field = 'override_reason';
$('b-id').dataset.field = 'id_number';

$('sess-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  $('sess-error').hidden = true;
  $('sess-ok').hidden = true;
  try {
    const s = await api('POST', '/api/v1/sessions', {
      unit_id: num($('s-unit').value), title: $('s-title').value.trim(), leader_id: num($('s-leader').value),
      leader_name: $('s-leader-name').value.trim(), leader_post: $('s-leader-post').value.trim(),
      studio_id: num($('s-studio').value), start: new Date($('s-start').value).toISOString(),
      end: new Date($('s-end').value).toISOString(), hall_ids: ids($('s-halls').value), unit_ids: ids($('s-units').value),
      lead_days: num($('s-lead').value), minutes_per_petitioner: num($('s-per').value),
      max_petitioners: num($('s-max').value), portfolio: $('s-portfolio').value.trim(),
    });
    $('sess-ok').textContent = t('sess.created', { id: s.id });
    $('sess-ok').hidden = false;
    loadSessions();
  } catch (err) {
    fail($('sess-error'), err);
  }
});

$('book-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  $('book-error').hidden = true;
  $('book-ok').hidden = true;
  const same = $('same-person');
  same.replaceChildren();
  try {
    const reps = $('b-reps').value.split(/[,，]/).map((s) => s.trim()).filter(Boolean);
    const res = await api('POST', `/api/v1/sessions/${num($('b-session').value)}/appointments`, {
      hall_id: num($('b-hall').value), name: $('b-name').value.trim(), id_number: $('b-id').value.trim(),
      phone: $('b-phone').value.trim(), matter: $('b-matter').value.trim(), people: num($('b-people').value),
      representatives: reps, guidance: $('b-guidance').value.trim(), walk_in: $('b-walkin').checked,
      override_reason: $('b-override').value.trim(),
    });
    $('book-ok').textContent = t('sess.b.done', { no: res.appointment.queue_no });
    $('book-ok').hidden = false;
    if (res.same_person.length) {
      const head = document.createElement('li');
      head.textContent = t('sess.b.same');
      same.append(head);
      for (const a of res.same_person) {
        const li = document.createElement('li');
        li.textContent = `#${a.id} · ${new Date(a.created_at).toLocaleDateString()} · ${a.matter}`;
        same.append(li);
      }
    }
    // The identity fields are cleared: the page keeps no copy after booking.
    for (const id of ['b-name', 'b-id', 'b-phone', 'b-reps']) $(id).value = '';
  } catch (err) {
    fail($('book-error'), err);
  }
});

async function loadQueue() {
  $('queue-error').hidden = true;
  const q = new URLSearchParams();
  if ($('q-hall').value.trim()) q.set('hall_id', $('q-hall').value.trim());
  try {
    const res = await api('GET', `/api/v1/sessions/${num($('q-session').value)}/queue?${q}`);
    const rows = $('queue-rows');
    rows.replaceChildren();
    for (const a of res.queue) {
      const tr = document.createElement('tr');
      cell(tr, (a.walk_in ? 'W' : '') + a.queue_no);
      cell(tr, String(a.hall_id));
      cell(tr, a.name);
      cell(tr, a.matter);
      cell(tr, t('status.' + a.status));
      const td = cell(tr, '');
      for (const [key, status] of [['sess.q.checkin', 'checked_in'], ['sess.q.noshow', 'no_show']]) {
        const b = document.createElement('button');
        b.type = 'button';
        b.className = 'btn';
        b.textContent = t(key);
        b.addEventListener('click', async () => {
          try {
            await api('PATCH', `/api/v1/appointments/${a.id}`, { status });
            loadQueue();
          } catch (err) {
            fail($('queue-error'), err);
          }
        });
        td.append(b);
      }
      rows.append(tr);
    }
  } catch (err) {
    fail($('queue-error'), err);
  }
}

$('queue-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  loadQueue();
});

const m = await requireLogin();
if (m) {
  showUser(m);
  loadSessions();
}
