// What the login, password, admin and audit pages share: the language switch and the header.

import { initI18n, mountLangSwitch, setText } from './i18n.js';
import { logout } from './api.js';

export function initPage() {
  initI18n();
  const lang = document.getElementById('lang');
  if (lang) mountLangSwitch(lang);
  const out = document.getElementById('logout');
  if (out) out.addEventListener('click', () => logout());
}

// WORK are the pages of the daily work (视频接访, 信访事项, a unit's invitations to hearings, the
// exchange of cases with other systems) and of the installation's calendar, with the action each
// needs: linked in every header for those who may use them, hidden from the others (三员分立).
const WORK = [
  ['reception.html', 'call.join', 'nav.reception'],
  ['cases.html', 'case.read', 'nav.cases'],
  ['invitations.html', 'invitation.answer', 'nav.invitations'],
  ['exchange.html', 'case.exchange', 'nav.exchange'],
  ['holidays.html', 'holiday.write', 'nav.holidays'],
];

function showWork(m, who) {
  let at = who;
  for (const [href, action, key] of WORK) {
    const may = (m.can ?? []).includes(action);
    const links = [...document.querySelectorAll(`.topbar a[href="${href}"]`)];
    if (!links.length && may && !location.pathname.endsWith('/' + href)) {
      const a = document.createElement('a');
      a.href = href;
      a.dataset.work = '';
      setText(a, key);
      at.after(a);
      at = a;
      continue;
    }
    for (const a of links) a.hidden = !may;
  }
}

// showUser fills the header with who is logged in and the links to their work.
export function showUser(m) {
  const who = document.getElementById('who');
  if (!who || !m) return;
  who.textContent = `${m.user.display_name} (${m.user.username})`;
  showWork(m, who);
}

// showError puts err's message into the banner el (the server's message is already in the
// page's language).
export function showError(el, err, fallback) {
  el.textContent = (err && err.message) || fallback || '';
  el.hidden = false;
}
