// The holiday calendar page (for the administrator who keeps it): which years the legal clocks
// count exactly and which provisionally, a year's days off and make-up working days (调休上班),
// and a form to enter a day or a run of days.

import { initPage, showUser, showError } from './nav.js';
import { api, requireLogin, ApiError } from './api.js';
import { t, setText, onLangChange } from './i18n.js';
import { today } from './time.js';

initPage();

const $ = (id) => document.getElementById(id);
const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
// Runs longer than this are a typing error, not a holiday (春节 is at most nine days).
const MAX_RUN = 31;

let year = 0;
let entered = new Map(); // year → verified, as the calendar holds them

const utc = (ymd) => new Date(`${ymd}T00:00:00Z`);
const nextDay = (ymd) => {
  const d = utc(ymd);
  d.setUTCDate(d.getUTCDate() + 1);
  return d.toISOString().slice(0, 10);
};

function fail(box, err) {
  showError(box, err instanceof ApiError ? err : null, t('err.network'));
}

function cell(tr, text) {
  const td = document.createElement('td');
  td.textContent = text;
  tr.append(td);
  return td;
}

// yearState is how the clocks count year y.
function yearState(y) {
  if (!entered.has(y)) return 'provisional';
  return entered.get(y) ? 'entered' : 'seeded';
}

function renderYears() {
  const now = Number(today().slice(0, 4));
  const shown = new Set([now - 1, now, now + 1, now + 2, year, ...entered.keys()]);
  const rows = [...shown].filter((y) => y >= now - 1 || entered.has(y)).sort((a, b) => a - b).map((y) => {
    const tr = document.createElement('tr');
    const state = yearState(y);
    tr.dataset.year = y;
    tr.dataset.state = state;
    cell(tr, String(y));
    const st = cell(tr, '');
    const badge = document.createElement('span');
    badge.className = 'warn ' + (state === 'provisional' ? 'provisional' : state === 'seeded' ? 'warn-50' : 'hol-entered');
    setText(badge, 'hol.state.' + state);
    st.append(badge);
    const act = cell(tr, '');
    if (y !== year) {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'btn-link';
      setText(b, 'hol.open');
      b.addEventListener('click', () => openYear(y));
      act.append(b);
    }
    return tr;
  });
  $('hol-years').replaceChildren(...rows);
}

function renderDays(days) {
  $('hol-days').replaceChildren(...days.map((d) => {
    const tr = document.createElement('tr');
    tr.dataset.date = d.date;
    tr.dataset.kind = d.kind;
    cell(tr, d.date);
    setText(cell(tr, ''), 'hol.wd.' + WEEKDAYS[utc(d.date).getUTCDay()]);
    setText(cell(tr, ''), 'hol.kind.' + d.kind);
    cell(tr, d.name);
    return tr;
  }));
  $('hol-empty').hidden = days.length > 0;
}

async function openYear(y) {
  year = y;
  $('hol-year').value = String(y);
  setText($('hol-heading'), 'hol.heading', { year: y });
  $('hol-error').hidden = true;
  try {
    const res = await api('GET', `/api/v1/holiday-calendar?year=${y}`);
    entered = new Map(res.years.map((x) => [x.year, x.verified]));
    renderDays(res.holidays);
    renderYears();
  } catch (err) {
    fail($('hol-error'), err);
  }
}

$('hol-year').addEventListener('change', () => {
  const y = Number($('hol-year').value);
  if (Number.isInteger(y) && y > 0) openYear(y);
});

$('hol-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const box = $('hol-form-error');
  box.hidden = true;
  $('hol-ok').hidden = true;
  const from = $('hol-from').value;
  const to = $('hol-to').value || from;
  // The server checks each day; the run itself only the page knows.
  const days = [];
  if (from) {
    for (let d = from; d <= to && days.length <= MAX_RUN; d = nextDay(d)) days.push(d);
  }
  if (from && (to < from || days.length > MAX_RUN)) {
    setText(box, 'hol.badRun', { max: MAX_RUN });
    box.hidden = false;
    $('hol-to').focus();
    return;
  }
  const body = { kind: $('hol-kind').value, name: $('hol-name').value.trim() };
  $('hol-submit').disabled = true;
  let saved = 0;
  try {
    // An empty date goes to the server too, which says what is missing.
    for (const d of days.length ? days : ['-']) {
      await api('PUT', `/api/v1/holidays/${encodeURIComponent(d)}`, body);
      saved++;
    }
    setText($('hol-ok'), 'hol.saved', { n: saved, kind: { key: 'hol.kind.' + body.kind }, name: body.name });
    $('hol-ok').hidden = false;
    const y = Number(from.slice(0, 4));
    await openYear(y);
  } catch (err) {
    fail(box, err);
    if (saved) box.textContent += ' ' + t('hol.partly', { n: saved });
    const f = err instanceof ApiError && err.field ? $('hol-form').querySelector(`[data-field="${err.field}"]`) : null;
    if (f) f.focus();
  } finally {
    $('hol-submit').disabled = false;
  }
});

const me = await requireLogin();
if (me) {
  showUser(me);
  onLangChange(() => setText($('hol-heading'), 'hol.heading', { year }));
  await openYear(Number(today().slice(0, 4)) + 1);
  window.sanjiHolidays = { ready: true };
}
