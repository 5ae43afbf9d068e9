// The reception calendar (week or month, in Beijing time), a session's details with its
// invitations, and the form for a session or a recurring schedule with the roster picker over the
// tier tree. Conflicts come back inline, naming the other session, with the field focused.

import { api, ApiError } from './api.js';
import { t, onLangChange, applyI18n, setText } from './i18n.js';
import {
  $, el, cell, fail, ok, start, directory, shDate, shTime, shInstant, today, addDays, monday, weekday, query,
} from './staff.js';

const state = { view: 'week', anchor: today(), sessions: [], selected: 0, dir: null };
const params = new URLSearchParams(location.search);
if (/^\d{4}-\d{2}-\d{2}$/.test(params.get('date') || '')) state.anchor = params.get('date');
if (params.get('view') === 'month') state.view = 'month';

// range is the first day shown and the day after the last.
function range() {
  if (state.view === 'week') {
    const from = monday(state.anchor);
    return [from, addDays(from, 7)];
  }
  const first = `${state.anchor.slice(0, 7)}-01`;
  const from = monday(first);
  return [from, addDays(from, 42)];
}

function title() {
  const [from, to] = range();
  if (state.view === 'month') return t('cal.monthTitle', { y: state.anchor.slice(0, 4), m: Number(state.anchor.slice(5, 7)) });
  return t('cal.weekTitle', { from, to: addDays(to, -1) });
}

function render() {
  const [from, to] = range();
  $('cal-title').textContent = title();
  $('view-week').setAttribute('aria-pressed', String(state.view === 'week'));
  $('view-month').setAttribute('aria-pressed', String(state.view === 'month'));
  const cal = $('cal');
  cal.className = `cal cal-${state.view}`;
  cal.replaceChildren();
  for (let i = 0; i < 7; i++) cal.append(el('div', { class: 'cal-head' }, t(`cal.wd${(i + 1) % 7}`)));
  const byDay = new Map();
  for (const s of state.sessions) {
    const d = shDate(s.start);
    if (!byDay.has(d)) byDay.set(d, []);
    byDay.get(d).push(s);
  }
  const month = state.anchor.slice(0, 7);
  for (let d = from; d < to; d = addDays(d, 1)) {
    const day = el('div', { class: 'cal-day', 'data-date': d });
    if (state.view === 'month' && d.slice(0, 7) !== month) day.classList.add('other');
    if (d === today()) day.classList.add('today');
    day.append(el('span', { class: 'cal-date' }, state.view === 'month' ? String(Number(d.slice(8))) : d.slice(5)));
    for (const s of byDay.get(d) || []) {
      const b = el('button', { type: 'button', class: 'cal-item', 'data-id': String(s.id) },
        `${shTime(s.start)} ${s.backfill ? t('sess.backfill.tag') + ' ' : ''}${s.title}`);
      b.title = `${shTime(s.start)}–${shTime(s.end)} ${s.title}${s.holiday ? ' · ' + s.holiday : ''}`;
      if (s.status === 'cancelled') b.classList.add('cancelled');
      if (s.holiday) b.classList.add('holiday');
      if (s.backfill) b.classList.add('backfill');
      if (s.id === state.selected) b.setAttribute('aria-current', 'true');
      b.addEventListener('click', () => select(s.id));
      day.append(b);
    }
    cal.append(day);
  }
  $('sess-empty').hidden = state.sessions.length > 0;
}

async function load() {
  $('list-error').hidden = true;
  const [from, to] = range();
  try {
    const res = await api('GET', `/api/v1/sessions?from=${from}&to=${to}&cancelled=1`);
    state.sessions = res.sessions;
  } catch (err) {
    state.sessions = [];
    fail($('list-error'), err);
  }
  render();
  if (state.selected) showDetail();
}

function move(step) {
  if (state.view === 'week') state.anchor = addDays(state.anchor, 7 * step);
  else {
    const [y, m] = state.anchor.split('-').map(Number);
    const d = new Date(Date.UTC(y, m - 1 + step, 1));
    state.anchor = d.toISOString().slice(0, 10);
  }
  load();
}

$('cal-prev').addEventListener('click', () => move(-1));
$('cal-next').addEventListener('click', () => move(1));
$('cal-today').addEventListener('click', () => { state.anchor = today(); load(); });
$('view-week').addEventListener('click', () => { state.view = 'week'; load(); });
$('view-month').addEventListener('click', () => { state.view = 'month'; load(); });

// ---- details and invitations ----

const hallName = (id) => state.dir?.hall.get(id)?.name || `#${id}`;
const unitName = (id) => state.dir?.unit.get(id)?.name || `#${id}`;

function select(id) {
  state.selected = id;
  render();
  $('detail-ok').hidden = true;
  showDetail();
}

