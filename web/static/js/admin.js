// The unit and user admin page: the tree of units the user may see, and for the chosen unit its
// halls, its users and forms to add users and units (shown only when the user may).

import { initPage, showUser, showError } from './nav.js';
import { api, requireLogin, ApiError } from './api.js';
import { t, setText } from './i18n.js';

initPage();

const ROLES = ['leader', 'hall_operator', 'intake_officer', 'case_handler', 'unit_head', 'supervisor',
  'scheduler_staff', 'observer', 'admin', 'auditor'];
const CHILD_KINDS = { root: ['city'], city: ['district', 'department'], district: ['township', 'department'],
  township: ['department'], department: [] };

const errBox = document.getElementById('admin-error');
const okBox = document.getElementById('admin-ok');
let me = null;
let units = [];
let halls = [];
let users = [];
let selected = null;

function can(action) {
  return me.can.includes(action);
}

function fail(err) {
  showError(errBox, err instanceof ApiError ? err : null, t('err.network'));
}

function ok(key, params) {
  errBox.hidden = true;
  setText(okBox, key, params);
  okBox.hidden = false;
}

async function load() {
  const [u, h] = await Promise.all([api('GET', '/api/v1/units'), api('GET', '/api/v1/halls')]);
  units = u.units;
  halls = h.halls;
  users = can('user.read') ? (await api('GET', '/api/v1/users')).users : [];
  renderTree();
  if (selected) select(units.find((x) => x.id === selected.id) || null);
}

function renderTree() {
  const byParent = new Map();
  const ids = new Set(units.map((u) => u.id));
  for (const u of units) {
    const p = ids.has(u.parent_id) ? u.parent_id : 0;
    if (!byParent.has(p)) byParent.set(p, []);
    byParent.get(p).push(u);
  }
  const build = (parent) => {
    const ul = document.createElement('ul');
    for (const u of byParent.get(parent) || []) {
      const li = document.createElement('li');
      li.dataset.unitId = u.id;
      li.dataset.code = u.code;
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'unit-name';
      b.textContent = u.name;
      if (selected && selected.id === u.id) b.setAttribute('aria-current', 'true');
      b.addEventListener('click', () => select(u));
      const k = document.createElement('span');
      k.className = 'kind';
      setText(k, `admin.kind.${u.kind}`);
      li.append(b, k);
      if (byParent.has(u.id)) li.append(build(u.id));
      ul.append(li);
    }
    return ul;
  };
  const tree = document.getElementById('tree');
  tree.replaceChildren(...build(0).children);
}

function select(u) {
  selected = u;
  document.getElementById('admin-select').hidden = !!u;
  document.getElementById('detail').hidden = !u;
  for (const b of document.querySelectorAll('#tree button')) {
    b.setAttribute('aria-current', String(!!u && b.parentElement.dataset.unitId === String(u.id)));
  }
  if (!u) return;
  document.getElementById('unit-title').textContent = u.name;
  document.getElementById('unit-meta').textContent = `${t(`admin.kind.${u.kind}`)} · ${u.code}`;
  const hl = document.getElementById('halls');
  hl.replaceChildren();
  for (const h of halls.filter((x) => x.unit_id === u.id)) {
    const li = document.createElement('li');
    li.textContent = h.name + ' ';
    if (can('call.join')) {
      // A join token for the hall's room with the user's role there, then the call page.
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'btn-link join-hall';
      b.dataset.hallId = h.id;
      setText(b, 'nav.join');
      b.addEventListener('click', async () => {
        try {
          const jt = await api('POST', '/api/v1/join-tokens', { hall_id: h.id });
          location.assign(`call.html#token=${encodeURIComponent(jt.token)}`);
        } catch (err) {
          fail(err);
        }
      });
      li.append(b);
    }
    hl.append(li);
  }
  if (!hl.children.length) {
    const li = document.createElement('li');
    setText(li, 'admin.none');
    hl.append(li);
  }
  document.getElementById('users-box').hidden = !can('user.read');
  const ul = document.getElementById('users');
  ul.replaceChildren(...users.filter((y) => y.unit_id === u.id).map(userItem));
  document.getElementById('user-form').hidden = !can('user.write');
  const unitHalls = halls.filter((x) => x.unit_id === u.id);
  document.getElementById('device-form').hidden = !can('user.write') || unitHalls.length === 0;
  document.getElementById('device-hall').replaceChildren(...unitHalls.map((h) => {
    const o = document.createElement('option');
    o.value = String(h.id);
    o.textContent = h.name;
    return o;
  }));
  const kinds = CHILD_KINDS[u.kind] || [];
  document.getElementById('unit-form').hidden = !can('unit.write') || kinds.length === 0;
  const ks = document.getElementById('unit-kind');
  ks.replaceChildren(...kinds.map((k) => {
    const o = document.createElement('option');
    o.value = k;
    setText(o, `admin.kind.${k}`);
    return o;
  }));
  document.getElementById('import-form').hidden = !can('unit.write');
}

