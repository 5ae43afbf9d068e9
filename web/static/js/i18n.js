// Translation for every page: elements name their text with data-i18n="key" (and attributes with
// data-i18n-attr="placeholder=key,title=key2"); scripts call t(key, params). Chinese is the default
// language, English the second. The choice is remembered in localStorage.

const STORAGE_KEY = 'sanji.lang';
export const LANGS = ['zh', 'en'];
export const DEFAULT_LANG = 'zh';

const messages = {
  zh: {
    'app.name': '三级视频接访',
    'app.tagline': '视频接访系统',
    'lang.switch': '语言',

    'role.leader': '领导',
    'role.hall_operator': '接访员',
    'role.intake_officer': '登记员',
    'role.case_handler': '承办人',
    'role.unit_head': '单位负责人',
    'role.supervisor': '督办员',
    'role.scheduler_staff': '排班员',
    'role.petitioner': '信访人',
    'role.observer': '观察员',
    'role.admin': '管理员',

    'dev.only': '开发用 · 仅供开发和测试，不用于正式接访',
    'join.title': '加入视频接访 · 三级视频接访',
    'join.heading': '加入视频接访',
    'join.intro': '填写房间和您的名称，选择角色后进入。',
    'join.room': '房间',
    'join.room.placeholder': '例如 demo',
    'join.name': '显示名称',
    'join.name.placeholder': '其他参会者看到的名称',
    'join.role': '角色',
    'join.submit': '进入',
    'join.busy': '正在获取加入令牌…',
    'join.token.toggle': '我有加入令牌',
    'join.token': '加入令牌',
    'join.token.placeholder': '粘贴令牌，或包含令牌的链接',
    'join.token.hint': '有令牌时不需要填写房间和名称，令牌中已包含。',
    'join.err.devTokenMissing': '此服务器没有开放开发令牌接口（未以 --dev 启动）。请向管理员索取加入令牌，粘贴在下方后进入。',
    'join.err.roomRequired': '请填写房间。',
    'join.err.nameRequired': '请填写显示名称。',
    'join.err.network': '无法连接服务器，请检查网络后重试。',
    'join.err.http': '获取加入令牌失败（HTTP {status}），请稍后重试或联系管理员。',
    'join.err.badResponse': '服务器的回应无法识别，请稍后重试或联系管理员。',
    'join.err.badToken': '令牌格式不正确，请粘贴完整的令牌。',

    'call.title': '通话 · 三级视频接访',
    'call.room': '房间 {room}',
    'call.you': '{name}（我）',
    'call.connecting': '正在连接…',
    'call.waiting': '等待其他参会者加入…',
    'call.mic.mute': '关闭麦克风',
    'call.mic.unmute': '打开麦克风',
    'call.cam.off': '关闭摄像头',
    'call.cam.on': '打开摄像头',
    'call.leave': '离开',
    'call.sound': '点击开启声音',
    'call.muted': '已静音',
    'call.camOff': '摄像头已关闭',
    'call.noCamera': '无视频',
    'call.ended': '通话已结束',
    'call.rejoin': '重新加入',
    'call.back': '返回加入页',
    'call.dismiss': '关闭',
    'call.participants': '{n} 人在线',

    'status.ws': '信令',
    'status.publisher': '发送',
    'status.subscriber': '接收',
    'status.rtt': '延迟 {ms} 毫秒',
    'status.server': '服务器视角：{state}',

    'quality.label': '网络质量',
    'quality.up': '上行网络：{level}',
    'quality.down': '下行网络：{level}',
    'quality.level.good': '良好',
    'quality.level.fair': '一般',
    'quality.level.poor': '较差',
    'quality.detail': '丢包 {loss}% · 往返 {rtt} 毫秒',
    'quality.selfPoor': '您的网络较差，对方可能看不清',
    'quality.selfFair': '您的网络不稳定，对方画面可能卡顿',
    'quality.downPoor': '您的接收网络较差，画面可能模糊或暂停',
    'quality.lowered': '{name}：网络较差，已降为低清',
    'quality.paused': '{name}：网络较差，视频已暂停（仅音频）',
    'quality.theirLink': '{name}：对方网络不稳定',
    'state.new': '未开始',
    'state.connecting': '连接中',
    'state.open': '已连接',
    'state.connected': '已连接',
    'state.disconnected': '中断',
    'state.failed': '失败',
    'state.closed': '已关闭',
    'state.none': '未使用',

    'bye.leave': '您已离开通话。',
    'bye.shutdown': '服务器正在关闭，通话已结束。请稍后重新加入。',
    'bye.removed': '您已被移出此房间。如有疑问请联系接访员。',
    'bye.other': '服务器结束了此次会话（{reason}）。请重新加入。',

    'err.noToken': '链接中没有加入令牌。请从加入页进入。',
    'err.wsFailed': '无法连接信令服务器。请检查网络，或确认服务器正在运行，然后重新加入。',
    'err.wsClosed': '与服务器的连接已断开（代码 {code}）。请检查网络后重新加入。',
    'err.timeout': '服务器没有在 {s} 秒内回应“{type}”。请检查网络后重试。',
    'err.notConnected': '尚未连接服务器，请稍候再试。',
    'err.media': '无法使用摄像头和麦克风（{reason}），您只能看到和听到他人。请检查设备和浏览器权限后重新加入。',
    'err.camera': '无法使用摄像头（{reason}），只发送声音。请检查设备和浏览器权限。',
    'err.pcFailed': '{target}媒体连接失败。请检查网络或防火墙（需允许 UDP），然后重新加入。',
    'err.negotiation': '媒体协商失败（{reason}）。请重新加入；如果反复出现，请联系管理员。',
    'err.noTrack': '还没有可以静音的{kind}轨道。',
    'err.unknown': '出现未知错误（{reason}）。请重新加入；如果反复出现，请联系管理员。',
    'kind.audio': '音频',
    'kind.video': '视频',
    'target.publisher': '发送',
    'target.subscriber': '接收',
  },
  en: {
    'app.name': 'Sanji video reception',
    'app.tagline': 'Three-tier video reception',
    'lang.switch': 'Language',

    'role.leader': 'Leader',
    'role.hall_operator': 'Hall operator',
    'role.intake_officer': 'Intake officer',
    'role.case_handler': 'Case handler',
    'role.unit_head': 'Unit head',
    'role.supervisor': 'Supervisor',
    'role.scheduler_staff': 'Scheduling staff',
    'role.petitioner': 'Petitioner',
    'role.observer': 'Observer',
    'role.admin': 'Administrator',

    'dev.only': 'Development only: for development and testing, not for real receptions',
    'join.title': 'Join a video reception · Sanji',
    'join.heading': 'Join a video reception',
    'join.intro': 'Enter the room and your name, choose your role, then join.',
    'join.room': 'Room',
    'join.room.placeholder': 'e.g. demo',
    'join.name': 'Display name',
    'join.name.placeholder': 'The name the others see',
    'join.role': 'Role',
    'join.submit': 'Join',
    'join.busy': 'Getting a join token…',
    'join.token.toggle': 'I have a join token',
    'join.token': 'Join token',
    'join.token.placeholder': 'Paste a token, or a link that contains one',
    'join.token.hint': 'With a token you need no room or name: the token holds them.',
    'join.err.devTokenMissing': 'This server has no development token endpoint (it does not run with --dev). Ask an administrator for a join token, paste it below and join.',
    'join.err.roomRequired': 'Enter a room.',
    'join.err.nameRequired': 'Enter a display name.',
    'join.err.network': 'Cannot reach the server. Check the network and try again.',
    'join.err.http': 'Getting a join token failed (HTTP {status}). Try again later or contact an administrator.',
    'join.err.badResponse': 'The server sent an answer this page does not understand. Try again later or contact an administrator.',
    'join.err.badToken': 'The token is malformed. Paste the whole token.',

    'call.title': 'Call · Sanji',
    'call.room': 'Room {room}',
    'call.you': '{name} (you)',
    'call.connecting': 'Connecting…',
    'call.waiting': 'Waiting for others to join…',
    'call.mic.mute': 'Mute microphone',
    'call.mic.unmute': 'Unmute microphone',
    'call.cam.off': 'Turn camera off',
    'call.cam.on': 'Turn camera on',
    'call.leave': 'Leave',
    'call.sound': 'Click to turn on sound',
    'call.muted': 'Muted',
    'call.camOff': 'Camera off',
    'call.noCamera': 'No video',
    'call.ended': 'The call has ended',
    'call.rejoin': 'Join again',
    'call.back': 'Back to the join page',
    'call.dismiss': 'Dismiss',
    'call.participants': '{n} online',

    'status.ws': 'Signaling',
    'status.publisher': 'Send',
    'status.subscriber': 'Receive',
    'status.rtt': 'latency {ms} ms',
    'status.server': 'server sees: {state}',

    'quality.label': 'Network quality',
    'quality.up': 'Uplink: {level}',
    'quality.down': 'Downlink: {level}',
    'quality.level.good': 'good',
    'quality.level.fair': 'fair',
    'quality.level.poor': 'poor',
    'quality.detail': 'loss {loss}% · round trip {rtt} ms',
    'quality.selfPoor': 'Your link is poor: others may see you lowered',
    'quality.selfFair': 'Your link is unstable: others may see you stutter',
    'quality.downPoor': 'Your downlink is poor: pictures may be blurred or paused',
    'quality.lowered': '{name}: poor link, lowered to low quality',
    'quality.paused': '{name}: video paused, poor link (audio only)',
    'quality.theirLink': '{name}: their link is unstable',
    'state.new': 'not started',
    'state.connecting': 'connecting',
    'state.open': 'connected',
    'state.connected': 'connected',
    'state.disconnected': 'interrupted',
    'state.failed': 'failed',
    'state.closed': 'closed',
    'state.none': 'not used',

    'bye.leave': 'You left the call.',
    'bye.shutdown': 'The server is shutting down and the call has ended. Join again later.',
    'bye.removed': 'You were removed from this room. Ask the hall operator if this is unexpected.',
    'bye.other': 'The server ended this session ({reason}). Join again.',

    'err.noToken': 'The link has no join token. Enter through the join page.',
    'err.wsFailed': 'Cannot reach the signaling server. Check the network, or that the server runs, then join again.',
    'err.wsClosed': 'The connection to the server closed (code {code}). Check the network and join again.',
    'err.timeout': 'The server did not answer "{type}" within {s} seconds. Check the network and try again.',
    'err.notConnected': 'Not connected to the server yet. Wait a moment and try again.',
    'err.media': 'Cannot use the camera and microphone ({reason}); you can only see and hear the others. Check the devices and the browser\'s permissions, then join again.',
    'err.camera': 'Cannot use the camera ({reason}); sending sound only. Check the device and the browser\'s permissions.',
    'err.pcFailed': 'The {target} media connection failed. Check the network or the firewall (UDP must be allowed), then join again.',
    'err.negotiation': 'Media negotiation failed ({reason}). Join again; if it keeps happening, contact an administrator.',
    'err.noTrack': 'There is no {kind} track to mute yet.',
    'err.unknown': 'Something unexpected went wrong ({reason}). Join again; if it keeps happening, contact an administrator.',
    'kind.audio': 'audio',
    'kind.video': 'video',
    'target.publisher': 'sending',
    'target.subscriber': 'receiving',
  },
};

// Pages added later bring their own keys without editing this file.
export function addMessages(lang, dict) {
  Object.assign(messages[lang] ??= {}, dict);
}

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
  const text = messages[l]?.[key] ?? messages[DEFAULT_LANG][key] ?? key;
  return text.replace(/\{(\w+)\}/g, (m, name) => {
    if (!(name in params)) return m;
    const v = params[name];
    if (v && typeof v === 'object' && typeof v.key === 'string') return render(l, v.key, v.params);
    return String(v);
  });
}

export function has(key) {
  return key in messages[current] || key in messages[DEFAULT_LANG];
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
