import { initPage, showError } from './nav.js';
import { api, me, setCSRF, ApiError } from './api.js';
import { t } from './i18n.js';
import { land } from './landing.js';

initPage();

const form = document.getElementById('login-form');
const errBox = document.getElementById('login-error');

// next is where a logged-in user goes (landing.js): the password page first when it must change.
const next = (m) => land(m, 'index.html');

me().then((m) => { if (m) next(m); }).catch(() => {});

form.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  errBox.hidden = true;
  const username = document.getElementById('username').value.trim();
  const password = document.getElementById('password').value;
  if (!username || !password) {
    showError(errBox, null, t('login.err.required'));
    return;
  }
  const btn = document.getElementById('login-submit');
  btn.disabled = true;
  try {
    const m = await api('POST', '/api/v1/session', { username, password });
    setCSRF(m.csrf_token);
    next(m);
  } catch (err) {
    showError(errBox, err instanceof ApiError ? err : null, t('err.network'));
    btn.disabled = false;
  }
});