const unitLabel = (id) => {
  const x = units.find((y) => y.id === id);
  return x ? x.name : `#${id}`;
};

function button(key, cls, onClick) {
  const b = document.createElement('button');
  b.type = 'button';
  b.className = cls;
  setText(b, key);
  b.addEventListener('click', onClick);
  return b;
}

// userItem is one user of the unit: who, their grants (each revocable) and, for those who may
// change users, a form to grant a role at a unit and a button to disable or re-enable them.
function userItem(x) {
  const li = document.createElement('li');
  li.className = 'user-item';
  li.dataset.username = x.username;
  li.dataset.userId = x.id;
  li.dataset.disabled = String(x.disabled);
  const line = document.createElement('span');
  const kind = x.kind === 'device' ? ' · ' + t('admin.device') : '';
  line.textContent = `${x.display_name} (${x.username})${kind}${x.disabled ? ' · ' + t('admin.disabled') : ''}`;
  li.append(line);
  const write = can('user.write');
  if (write) {
    li.append(' ', button(x.disabled ? 'adm.enable' : 'adm.disable', 'btn-link toggle-disabled', () => setDisabled(x, !x.disabled)));
    // A lost phone: the user's authenticator is reset and their next login enrols afresh.
    if (x.kind !== 'device') li.append(' ', button('totp.admin.reset', 'btn-link reset-totp', () => resetTOTP(x)));
  }
  const gl = document.createElement('ul');
  gl.className = 'grants';
  for (const g of x.grants || []) {
    const gi = document.createElement('li');
    gi.dataset.grantId = g.id;
    gi.dataset.role = g.role;
    gi.dataset.unitId = g.unit_id;
    const span = document.createElement('span');
    setText(span, 'adm.grantAt', { role: { key: `role.${g.role}` }, unit: unitLabel(g.unit_id) });
    gi.append(span);
    // A terminal's one grant is its hall's; the server refuses changing it, so no button offers it.
    if (write && x.kind !== 'device') gi.append(' ', button('adm.revoke', 'btn-link revoke', () => revoke(x, g)));
    gl.append(gi);
  }
  if (!gl.children.length) {
    const none = document.createElement('li');
    setText(none, 'adm.noGrants');
    gl.append(none);
  }
  li.append(gl);
  if (write && x.kind !== 'device') li.append(grantForm(x));
  return li;
}

function grantForm(x) {
  const f = document.createElement('form');
  f.className = 'grant-form';
  f.noValidate = true;
  const role = document.createElement('select');
  role.className = 'grant-role';
  role.dataset.field = 'role grant.role';
  setAttrLabel(role, 'adm.grantRole');
  role.append(...ROLES.map((r) => {
    const o = document.createElement('option');
    o.value = r;
    setText(o, `role.${r}`);
    return o;
  }));
  const unit = document.createElement('select');
  unit.className = 'grant-unit';
  unit.dataset.field = 'unit_id';
  setAttrLabel(unit, 'adm.grantUnit');
  unit.append(...units.map((u) => {
    const o = document.createElement('option');
    o.value = String(u.id);
    o.textContent = `${u.name} (${u.code})`;
    return o;
  }));
  unit.value = String(selected.id);
  const submit = document.createElement('button');
  submit.type = 'submit';
  submit.className = 'btn grant-submit';
  setText(submit, 'adm.grant');
  f.append(role, unit, submit);
  f.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    okBox.hidden = true;
    try {
      await api('POST', `/api/v1/users/${x.id}/grants`, { role: role.value, unit_id: Number(unit.value) });
      ok('adm.granted', { user: x.username, role: { key: `role.${role.value}` }, unit: unitLabel(Number(unit.value)) });
      await load();
    } catch (err) {
      failAt(err, f);
    }
  });
  return f;
}