async function showDetail() {
  const s = state.sessions.find((x) => x.id === state.selected);
  if (!s) {
    $('detail').hidden = true;
    return;
  }
  $('detail').hidden = false;
  $('detail-error').hidden = true;
  $('d-title').textContent = `${s.title} (#${s.id})`;
  $('d-time').textContent = `${shDate(s.start)} ${shTime(s.start)}–${shTime(s.end)}${s.holiday ? ' · ' + s.holiday : ''}`;
  $('d-leader').textContent = [s.leader_post, s.leader_name].filter(Boolean).join(' ') || '—';
  $('d-studio').textContent = s.studio_id ? hallName(s.studio_id) : '—';
  $('d-halls').textContent = s.hall_ids.map(hallName).join('、') || '—';
  $('d-units').textContent = s.unit_ids.map(unitName).join('、') || '—';
  $('d-status').textContent = t('status.' + s.status) + (s.cancel_reason ? `（${s.cancel_reason}）` : '');
  // A backfilled record (补录) took place already: nothing to book, no call to join.
  $('d-backfill-label').hidden = !s.backfill;
  $('d-backfill').hidden = !s.backfill;
  $('d-book').href = `book.html?session=${s.id}`;
  $('d-queue').href = `queue.html?session=${s.id}&date=${shDate(s.start)}`;
  const rows = $('inv-rows');
  rows.replaceChildren();
  $('inv-send').disabled = s.status !== 'scheduled';
  try {
    const res = await api('GET', `/api/v1/sessions/${s.id}/invitations`);
    $('d-inv').hidden = false;
    for (const v of res.invitations) {
      const tr = el('tr', { 'data-id': String(v.id), 'data-status': v.status });
      cell(tr, v.target_name);
      cell(tr, t('inv.status.' + v.status));
      // A decline takes the unit off the roster; staff still see it here, with why.
      const roster = v.status === 'declined' ? t(v.on_roster ? 'inv.stillOnRoster' : 'inv.offRoster') : '';
      cell(tr, [v.reason, v.answered_by, roster].filter(Boolean).join(' — '));
      rows.append(tr);
    }
    $('inv-empty').hidden = res.invitations.length > 0;
  } catch (err) {
    // Staff of a roster hall see the session but not its invitations.
    $('d-inv').hidden = err instanceof ApiError && err.status === 403;
    if (!$('d-inv').hidden) fail($('detail-error'), err);
  }
}

$('inv-send').addEventListener('click', async () => {
  $('detail-error').hidden = true;
  try {
    const res = await api('POST', `/api/v1/sessions/${state.selected}/invitations`, { note: $('inv-note').value.trim() });
    ok($('detail-ok'), t('inv.sent', { n: res.invitations.length }));
    showDetail();
  } catch (err) {
    fail($('detail-error'), err);
  }
});

// ---- the form ----

// roster draws the tier tree with a checkbox per unit and per reception hall; studios go to
// their own picker.
function roster() {
  const box = $('roster');
  box.replaceChildren();
  const { units, halls } = state.dir;
  const children = new Map();
  for (const u of units) {
    if (!children.has(u.parent_id || 0)) children.set(u.parent_id || 0, []);
    children.get(u.parent_id || 0).push(u);
  }
  const known = new Set(units.map((u) => u.id));
  const tops = units.filter((u) => !known.has(u.parent_id));
  const branch = (list) => {
    const ul = el('ul');
    for (const u of list) {
      const li = el('li', { 'data-unit': String(u.id) });
      const lab = el('label');
      const kind = el('span', { class: 'kind' });
      setText(kind, `admin.kind.${u.kind}`);
      lab.append(el('input', { type: 'checkbox', value: String(u.id), 'data-kind': 'unit' }), el('span', {}, u.name), kind);
      li.append(lab);
      const own = halls.filter((h) => h.unit_id === u.id && h.kind === 'hall');
      if (own.length) {
        const hl = el('ul');
        for (const h of own) {
          const hli = el('li', { class: 'hall', 'data-hall': String(h.id) });
          const hlab = el('label');
          const hk = el('span', { class: 'kind' });
          setText(hk, 'rec.kind.hall');
          hlab.append(el('input', { type: 'checkbox', value: String(h.id), 'data-kind': 'hall' }), el('span', {}, h.name), hk);
          hli.append(hlab);
          hl.append(hli);
        }
        li.append(hl);
      }
      if (children.has(u.id)) li.append(branch(children.get(u.id)));
      ul.append(li);
    }
    return ul;
  };
  box.append(branch(tops));
}

function fillSelect(sel, items, empty) {
  sel.replaceChildren();
  if (empty) {
    const o = el('option', { value: '0' });
    setText(o, empty);
    sel.append(o);
  }
  for (const [value, text] of items) sel.append(el('option', { value: String(value) }, text));
}

