// Audit search for the auditor: filters, newest first, paging with "older entries".

import { initPage, showUser, showError } from './nav.js';
import { api, requireLogin, ApiError } from './api.js';
import { t } from './i18n.js';
import { dateTime } from './time.js';
import { loadChainHead } from './auditchain.js';

initPage();

const errBox = document.getElementById('audit-error');
const rows = document.getElementById('audit-rows');
const more = document.getElementById('audit-more');
let lastID = 0;

function query(beforeID) {
  const q = new URLSearchParams();
  const action = document.getElementById('f-action').value.trim();
  const actor = document.getElementById('f-actor').value.trim();
  const from = document.getElementById('f-from').value;
  const to = document.getElementById('f-to').value;
  if (action) q.set('action', action);
  if (actor) q.set('actor_id', actor);
  if (from) q.set('from', new Date(from).toISOString());
  if (to) q.set('to', new Date(to).toISOString());
  if (beforeID) q.set('before_id', String(beforeID));
  q.set('limit', '100');
  return '/api/v1/audit?' + q.toString();
}

async function search(append) {
  errBox.hidden = true;
  try {
    const res = await api('GET', query(append ? lastID : 0));
    if (!append) rows.replaceChildren();
    for (const e of res.entries) {
      const tr = document.createElement('tr');
      const change = [e.before, e.after].filter(Boolean).join(' → ') + (e.purpose ? ` [${e.purpose}]` : '');
      for (const [text, cls] of [[dateTime(e.at), ''], [e.actor ? `${e.actor} (#${e.actor_id})` : '—', ''],
        [e.action, ''], [e.target, ''], [change, 'change'], [e.ip || '', '']]) {
        const td = document.createElement('td');
        td.textContent = text;
        if (cls) td.className = cls;
        tr.append(td);
      }
      rows.append(tr);
      lastID = e.id;
    }
    document.getElementById('audit-empty').hidden = rows.children.length > 0;
    more.hidden = res.entries.length < 100;
  } catch (err) {
    showError(errBox, err instanceof ApiError ? err : null, t('err.network'));
  }
}

document.getElementById('audit-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  search(false);
});
more.addEventListener('click', () => search(true));

const m = await requireLogin();
if (m) {
  showUser(m);
  search(false);
  loadChainHead();
}