// setAttrLabel names a control for screen readers in the page's language.
function setAttrLabel(el, key) {
  el.dataset.i18nAttr = `aria-label=${key}`;
  el.setAttribute('aria-label', t(key));
}

async function revoke(x, g) {
  okBox.hidden = true;
  try {
    await api('DELETE', `/api/v1/users/${x.id}/grants/${g.id}`);
    ok('adm.revoked', { user: x.username, role: { key: `role.${g.role}` }, unit: unitLabel(g.unit_id) });
    await load();
  } catch (err) {
    fail(err);
  }
}

async function resetTOTP(x) {
  okBox.hidden = true;
  if (!confirm(t('totp.admin.confirm', { user: x.username }))) return;
  try {
    await api('DELETE', `/api/v1/users/${x.id}/totp`);
    ok('totp.admin.done', { user: x.username });
  } catch (err) {
    fail(err);
  }
}

async function setDisabled(x, disabled) {
  okBox.hidden = true;
  try {
    await api('PATCH', `/api/v1/users/${x.id}`, { disabled });
    ok(disabled ? 'adm.disabledOk' : 'adm.enabledOk', { user: x.username });
    await load();
  } catch (err) {
    fail(err);
  }
}

// failAt shows err and focuses the control of form it names.
function failAt(err, form) {
  fail(err);
  if (err instanceof ApiError && err.field) {
    const f = [...form.querySelectorAll('[data-field]')].find((e) => e.dataset.field.split(' ').includes(err.field));
    if (f) f.focus();
  }
}

function fillRoles() {
  const sel = document.getElementById('new-role');
  sel.replaceChildren(...ROLES.map((r) => {
    const o = document.createElement('option');
    o.value = r;
    setText(o, `role.${r}`);
    return o;
  }));
}

document.getElementById('user-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  okBox.hidden = true;
  const username = document.getElementById('new-username').value.trim();
  const displayName = document.getElementById('new-display-name').value.trim();
  const role = document.getElementById('new-role').value;
  try {
    const res = await api('POST', '/api/v1/users', { username, display_name: displayName, unit_id: selected.id,
      grants: [{ role, unit_id: selected.id }] });
    ok('admin.created', { username: res.user.username, password: res.password });
    okBox.dataset.password = res.password;
    document.getElementById('new-username').value = '';
    document.getElementById('new-display-name').value = '';
    await load();
  } catch (err) {
    fail(err);
  }
});

document.getElementById('device-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  okBox.hidden = true;
  try {
    const res = await api('POST', '/api/v1/devices', { hall_id: Number(document.getElementById('device-hall').value),
      username: document.getElementById('device-username').value.trim(),
      display_name: document.getElementById('device-display-name').value.trim() });
    ok('admin.paired', { username: res.device.username, code: res.code });
    await load();
  } catch (err) {
    fail(err);
  }
});

document.getElementById('unit-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  okBox.hidden = true;
  try {
    const u = await api('POST', '/api/v1/units', { parent_id: selected.id, kind: document.getElementById('unit-kind').value,
      code: document.getElementById('unit-code').value.trim(), name: document.getElementById('unit-name').value.trim() });
    ok('admin.unitCreated', { name: u.name });
    await load();
  } catch (err) {
    fail(err);
  }
});

document.getElementById('import-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  okBox.hidden = true;
  try {
    const res = await api('POST', '/api/v1/units/import', document.getElementById('import-csv').value);
    ok('admin.imported', res);
    await load();
  } catch (err) {
    fail(err);
    if (err instanceof ApiError && err.lines.length) {
      const en = document.documentElement.lang === 'en';
      errBox.textContent += ' ' + err.lines.map((l) => t('admin.line', { line: l.line, message: en ? l.message_en : l.message_zh })).join(' ');
    }
  }
});

me = await requireLogin();
if (me) {
  showUser(me);
  document.getElementById('nav-audit').hidden = !can('audit.read');
  fillRoles();
  try {
    await load();
    // admin.html?unit=<code> opens that unit, so a link can lead to a unit's users.
    const code = new URLSearchParams(location.search).get('unit');
    const unit = code && units.find((x) => x.code === code);
    if (unit) select(unit);
    window.sanjiAdmin = { ready: true };
  } catch (err) {
    fail(err);
  }
}