async function setupForm(me) {
  state.dir = await directory();
  const staffUnits = new Set(me.grants.filter((g) => g.role === 'scheduler_staff').map((g) => g.unit_id));
  const owners = state.dir.units.filter((u) => u.kind !== 'root' && u.kind !== 'department');
  fillSelect($('s-unit'), owners.map((u) => [u.id, u.name]));
  const first = owners.find((u) => staffUnits.has(u.id));
  if (first) $('s-unit').value = String(first.id);
  fillSelect($('s-studio'), state.dir.halls.filter((h) => h.kind === 'studio').map((h) => [h.id, h.name]), 'sess.f.none');
  // The leader picker is the schedulers': the others (a leader reading the calendar) do not ask
  // for a list they may not read.
  let leaders = [];
  if ((me.can || []).includes('session.write')) leaders = (await api('GET', '/api/v1/leaders')).leaders;
  state.leaders = leaders;
  fillSelect($('s-leader'), leaders.map((l) => [l.id, l.display_name]), 'sess.f.none');
  $('s-leader').addEventListener('change', () => {
    const l = leaders.find((x) => String(x.id) === $('s-leader').value);
    // The published name is the person's name without the account's annotations.
    if (l) $('s-leader-name').value = l.display_name.replace(/[（(].*$/, '').trim();
  });
  roster();
}

// canBackfill: the caller may enter a reception that took place (补录, session.backfill).
let canBackfill = false;

function kindChanged() {
  const once = $('s-kind').value === 'once';
  $('s-title-field').hidden = !once;
  $('s-weeks-field').hidden = once;
  // A record is one reception that happened; a recurring schedule is always ahead.
  $('s-backfill-field').hidden = !once || !canBackfill;
  if ($('s-backfill-field').hidden) $('s-backfill').checked = false;
}
$('s-kind').addEventListener('change', kindChanged);

const num = (id) => ($(id).value.trim() === '' ? 0 : Number($(id).value));
const checked = (kind) => [...$('roster').querySelectorAll(`input[data-kind="${kind}"]:checked`)].map((i) => Number(i.value));
const BYDAY = ['SU', 'MO', 'TU', 'WE', 'TH', 'FR', 'SA'];

// rrule is the recurrence of the chosen kind, on the weekday of the start.
function rrule(kind, startLocal) {
  const ymd = startLocal.slice(0, 10);
  const wd = BYDAY[weekday(ymd)];
  if (kind === 'weekly') return `FREQ=WEEKLY;BYDAY=${wd}`;
  if (kind === 'biweekly') return `FREQ=WEEKLY;INTERVAL=2;BYDAY=${wd}`;
  const nth = Math.ceil(Number(ymd.slice(8)) / 7);
  return nth === 5 ? `FREQ=MONTHLY;BYDAY=-1${wd}` : `FREQ=MONTHLY;BYDAY=${nth}${wd}`;
}

$('sess-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  $('sess-error').hidden = true;
  $('sess-ok').hidden = true;
  $('sess-conflicts').replaceChildren();
  const kind = $('s-kind').value;
  const local = $('s-start').value;
  if (!local) {
    $('sess-error').textContent = t('sess.err.start');
    $('sess-error').hidden = false;
    $('s-start').focus();
    return;
  }
  const minutes = num('s-minutes');
  const common = {
    unit_id: num('s-unit'), leader_id: num('s-leader'), leader_name: $('s-leader-name').value.trim(),
    leader_post: $('s-leader-post').value.trim(), studio_id: num('s-studio'), hall_ids: checked('hall'),
    unit_ids: checked('unit'), lead_days: num('s-lead'), minutes_per_petitioner: num('s-per'),
    max_petitioners: num('s-max'), portfolio: $('s-portfolio').value.trim(),
  };
  try {
    let date;
    if (kind === 'once') {
      const startAt = new Date(shInstant(local));
      const s = await api('POST', '/api/v1/sessions', {
        ...common, title: $('s-title').value.trim(), start: startAt.toISOString(),
        end: new Date(startAt.getTime() + minutes * 60000).toISOString(), backfill: $('s-backfill').checked,
      });
      ok($('sess-ok'), t('sess.created', { id: s.id }));
      state.selected = s.id;
      date = shDate(s.start);
    } else {
      const res = await api('POST', '/api/v1/schedules', {
        ...common, rrule: rrule(kind, local), dtstart: new Date(shInstant(local)).toISOString(), minutes,
        holidays: 'skip', weeks: num('s-weeks'),
      });
      ok($('sess-ok'), t('sess.scheduled', { n: res.created.length, skipped: res.skipped_holidays.length, clashes: res.conflicts.length }));
      for (const c of res.conflicts) $('sess-conflicts').append(el('li', {}, c.message));
      if (res.created.length) state.selected = res.created[0].id;
      date = local.slice(0, 10);
    }
    state.anchor = date;
    load();
  } catch (err) {
    fail($('sess-error'), err, $('sess-form'));
  }
});

