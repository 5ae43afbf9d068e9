// The scheduler API from the browser: JSON in and out, the CSRF token on every changing request,
// errors as ApiError with the server's stable code, message (in the page's language) and field.

import { lang } from './i18n.js';

let csrfToken = '';

export class ApiError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    super(e.message || `HTTP ${status}`);
    this.status = status;
    this.code = e.code || 'http';
    this.field = e.field || '';
    this.lines = e.lines || [];
  }
}

export function setCSRF(token) {
  csrfToken = token || '';
}

// api sends method path with body (an object sent as JSON, or a string sent as CSV).
export async function api(method, path, body) {
  const headers = { 'Accept-Language': lang() === 'en' ? 'en' : 'zh-CN' };
  let payload;
  if (typeof body === 'string') {
    headers['Content-Type'] = 'text/csv';
    payload = body;
  } else if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  if (method !== 'GET' && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  const res = await fetch(path, { method, headers, body: payload, credentials: 'same-origin' });
  if (res.status === 204) return null;
  let data = null;
  try {
    data = await res.json();
  } catch {
    data = null;
  }
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

// me loads the logged-in user (and the CSRF token); null when nobody is logged in.
export async function me() {
  try {
    const m = await api('GET', '/api/v1/me');
    setCSRF(m.csrf_token);
    return m;
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return null;
    throw err;
  }
}

// requireLogin sends the browser to the login page unless someone is logged in (with the
// second factor given), to the TOTP page when the user must enrol, and to the password page when
// the password must be changed first.
export async function requireLogin({ allowMustChange = false, allowEnrol = false } = {}) {
  const m = await me();
  const here = encodeURIComponent(location.pathname + location.search);
  if (!m || m.pending === 'totp') {
    // Back here after the login (login.js reads ?next=).
    location.replace('login.html?next=' + here);
    return null;
  }
  if (m.pending === 'enrol' && !allowEnrol) {
    location.replace('totp.html?next=' + here);
    return null;
  }
  if (m.must_change_password && !allowMustChange) {
    // Back here once the password is changed (password.js lands on ?next=).
    location.replace('password.html?next=' + encodeURIComponent(location.pathname + location.search));
    return null;
  }
  return m;
}

export async function logout() {
  try {
    await api('DELETE', '/api/v1/session');
  } finally {
    location.replace('login.html');
  }
}
