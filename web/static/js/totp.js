import { initPage, showUser, showError } from './nav.js';
import { api, requireLogin, setCSRF, ApiError } from './api.js';
import { t } from './i18n.js';
import { land } from './landing.js';

initPage();

const errBox = document.getElementById('totp-error');
const form = document.getElementById('totp-enrol');

// The page a login that must enrol is sent to (landing.js), and where anyone may set up an
// authenticator: the secret is shown as an otpauth:// link and as text, confirmed by a first
// code; the recovery codes are shown once.
const m = await requireLogin({ allowEnrol: true, allowMustChange: true });
if (m) {
  showUser(m);
  if (m.totp.enrolled) {
    document.getElementById('totp-enrolled').hidden = false;
    document.getElementById('totp-recovery-left').textContent = t('totp.recovery_left', { n: m.totp.recovery_left });
  } else {
    document.getElementById('totp-required').hidden = !m.totp.required;
    start();
  }
}

async function start() {
  try {
    const en = await api('POST', '/api/v1/me/totp');
    document.getElementById('totp-uri').value = en.uri;
    document.getElementById('totp-uri-link').href = en.uri;
    // Groups of four, as apps show a key: easier to type.
    document.getElementById('totp-secret').value = en.secret.replace(/(.{4})/g, '$1 ').trim();
    form.hidden = false;
    document.getElementById('totp-code').focus();
  } catch (err) {
    showError(errBox, err instanceof ApiError ? err : null, t('err.network'));
  }
}

form.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  errBox.hidden = true;
  const code = document.getElementById('totp-code').value.replace(/\s/g, '');
  if (!code) {
    showError(errBox, null, t('totp.err.required'));
    return;
  }
  const btn = document.getElementById('totp-confirm');
  btn.disabled = true;
  try {
    const conf = await api('POST', '/api/v1/me/totp/confirm', { code });
    setCSRF(conf.me.csrf_token);
    form.hidden = true;
    const list = document.getElementById('totp-code-list');
    for (const c of conf.recovery_codes) {
      const li = document.createElement('li');
      li.textContent = c;
      list.append(li);
    }
    document.getElementById('totp-codes').hidden = false;
    document.getElementById('totp-saved').addEventListener('click', () => land(conf.me, 'index.html'));
  } catch (err) {
    showError(errBox, err instanceof ApiError ? err : null, t('err.network'));
    btn.disabled = false;
  }
});