// ---- calendar feeds: a private iCalendar link of a leader, a hall or a unit ----

// feedTargets are what the chosen kind can follow: the leaders the caller may schedule (and the
// caller, if a leader), every hall and studio, every unit but the root.
function feedTargets(me, kind) {
  if (kind === 'leader') {
    const list = (state.leaders || []).map((l) => [l.id, l.display_name]);
    if (me.grants.some((g) => g.role === 'leader') && !list.some(([id]) => id === me.user.id)) list.unshift([me.user.id, me.user.display_name]);
    return list;
  }
  if (kind === 'hall') return state.dir.halls.map((h) => [h.id, h.name]);
  return state.dir.units.filter((u) => u.kind !== 'root').map((u) => [u.id, u.name]);
}

function feedKindChanged(me) {
  const items = feedTargets(me, $('feed-kind').value);
  fillSelect($('feed-target'), items);
  $('feed-make').disabled = items.length === 0;
  if (!items.length) {
    $('feed-error').textContent = t('feed.noTarget');
    $('feed-error').hidden = false;
  } else $('feed-error').hidden = true;
}

async function loadFeeds() {
  const rows = $('feed-rows');
  try {
    const res = await api('GET', '/api/v1/feeds');
    rows.replaceChildren();
    for (const f of res.feeds) {
      const tr = el('tr', { 'data-id': String(f.id) });
      cell(tr, f.name);
      cell(tr, `${t('feed.kind.' + f.kind)}：${f.target_name}`);
      cell(tr, f.created_by);
      cell(tr, `${shDate(f.created_at)} ${shTime(f.created_at)}`);
      const b = el('button', { type: 'button', class: 'btn-link' });
      setText(b, 'feed.revoke');
      b.addEventListener('click', async () => {
        $('feed-error').hidden = true;
        try {
          await api('DELETE', `/api/v1/feeds/${f.id}`);
          loadFeeds();
        } catch (err) {
          fail($('feed-error'), err);
        }
      });
      const td = el('td');
      td.append(b);
      tr.append(td);
      rows.append(tr);
    }
    $('feed-empty').hidden = res.feeds.length > 0;
  } catch (err) {
    fail($('feed-error'), err);
  }
}

// copyFeed puts the link on the clipboard; where the browser refuses (no secure context), the
// link is selected for the person to copy.
async function copyFeed() {
  const input = $('feed-url');
  input.select();
  let done = false;
  try {
    await navigator.clipboard.writeText(input.value);
    done = true;
  } catch {
    done = document.execCommand && document.execCommand('copy');
  }
  $('feed-copied').textContent = t(done ? 'feed.copied' : 'feed.copyFailed');
  $('feed-copied').hidden = false;
}

function setupFeeds(me) {
  $('feeds').hidden = false;
  $('feed-kind').addEventListener('change', () => feedKindChanged(me));
  // Leaders without scheduling rights follow themselves; the others start with a hall.
  if (!feedTargets(me, 'leader').length) $('feed-kind').value = 'hall';
  feedKindChanged(me);
  $('feed-make').addEventListener('click', async () => {
    $('feed-error').hidden = true;
    $('feed-copied').hidden = true;
    try {
      const res = await api('POST', '/api/v1/feeds', { kind: $('feed-kind').value, target_id: num('feed-target') });
      const url = new URL(res.path, location.origin);
      $('feed-url').value = url.href;
      $('feed-webcal').href = url.href.replace(/^https?:/, 'webcal:');
      $('feed-made').hidden = false;
      $('feed-url').focus();
      $('feed-url').select();
      loadFeeds();
    } catch (err) {
      fail($('feed-error'), err, $('feeds'));
    }
  });
  $('feed-copy').addEventListener('click', copyFeed);
  loadFeeds();
}

const me = await start();
if (me) {
  // Only scheduling staff create sessions and send invitations; the others read the calendar.
  const writes = (me.can || []).includes('session.write');
  $('sess-form').hidden = !writes;
  $('inv-send').hidden = !writes;
  $('inv-note').closest('label').hidden = !writes;
  canBackfill = writes && (me.can || []).includes('session.backfill');
  kindChanged();
  if (query('session')) state.selected = query('session');
  try {
    await setupForm(me);
    // Whoever reads the calendar may take a feed of it (session.read); the link is theirs to keep.
    if ((me.can || []).includes('session.read')) setupFeeds(me);
    else $('feed-link').hidden = true;
  } catch (err) {
    fail($('sess-error'), err);
  }
  load();
  onLangChange(() => {
    applyI18n($('sess-form'));
    render();
    showDetail();
    if (!$('feeds').hidden) loadFeeds();
  });
  window.sanjiSessions = { ready: true };
}
