// A hall's queue for the day: every session of that date the hall joins, with its petitioners in
// order (appointments by position, then walk-ins), their numbers, what the booking checks found,
// and the operator's actions: check in, no-show, received, cancel, and a walk-in booking. While a
// petitioner of the hall is heard on the call, their query code (查询码) shows beside them, with
// the slip to print; it leaves with the hearing.

import { api } from './api.js';
import { setText, t, onLangChange } from './i18n.js';
import { $, el, cell, fail, start, directory, shTime, today, addDays, query, flagKeys } from './staff.js';

let dir = null;
let shown = [];
let codes = new Map(); // appointment id -> the query code of its hearing under way
let codesKey = ''; // the appointments with a code when the queue was drawn
let pollTimer = 0;
let slipFor = 0; // the appointment whose slip is filled

// CODE_POLL is how often the page asks for the codes of the hearings under way: a code appears
// within this time of the call and leaves within it of the hearing's end.
const CODE_POLL = 3000;

const ACTIONS = [['q.checkin', 'checked_in'], ['q.noshow', 'no_show'], ['q.done', 'done'], ['q.cancel', 'cancelled']];

// waiting reports whether a petitioner still waits for the call: not heard (nor being heard),
// done, absent or cancelled. Only such a row takes the operator's actions.
const waiting = (a) => (a.status === 'booked' || a.status === 'checked_in') && !a.heard_at;

// groups splits a query code into groups of four, read aloud and copied by hand.
function groups(code) {
  return (code.match(/.{1,4}/g) ?? []).map((g) => el('span', {}, g));
}

function codeBox(a, c) {
  const box = el('div', { class: 'qcode', 'data-code': c.query_code });
  const head = el('div');
  setText(head, 'hq.code.heading');
  const code = el('div', { class: 'qcode-code' });
  code.append(...groups(c.query_code));
  const hint = el('p', { class: 'muted small' });
  setText(hint, 'hq.code.hint');
  const print = el('button', { type: 'button', class: 'btn', 'data-print': String(a.id) });
  setText(print, 'hq.code.print');
  print.addEventListener('click', () => {
    fillSlip(a, c);
    window.print();
  });
  box.append(head, code, hint, print);
  return box;
}

// fillSlip writes the petitioner's slip: the matter's number, the code and where to query.
function fillSlip(a, c) {
  const hall = dir?.hall.get(a.hall_id)?.name ?? '';
  setText($('slip-case'), 'hq.slip.case', { number: c.case_number });
  $('slip-code').replaceChildren(...groups(c.query_code));
  setText($('slip-place'), 'hq.slip.place', { hall, time: `${today()} ${shTime(c.issued_at)}`, no: (a.walk_in ? 'W' : '') + a.queue_no });
  setText($('slip-where'), 'hq.slip.where', { url: `${location.origin}/query.html` });
  $('slip').hidden = false;
  slipFor = a.id;
}

function clearSlip() {
  slipFor = 0;
  $('slip').hidden = true;
  for (const id of ['slip-case', 'slip-code', 'slip-place', 'slip-where']) $(id).replaceChildren();
}

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
    const name = cell(tr, a.name);
    const c = codes.get(a.id);
    if (c) name.append(codeBox(a, c));
    cell(tr, a.matter);
    cell(tr, String(a.people));
    const flags = cell(tr, '');
    for (const k of flagKeys(a.checks)) flags.append(el('span', { class: 'flag' }, t(k)));
    cell(tr, a.heard_at && !a.ended_at ? t('hq.hearing') : t('status.' + a.status));
    const act = cell(tr, '');
    for (const [key, status] of waiting(a) ? ACTIONS : []) {
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

// fetchCodes reads the codes of the hearings under way in the hall for the sessions shown; a
// caller who may not see them (the leader, say) gets none.
async function fetchCodes(hall) {
  const out = new Map();
  if (($('q-date').value || today()) !== today()) return out;
  for (const s of shown) {
    try {
      const r = await api('GET', `/api/v1/sessions/${s.id}/query-codes?hall_id=${hall}`);
      for (const c of r.codes) out.set(c.appointment_id, c);
    } catch (err) {
      if (err?.status !== 403) throw err;
    }
  }
  return out;
}

const keyOf = (m) => [...m.keys()].sort().join(',');

async function load() {
  clearTimeout(pollTimer);
  $('queue-error').hidden = true;
  const list = $('queue-list');
  const date = $('q-date').value || today();
  const hall = Number($('q-hall').value);
  const purpose = $('q-purpose').value.trim();
  try {
    const res = await api('GET', `/api/v1/sessions?from=${date}&to=${addDays(date, 1)}`);
    shown = res.sessions.filter((s) => s.studio_id === hall || s.hall_ids.includes(hall));
    codes = await fetchCodes(hall);
    codesKey = keyOf(codes);
    const cards = [];
    for (const s of shown) {
      const q = new URLSearchParams({ hall_id: String(hall) });
      if (purpose) q.set('purpose', purpose);
      const r = await api('GET', `/api/v1/sessions/${s.id}/queue?${q}`);
      cards.push(table(s, r.queue));
    }
    list.replaceChildren(...cards);
    $('queue-empty').hidden = shown.length > 0;
    if (!codes.has(slipFor)) clearSlip(); // a slip leaves with its hearing, like the code
  } catch (err) {
    fail($('queue-error'), err, $('queue-form'));
  }
  clearTimeout(pollTimer); // a load that overlapped this one keeps no second round
  if (date === today() && shown.length) pollTimer = setTimeout(poll, CODE_POLL);
}

// poll draws the queue again when a hearing of the hall starts or ends: its code comes or goes,
// and the row's actions with it.
async function poll() {
  try {
    const now = await fetchCodes(Number($('q-hall').value));
    if (keyOf(now) !== codesKey) return load();
  } catch {
    // the next round tries again; load() shows errors
  }
  clearTimeout(pollTimer);
  pollTimer = setTimeout(poll, CODE_POLL);
}

// waitingHall picks, among the halls of the day's sessions the caller has, the first where
// petitioners still wait; a studio only when no hall has anyone (the leader's case).
async function waitingHall(sessions, onlySession) {
  const candidates = [];
  for (const s of sessions) {
    if (onlySession && s.id !== onlySession) continue;
    for (const id of s.hall_ids) if (dir.hall.has(id)) candidates.push([s.id, id]);
  }
  for (const [sid, hall] of candidates) {
    try {
      const r = await api('GET', `/api/v1/sessions/${sid}/queue?hall_id=${hall}`);
      if (r.queue.some(waiting)) return hall;
    } catch {
      // a hall the caller may not read: the next
    }
  }
  if (candidates.length) return candidates[0][1];
  const x = sessions.find((s) => (!onlySession || s.id === onlySession) && dir.hall.has(s.studio_id));
  return x ? x.studio_id : 0;
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
    if (query('hall')) sel.value = String(query('hall'));
    else {
      // Open on a hall where petitioners wait (from the calendar, ?session=, among its halls).
      const d = $('q-date').value;
      const s = await api('GET', `/api/v1/sessions?from=${d}&to=${addDays(d, 1)}`);
      const pick = await waitingHall(s.sessions, query('session'));
      if (pick) sel.value = String(pick);
    }
    await load();
  } catch (err) {
    fail($('queue-error'), err);
  }
  onLangChange(load);
  window.sanjiQueue = { ready: true };
}
