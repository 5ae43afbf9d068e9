// What a dropped link looks like on a call page. Our own: a banner "网络中断，正在重新连接…" with
// the seconds elapsed, until the socket and the media are back (the session reconnects by
// itself); when the server released the seat meanwhile, the banner says the page is entering
// the call again (the session rejoins by itself, where the page gave it a way to). Another participant's: its tile stays, marked as reconnecting, instead of vanishing —
// the leader sees that the hall on stage is coming back, not gone.

import { setText } from './i18n.js';

// watchReconnect draws a CallSession's reconnections on the page.
export function watchReconnect(session, root = document.body) {
  const banner = document.createElement('div');
  banner.id = 'reconnect-banner';
  banner.className = 'banner banner-warn banner-float reconnect-banner';
  banner.setAttribute('role', 'status');
  banner.hidden = true;
  root.append(banner);

  let since = 0;
  let ticker = 0;
  const tick = () =>
    setText(banner, session.rejoining ? 'reconnect.rejoining' : 'reconnect.self', { s: Math.max(0, Math.round((Date.now() - since) / 1000)) });
  const hide = () => {
    clearInterval(ticker);
    since = 0;
    banner.hidden = true;
  };
  session
    .on('reconnecting', (d) => {
      since = d.since;
      tick();
      banner.hidden = false;
      clearInterval(ticker);
      ticker = setInterval(tick, 1000);
    })
    .on('rejoining', () => since && tick())
    .on('reconnected', hide)
    .on('ended', hide)
    .on('peer_reconnecting', () => markTiles(session))
    .on('track', () => queueMicrotask(() => markTiles(session)))
    .on('participant', () => queueMicrotask(() => markTiles(session)));
}

// markTiles marks the tiles of participants whose link is down (data-participant = their id).
export function markTiles(session, root = document) {
  for (const el of root.querySelectorAll('.tile[data-participant]')) {
    const down = session.peersDown.has(el.dataset.participant);
    el.classList.toggle('reconnecting', down);
    let label = el.querySelector(':scope > .tile-reconnecting');
    if (down && !label) {
      label = document.createElement('div');
      label.className = 'tile-reconnecting';
      label.setAttribute('role', 'status');
      setText(label, 'reconnect.peer');
      el.append(label);
    } else if (!down && label) {
      label.remove();
    }
  }
}
