// Dates and times as the office reads them, on every page: in the office's zone whatever the
// browser's, 24-hour, without seconds, and the same in Chinese and English (a browser in en-US
// must not print "11:45 AM" inside Chinese text).

// ZONE is the office's zone. The server exposes no configured zone (its calendars and deadlines
// are in Beijing time too), so the client fixes it here; China has kept UTC+8 without daylight
// saving since 1991, so OFFSET is constant.
export const ZONE = 'Asia/Shanghai';
const OFFSET = '+08:00';

// One formatter, read by parts: the locale only picks digits we then arrange ourselves.
const fmt = new Intl.DateTimeFormat('en-US', {
  timeZone: ZONE, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23',
});

function parts(d) {
  const p = {};
  for (const { type, value } of fmt.formatToParts(new Date(d))) p[type] = value;
  return p;
}

// date is the office's date of a time, YYYY-MM-DD.
export function date(d) {
  const p = parts(d);
  return `${p.year}-${p.month}-${p.day}`;
}

// time is the office's clock time, HH:MM (00–23).
export function time(d) {
  const p = parts(d);
  return `${p.hour}:${p.minute}`;
}

// dateTime is "YYYY-MM-DD HH:MM" in the office's zone.
export const dateTime = (d) => `${date(d)} ${time(d)}`;

// instant turns a datetime-local value (YYYY-MM-DDTHH:MM, meant in the office's zone) into
// RFC 3339.
export const instant = (local) => `${local}:00${OFFSET}`;

// dayStart is the first instant of the office's day ymd (YYYY-MM-DD).
export const dayStart = (ymd) => new Date(`${ymd}T00:00:00${OFFSET}`);

// today is the office's date now.
export const today = () => date(Date.now());
