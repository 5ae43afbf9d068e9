// The hall terminal as a room screen: the screen on the wall of a township hall, read by the
// petitioner. Pictures are captioned by place (and the petitioner on stage, masked), never by the
// operator logged in; the operator's own controls (leave, raise a hand, microphone, camera) sit
// in a menu opened by holding its button, so a tap from the petitioner's chair does nothing.

import { setText } from './i18n.js';

// tileCaption is what a participant's picture is called: "清波街道接访室 · 王**", the place
// alone, or '' until the call has said (never the person logged in at the seat).
export function tileCaption(st, id) {
  const x = st?.tiles?.find((v) => v.participant_id === id);
  if (!x) return '';
  return x.person ? `${x.place} · ${x.person}` : x.place;
}

// waitETA is when the hall's next petitioner should be heard, following the call between two
// call states: the server's estimate, or — once the hearing on stage runs past it — now plus a
// hearing at the session's pace for each petitioner still ahead.
export function waitETA(me, now = Date.now()) {
  if (!me?.eta) return null;
  const eta = Date.parse(me.eta);
  if (!me.pace) return new Date(eta); // a server that sends no pace: its estimate as it is
  const ahead = Math.max(0, (me.position || 1) - 1);
  return new Date(Math.max(eta, now + ahead * (me.pace || 0) * 1000));
}

// HOLD is how long the operator holds the menu's button: longer than any tap.
export const HOLD = 1200;
// IDLE closes a menu left open, so the room screen does not keep the operator's buttons.
const IDLE = 20000;

// mountOperatorMenu moves the operator's controls into the dialog and wires its button: held
// for HOLD (pointer, or Enter/Space held), it opens the menu.
export function mountOperatorMenu({ button, dialog, box, controls, close }) {
  box.append(...controls);
  button.hidden = false;
  let holdTimer = 0;
  let idleTimer = 0;
  const idle = () => {
    clearTimeout(idleTimer);
    idleTimer = setTimeout(() => dialog.open && dialog.close(), IDLE);
  };
  const begin = (ev) => {
    ev.preventDefault();
    clearTimeout(holdTimer);
    button.classList.add('holding');
    holdTimer = setTimeout(() => {
      button.classList.remove('holding');
      if (!dialog.open) dialog.showModal();
      idle();
    }, HOLD);
  };
  const cancel = () => {
    clearTimeout(holdTimer);
    button.classList.remove('holding');
  };
  button.addEventListener('pointerdown', begin);
  for (const e of ['pointerup', 'pointerleave', 'pointercancel']) button.addEventListener(e, cancel);
  button.addEventListener('keydown', (ev) => {
    if ((ev.key === 'Enter' || ev.key === ' ') && !ev.repeat) begin(ev);
  });
  button.addEventListener('keyup', cancel);
  button.addEventListener('click', (ev) => ev.preventDefault()); // a tap opens nothing
  button.addEventListener('contextmenu', (ev) => ev.preventDefault()); // a long touch is not a menu
  dialog.addEventListener('pointerdown', idle);
  dialog.addEventListener('close', () => clearTimeout(idleTimer));
  close.addEventListener('click', () => dialog.close());
}

// captionSelf names the hall's own picture as the others see it.
export function captionSelf(el, st, selfID) {
  const text = tileCaption(st, selfID);
  if (!text) {
    setText(el, 'rc.self');
    return;
  }
  delete el.dataset.i18n;
  el.textContent = text;
}
