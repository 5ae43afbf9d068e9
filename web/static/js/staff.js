// What the reception staff pages share (calendar, booking, queue, invitations): dates in
// the office's zone whatever the browser's (time.js), the unit and hall directory, error banners that
// focus the field at fault, and the start-up (language, login, header).

import { initPage, showUser, showError } from './nav.js';
import { api, requireLogin, ApiError } from './api.js';
import { t, setText } from './i18n.js';
import { date, time, instant, today } from './time.js';

export const $ = (id) => document.getElementById(id);

// Dates and times are the office's (time.js), so a laptop set to another zone books the right hour.
// shDate is the office's date of a time, YYYY-MM-DD.
export const shDate = date;
// shTime is the office's clock time, HH:MM.
export const shTime = time;
// shInstant turns a datetime-local value (YYYY-MM-DDTHH:MM, meant in the office's zone) into RFC 3339.
export const shInstant = instant;
export { today };

// Calendar arithmetic on YYYY-MM-DD strings, in UTC so no zone shifts a day.
const utc = (ymd) => new Date(`${ymd}T00:00:00Z`);
export function addDays(ymd, n) {
  const d = utc(ymd);
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}
export const weekday = (ymd) => utc(ymd).getUTCDay(); // 0 = Sunday
// monday is the Monday on or before ymd.
export const monday = (ymd) => addDays(ymd, -((weekday(ymd) + 6) % 7));

export function cell(tr, text) {
  const td = document.createElement('td');
  td.textContent = text;
  tr.append(td);
  return td;
}

export function el(tag, attrs = {}, text = '') {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else if (k.startsWith('data-')) e.setAttribute(k, v);
    else e[k] = v;
  }
  if (text) e.textContent = text;
  return e;
}

// fail shows err in the banner box and focuses the field it names (an element of form with
// data-field="<the API's field name>").
export function fail(box, err, form = document) {
  showError(box, err instanceof ApiError ? err : null, t('err.network'));
  if (err instanceof ApiError && err.field) {
    const f = form.querySelector(`[data-field~="${err.field}"]`);
    if (f) f.focus();
  }
}

export function ok(box, text) {
  box.textContent = text;
  box.hidden = false;
}

// PAGES are the reception pages, in the order of the header's links.
const PAGES = [
  ['sessions.html', 'rec.nav.calendar'], ['book.html', 'rec.nav.book'], ['queue.html', 'rec.nav.queue'],
  ['invitations.html', 'rec.nav.invitations'], ['reception.html', 'sess.nav.reception'], ['cases.html', 'sess.nav.cases'],
  ['dashboard.html', 'sess.nav.dashboard'], ['public.html', 'sess.nav.public'],
];

function mountNav() {
  const nav = $('rec-nav');
  if (!nav) return;
  for (const [href, key] of PAGES) {
    const a = el('a', { href });
    setText(a, key);
    if (location.pathname.endsWith('/' + href)) a.setAttribute('aria-current', 'page');
    nav.append(a);
  }
}

// start sets up the page and makes sure someone is logged in; it returns /me (null while the
// browser is sent to the login page).
export async function start() {
  mountNav();
  initPage();
  const m = await requireLogin();
  if (m) showUser(m);
  return m;
}

// directory loads the units and halls the caller may see, with lookups by id.
export async function directory() {
  const [u, h] = await Promise.all([api('GET', '/api/v1/units'), api('GET', '/api/v1/halls')]);
  return {
    units: u.units,
    halls: h.halls,
    unit: new Map(u.units.map((x) => [x.id, x])),
    hall: new Map(h.halls.map((x) => [x.id, x])),
  };
}

// sessionLabel is how a session is named in a list: "03-11 09:00 Title".
export const sessionLabel = (s) => `${shDate(s.start).slice(5)} ${shTime(s.start)} ${s.title}`;

// query reads a number from the page's URL (?session=7).
export const query = (name) => Number(new URLSearchParams(location.search).get(name)) || 0;

// flagKeys are the booking-check flags of an appointment, as message keys.
export function flagKeys(checks) {
  if (!checks) return [];
  const out = [];
  if (checks.pending_lower) out.push('chk.flag.pending');
  if (checks.past_rereview) out.push('chk.flag.rereview');
  if (checks.same_person) out.push('chk.flag.same');
  if (checks.similar) out.push('chk.flag.similar');
  return out;
}
