// Where each user works: after login (and on / or the login page when already logged in) the
// browser goes to the first page of the user's roles, unless the address names another (?next=).

// HOMES in order: a user with several roles lands at the first that matches.
const HOMES = [
  ['leader', 'reception.html'], // today's receptions, one click into the console
  ['hall_operator', 'queue.html'], // the hall's day
  ['case_handler', 'cases.html'],
  ['unit_head', 'cases.html'],
  ['intake_officer', 'cases.html'],
  ['supervisor', 'cases.html'],
  ['scheduler_staff', 'sessions.html'],
  ['observer', 'reception.html'],
  ['hall_terminal', 'reception.html'],
  ['admin', 'admin.html'],
  ['auditor', 'audit.html'],
];

// homeOf is the page for the user m (/me), null when none of their roles has one.
export function homeOf(m) {
  const roles = new Set((m.grants ?? []).map((g) => g.role));
  for (const [role, page] of HOMES) if (roles.has(role)) return page;
  return null;
}

// nextParam is ?next= when it names a page of this site (never another origin, nor the login page).
export function nextParam() {
  const raw = new URLSearchParams(location.search).get('next');
  if (!raw) return null;
  try {
    const u = new URL(raw, location.href);
    if (u.origin !== location.origin || u.pathname.endsWith('/login.html')) return null;
    return u.pathname + u.search + u.hash;
  } catch {
    return null;
  }
}

// land sends the logged-in user m to their page; fallback when they have none (null: stay). A
// login waiting for its second factor goes back to the login page, one that must enrol to the
// TOTP page, a password that must change comes next; ?next= goes along, so the user still gets
// there after.
export function land(m, fallback = null) {
  const next = nextParam();
  const q = next ? '?next=' + encodeURIComponent(next) : '';
  let to;
  if (m.pending === 'totp') to = 'login.html' + q;
  else if (m.pending === 'enrol') to = 'totp.html' + q;
  else if (m.must_change_password) to = 'password.html' + q;
  else to = next ?? homeOf(m) ?? fallback;
  if (to) location.replace(to);
  return !!to;
}
