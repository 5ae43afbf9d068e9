import { initPage, showError } from './nav.js';
import { api, me, setCSRF, ApiError } from './api.js';
import { t } from './i18n.js';
import { land } from './landing.js';

initPage();

const form = document.getElementById('login-form');
const errBox = document.getElementById('login-error');

const totpForm = document.getElementById('totp-form');
const totpErr = document.getElementById('totp-error');

// next is where a logged-in user goes (landing.js): the second factor or the TOTP enrolment
// first, then the password page when it must change.
const next = (m) => {
  if (m.pending === 'totp') {
    form.hidden = true;
    totpForm.hidden = false;
    document.getElementById('totp-code').focus();
    return;
  }
  land(m, 'index.html');
};

me().then((m) => { if (m) next(m); }).catch(() => {});

let useRecovery = false;
document.getElementById('totp-use-recovery').addEventListener('click', () => {
  useRecovery = !useRecovery;
  document.getElementById('totp-code-field').hidden = useRecovery;
  document.getElementById('totp-help').hidden = useRecovery;
  document.getElementById('totp-recovery-field').hidden = !useRecovery;
  document.getElementById('totp-recovery-help').hidden = !useRecovery;
  document.getElementById('totp-use-recovery').textContent = t(useRecovery ? 'totp.login.use_code' : 'totp.login.use_recovery');
});

totpForm.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  totpErr.hidden = true;
  const body = useRecovery
    ? { recovery_code: document.getElementById('totp-recovery').value.trim() }
    : { code: document.getElementById('totp-code').value.replace(/\s/g, '') };
  if (!body.code && !body.recovery_code) {
    showError(totpErr, null, t('totp.err.required'));
    return;
  }
  const btn = document.getElementById('totp-submit');
  btn.disabled = true;
  try {
    const m = await api('POST', '/api/v1/session/totp', body);
    setCSRF(m.csrf_token);
    next(m);
  } catch (err) {
    // A waiting login lasts ten minutes: after that, start again with the password.
    if (err instanceof ApiError && err.status === 401 && err.code === 'unauthenticated') {
      location.reload();
      return;
    }
    showError(totpErr, err instanceof ApiError ? err : null, t('err.network'));
    btn.disabled = false;
  }
});

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
