import { initPage, showUser, showError } from './nav.js';
import { api, me, requireLogin, ApiError } from './api.js';
import { t } from './i18n.js';
import { land } from './landing.js';

initPage();

const form = document.getElementById('password-form');
const errBox = document.getElementById('password-error');

const m = await requireLogin({ allowMustChange: true });
if (m) {
  showUser(m);
  document.getElementById('password-must').hidden = !m.must_change_password;
}

form.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  errBox.hidden = true;
  const oldPw = document.getElementById('old-password').value;
  const newPw = document.getElementById('new-password').value;
  if (newPw !== document.getElementById('new-password2').value) {
    showError(errBox, null, t('password.err.mismatch'));
    return;
  }
  const btn = document.getElementById('password-submit');
  btn.disabled = true;
  try {
    await api('POST', '/api/v1/me/password', { old_password: oldPw, new_password: newPw });
    document.getElementById('password-done').hidden = false;
    // On to where the user works (or ?next=), now that the password no longer blocks it.
    const m2 = await me();
    if (m2) land(m2, 'index.html');
    else location.replace('login.html');
  } catch (err) {
    showError(errBox, err instanceof ApiError ? err : null, t('err.network'));
    btn.disabled = false;
  }
});
