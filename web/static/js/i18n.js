// Translation for every page: elements name their text with data-i18n="key" (and attributes with
// data-i18n-attr="placeholder=key,title=key2"); scripts call t(key, params). Chinese is the default
// language, English the second. The choice is remembered in localStorage.

import { catalog } from './catalog.js';

const STORAGE_KEY = 'sanji.lang';
export const LANGS = ['zh', 'en'];
export const DEFAULT_LANG = 'zh';

// The messages themselves live in the server's catalogs (Chinese and English side by side); the
// server serves them as one module.
const INDEX = { zh: 0, en: 1 };

function stored() {
  try {
    return localStorage.getItem(STORAGE_KEY);
  } catch {
    return null; // storage can be disabled; the default language still works
  }
}

let current = LANGS.includes(stored()) ? stored() : DEFAULT_LANG;

export function lang() {
  return current;
}

// t looks the key up in the chosen language, falls back to Chinese, then to the key itself so
// a missing translation is visible rather than blank. {name} in the text takes params.name.
export function t(key, params = {}) {
  return render(current, key, params);
}

// tIn is t in language l, whatever the page's (the hall speaks Chinese to petitioners).
export function tIn(l, key, params = {}) {
  return render(l, key, params);
}

// A parameter may itself be {key, params}: it is translated too, in the same language.
function render(l, key, params = {}) {
  const entry = catalog[key];
  const text = entry ? entry[INDEX[l] ?? 0] : key;
  return text.replace(/\{(\w+)\}/g, (m, name) => {
    if (!(name in params)) return m;
    const v = params[name];
    if (v && typeof v === 'object' && typeof v.key === 'string') return render(l, v.key, v.params);
    return String(v);
  });
}

export function has(key) {
  return Object.hasOwn(catalog, key);
}

// LocalizedError is an error raised in the page: it names a message key, so it is shown in
// whatever language is chosen when it is displayed.
export class LocalizedError extends Error {
  constructor(key, params = {}) {
    // The Error's own message is for logs and the console; people see errorText().
    super(render('en', key, params));
    this.name = 'LocalizedError';
    this.key = key;
    this.params = params;
  }
}

// errorText renders anything that can go wrong: a server error carries message_zh and
// message_en, a LocalizedError a key, anything else only its own message.
export function errorText(err) {
  if (err == null) return '';
  if (typeof err === 'string') return err;
  if (err.message_zh || err.message_en) {
    const pick = current === 'en' ? err.message_en || err.message_zh : err.message_zh || err.message_en;
    return pick;
  }
  if (err.key) return t(err.key, err.params);
  return t('err.unknown', { reason: err.message || String(err) });
}

// applyI18n fills every data-i18n element (and data-i18n-attr attribute) under root. Keys with
// parameters keep them as JSON in data-i18n-params.
export function applyI18n(root = document) {
  const all = (sel) => {
    const found = [...root.querySelectorAll(sel)];
    if (root.matches?.(sel)) found.unshift(root);
    return found;
  };
  for (const el of all('[data-i18n]')) {
    el.textContent = t(el.dataset.i18n, params(el));
  }
  for (const el of all('[data-i18n-attr]')) {
    for (const pair of el.dataset.i18nAttr.split(',')) {
      const [attr, key] = pair.split('=').map((s) => s.trim());
      if (attr && key) el.setAttribute(attr, t(key, params(el)));
    }
  }
}

function params(el) {
  if (!el.dataset.i18nParams) return {};
  try {
    return JSON.parse(el.dataset.i18nParams);
  } catch {
    return {};
  }
}

// setText marks el as translated text with key and params, and fills it now.
export function setText(el, key, p) {
  el.dataset.i18n = key;
  if (p) el.dataset.i18nParams = JSON.stringify(p);
  else delete el.dataset.i18nParams;
  el.textContent = t(key, p);
}

export function setLang(next) {
  if (!LANGS.includes(next)) return;
  current = next;
  try {
    localStorage.setItem(STORAGE_KEY, next);
  } catch {
    // not remembered, still switched
  }
  document.documentElement.lang = next === 'zh' ? 'zh-CN' : 'en';
  applyI18n(document);
  document.dispatchEvent(new CustomEvent('sanji:langchange', { detail: { lang: next } }));
}

export function onLangChange(fn) {
  document.addEventListener('sanji:langchange', () => fn(current));
}

// mountLangSwitch puts the 中文 / English buttons into container. Each label is written in its
// own language so a reader who cannot read the current one still finds theirs.
export function mountLangSwitch(container) {
  container.classList.add('lang-switch');
  container.setAttribute('role', 'group');
  container.dataset.i18nAttr = 'aria-label=lang.switch';
  const labels = { zh: '中文', en: 'English' };
  const buttons = LANGS.map((l) => {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = labels[l];
    b.lang = l === 'zh' ? 'zh-CN' : 'en';
    b.dataset.lang = l;
    b.addEventListener('click', () => setLang(l));
    container.append(b);
    return b;
  });
  const mark = () => {
    for (const b of buttons) b.setAttribute('aria-pressed', String(b.dataset.lang === current));
  };
  mark();
  onLangChange(mark);
}

// initI18n applies the remembered language to the page once, at start.
export function initI18n() {
  document.documentElement.lang = current === 'zh' ? 'zh-CN' : 'en';
  applyI18n(document);
}
