// What the login, password, admin and audit pages share: the language switch and the header.

import './admin-messages.js';
import { initI18n, mountLangSwitch } from './i18n.js';
import { logout } from './api.js';

export function initPage() {
  initI18n();
  const lang = document.getElementById('lang');
  if (lang) mountLangSwitch(lang);
  const out = document.getElementById('logout');
  if (out) out.addEventListener('click', () => logout());
}

// showUser fills the header with who is logged in.
export function showUser(m) {
  const who = document.getElementById('who');
  if (who && m) who.textContent = `${m.user.display_name} (${m.user.username})`;
}

// showError puts err's message into the banner el (the server's message is already in the
// page's language).
export function showError(el, err, fallback) {
  el.textContent = (err && err.message) || fallback || '';
  el.hidden = false;
}
