// A hall's queue for the day: every session of that date the hall joins, with its petitioners in
// order (appointments by position, then walk-ins), their numbers, what the booking checks found,
// and the operator's actions: check in, no-show, received, cancel, and a walk-in booking.

import { api } from './api.js';
import { t, onLangChange } from './i18n.js';
import { $, el, cell, fail, start, directory, shTime, today, addDays, query, flagKeys } from './staff.js';

let dir = null;
let shown = [];

const ACTIONS = [['q.checkin', 'checked_in'], ['q.noshow', 'no_show'], ['q.done', 'done'], ['q.cancel', 'cancelled']];

function table(s, queue) {
  const card = el('section', { class: 'card', 'data-session': String(s.id) });
  const h = el('h2', {}, `${shTime(s.start)}–${shTime(s.end)} ${s.title}`);
  const walk = el('a', { href: `book.html?session=${s.id}&hall=${$('q-hall').value}&walkin=1` }, t('q.walkin'));
  const p = el('p');
  p.append(walk);
  const errBox = el('div', { class: 'banner banner-error', hidden: true });
  errBox.setAttribute('role', 'alert');
  card.append(h, p, errBox);
  const tbl = el('table', { class: 'audit-table' });
  const head = el('tr');
  for (const k of ['sess.q.no', 'sess.b.name', 'sess.b.matter', 'sess.b.people', 'chk.col.flags', 'sess.col.status', 'q.actions']) {
    head.append(el('th', {}, t(k)));
  }
  tbl.append(el('thead'), el('tbody'));
  tbl.tHead.append(head);
  for (const a of queue) {
    const tr = el('tr', { 'data-id': String(a.id), 'data-status': a.status });
    const no = cell(tr, (a.walk_in ? 'W' : '') + a.queue_no);
    no.className = 'qno';
    cell(tr, a.name);
    cell(tr, a.matter);
    cell(tr, String(a.people));
    const flags = cell(tr, '');
    for (const k of flagKeys(a.checks)) flags.append(el('span', { class: 'flag' }, t(k)));
    cell(tr, t('status.' + a.status));
    const act = cell(tr, '');
    for (const [key, status] of ACTIONS) {
      if (a.status === status) continue;
      const b = el('button', { type: 'button', class: 'btn', 'data-status': status }, t(key));
      b.addEventListener('click', async () => {
        try {
          await api('PATCH', `/api/v1/appointments/${a.id}`, { status });
          load();
        } catch (err) {
          fail(errBox, err);
        }
      });
      act.append(b);
    }
    tbl.tBodies[0].append(tr);
  }
  if (!queue.length) card.append(el('p', { class: 'muted' }, t('q.empty')));
  else card.append(tbl);
  return card;
}

async function load() {
  $('queue-error').hidden = true;
  const list = $('queue-list');
  const date = $('q-date').value || today();
  const hall = Number($('q-hall').value);
  const purpose = $('q-purpose').value.trim();
  try {
    const res = await api('GET', `/api/v1/sessions?from=${date}&to=${addDays(date, 1)}`);
    shown = res.sessions.filter((s) => s.studio_id === hall || s.hall_ids.includes(hall));
    const cards = [];
    for (const s of shown) {
      const q = new URLSearchParams({ hall_id: String(hall) });
      if (purpose) q.set('purpose', purpose);
      const r = await api('GET', `/api/v1/sessions/${s.id}/queue?${q}`);
      cards.push(table(s, r.queue));
    }
    list.replaceChildren(...cards);
    $('queue-empty').hidden = shown.length > 0;
  } catch (err) {
    fail($('queue-error'), err, $('queue-form'));
  }
}

$('queue-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  load();
});

const me = await start();
if (me) {
  const dateParam = new URLSearchParams(location.search).get('date');
  $('q-date').value = /^\d{4}-\d{2}-\d{2}$/.test(dateParam || '') ? dateParam : today();
  try {
    dir = await directory();
    const sel = $('q-hall');
    for (const h of dir.halls) sel.append(el('option', { value: String(h.id) }, h.name));
    // From the calendar (?session=) pick the first of the session's halls the caller has.
    if (query('hall')) sel.value = String(query('hall'));
    else if (query('session')) {
      const s = await api('GET', `/api/v1/sessions?from=${$('q-date').value}&to=${addDays($('q-date').value, 1)}`);
      const x = s.sessions.find((v) => v.id === query('session'));
      const mine = x && [x.studio_id, ...x.hall_ids].find((id) => dir.hall.has(id));
      if (mine) sel.value = String(mine);
    }
    await load();
  } catch (err) {
    fail($('queue-error'), err);
  }
  onLangChange(load);
  window.sanjiQueue = { ready: true };
}
