// The invitations addressed to the caller's units (会商, 联合接访): accept, or decline with a
// reason. Only a member of the invited unit may answer; the server says so otherwise.

import { api } from './api.js';
import { t, onLangChange } from './i18n.js';
import { $, el, cell, fail, ok, start, shDate, shTime } from './staff.js';

let list = [];

function render() {
  const rows = $('my-inv');
  rows.replaceChildren();
  for (const v of list) {
    const s = v.session;
    const tr = el('tr', { 'data-id': String(v.id), 'data-status': v.status });
    cell(tr, `${shDate(s.start)} ${shTime(s.start)}–${shTime(s.end)}`);
    // A schedule's title names its leader already; a hearing's may not.
    const leader = [s.leader_post, s.leader_name].filter(Boolean).join(' ');
    cell(tr, s.leader_name && !s.title.includes(s.leader_name) ? `${s.title} · ${leader}` : s.title);
    cell(tr, v.target_name);
    cell(tr, v.note || '—');
    cell(tr, t('inv.status.' + v.status) + (v.reason ? `：${v.reason}` : '') + (s.status === 'cancelled' ? ` (${t('status.cancelled')})` : ''));
    const td = cell(tr, '');
    if (s.status === 'scheduled') {
      const reason = el('input', { maxLength: 500, className: 'inv-reason' });
      reason.setAttribute('aria-label', t('inv.reason'));
      reason.placeholder = t('inv.reason');
      const yes = el('button', { type: 'button', class: 'btn inv-accept' }, t('inv.accept'));
      const no = el('button', { type: 'button', class: 'btn inv-decline' }, t('inv.decline'));
      yes.addEventListener('click', () => answer(v, true, ''));
      no.addEventListener('click', () => answer(v, false, reason.value.trim(), reason));
      td.append(yes, ' ', no, ' ', reason);
    }
    rows.append(tr);
  }
  $('my-inv-empty').hidden = list.length > 0;
}

async function answer(v, accept, reason, field) {
  $('inv-error').hidden = true;
  $('inv-ok').hidden = true;
  try {
    await api('POST', `/api/v1/invitations/${v.id}/answer`, { accept, reason });
    ok($('inv-ok'), t(accept ? 'inv.accepted' : 'inv.declined', { title: v.session.title }));
    await load();
  } catch (err) {
    fail($('inv-error'), err);
    if (field && err.field === 'reason') field.focus();
  }
}

async function load() {
  try {
    list = (await api('GET', '/api/v1/invitations')).invitations;
    render();
  } catch (err) {
    fail($('inv-error'), err);
  }
}

const me = await start();
if (me) {
  await load();
  onLangChange(render);
  window.sanjiInvitations = { ready: true };
}
