// The join page: room, name and role become a join token (from the development endpoint
// POST /dev/token while there is no login), or the person pastes a token they were given. The
// call page gets the token in the URL fragment, which the browser never sends to any server.

import { applyI18n, errorText, initI18n, LocalizedError, mountLangSwitch, onLangChange, setText } from './i18n.js';
import { ROLES } from './roles.js';

const $ = (id) => document.getElementById(id);
const ROOM_KEY = 'sanji.room';
const ROLE_KEY = 'sanji.role';
const DEFAULT_ROLE = 'observer';

let shownError = null;

function remember(key, value) {
  try {
    localStorage.setItem(key, value);
  } catch {
    // not remembered; nothing else depends on it
  }
}

function recall(key) {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}

function showError(err) {
  shownError = err;
  const box = $('join-error');
  box.textContent = errorText(err);
  box.hidden = !err;
}

function setBusy(busy) {
  $('join-submit').disabled = busy;
  $('join-busy').hidden = !busy;
}

// tokenFrom accepts a bare token or any text with "token=..." in it (a whole call link).
export function tokenFrom(text) {
  let s = (text || '').trim();
  const at = s.indexOf('token=');
  if (at >= 0) {
    s = s.slice(at + 'token='.length).split(/[&\s]/)[0];
    try {
      s = decodeURIComponent(s);
    } catch {
      return null;
    }
  }
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(s) ? s : null;
}

function enterCall(token) {
  window.location.assign(`call.html#token=${encodeURIComponent(token)}`);
}

async function devToken(room, name, role) {
  let res;
  try {
    res = await fetch(new URL('dev/token', window.location.href), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ room, name, role }),
      credentials: 'same-origin',
      cache: 'no-store',
    });
  } catch {
    throw new LocalizedError('join.err.network');
  }
  if (res.status === 404) {
    const err = new LocalizedError('join.err.devTokenMissing');
    err.noDevEndpoint = true;
    throw err;
  }
  let body = null;
  try {
    body = await res.json();
  } catch {
    // handled below
  }
  if (!res.ok) {
    // The server's errors carry message_zh / message_en, at the top or under "error".
    const e = body?.error && typeof body.error === 'object' ? body.error : body;
    if (e && (e.message_zh || e.message_en)) throw e;
    throw new LocalizedError('join.err.http', { status: res.status });
  }
  if (!body || typeof body.token !== 'string' || !body.token) {
    throw new LocalizedError('join.err.badResponse');
  }
  return body.token;
}

async function onSubmit(ev) {
  ev.preventDefault();
  showError(null);
  const box = $('token-box');
  const pasted = $('token').value.trim();
  if (box.open && pasted) {
    const token = tokenFrom(pasted);
    if (!token) {
      showError(new LocalizedError('join.err.badToken'));
      $('token').focus();
      return;
    }
    enterCall(token);
    return;
  }
  const room = $('room').value.trim();
  const name = $('name').value.trim();
  const role = $('role').value;
  if (!room) {
    showError(new LocalizedError('join.err.roomRequired'));
    $('room').focus();
    return;
  }
  if (!name) {
    showError(new LocalizedError('join.err.nameRequired'));
    $('name').focus();
    return;
  }
  remember(ROOM_KEY, room);
  remember(ROLE_KEY, role);
  setBusy(true);
  try {
    enterCall(await devToken(room, name, role));
  } catch (err) {
    showError(err);
    if (err.noDevEndpoint) {
      box.open = true;
      $('token').focus();
    }
  } finally {
    setBusy(false);
  }
}

function init() {
  const select = $('role');
  const chosen = recall(ROLE_KEY);
  for (const role of ROLES) {
    const opt = document.createElement('option');
    opt.value = role;
    setText(opt, `role.${role}`);
    select.append(opt);
  }
  select.value = ROLES.includes(chosen) ? chosen : DEFAULT_ROLE;

  const params = new URLSearchParams(window.location.search);
  $('room').value = params.get('room') || recall(ROOM_KEY) || '';

  initI18n();
  mountLangSwitch($('lang'));
  applyI18n($('lang'));
  onLangChange(() => showError(shownError));

  $('join-form').addEventListener('submit', onSubmit);
  ($('room').value ? $('name') : $('room')).focus();
  document.body.dataset.ready = 'true';
}

init();
