// The client side of docs/protocol.md v1: one WebSocket, JSON envelopes {v, type, id, re, data},
// requests matched to replies by id, an application ping every 5 s. A socket that hears nothing
// for 12 s is taken for dead (a lost network closes no TCP connection, and the browser would wait
// minutes): it is dropped at once, so the session can reconnect. connect() may be called again
// after a close, for a new socket.

import { LocalizedError } from './i18n.js';

export const PROTOCOL_VERSION = 1;
const PING_INTERVAL_MS = 5_000;
const DEAD_AFTER_MS = 12_000;
const CONNECT_TIMEOUT_MS = 8_000;
const REQUEST_TIMEOUT_MS = 15_000;

// ProtocolError is an `error` message from the server.
export class ProtocolError extends Error {
  constructor(data = {}) {
    super(data.message || data.message_en || data.code || 'error');
    this.name = 'ProtocolError';
    this.code = data.code || 'internal';
    this.message_zh = data.message_zh || '';
    this.message_en = data.message_en || '';
    // With wrong_node: the base URL of the cluster node that hosts the room.
    this.nodeURL = data.node_url || '';
  }
}

// wsURL is the signaling endpoint next to the page: /ws on the same host, wss: when the page
// came over https:.
export function wsURL(loc = window.location) {
  const u = new URL('ws', loc.href);
  u.protocol = loc.protocol === 'https:' ? 'wss:' : 'ws:';
  u.hash = '';
  u.search = '';
  return u.href;
}

// nodeWSURL is the signaling endpoint of a cluster node, from the base URL a wrong_node error
// names (http://host:port → ws://host:port/ws).
export function nodeWSURL(nodeURL) {
  const u = new URL('ws', nodeURL.endsWith('/') ? nodeURL : nodeURL + '/');
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  u.hash = '';
  u.search = '';
  return u.href;
}

export class SignalingClient {
  constructor(url = wsURL()) {
    this.url = url;
    this.ws = null;
    this.state = 'new'; // new, connecting, open, closed
    this.nextID = 1;
    this.pending = new Map(); // id -> {resolve, reject, timer, type}
    this.handlers = new Map(); // type -> [fn]
    this.pingTimer = null;
    this.rtt = null;
    this.heardAt = 0; // when the socket last brought anything
    this.generation = 0; // counts sockets: a reply meant for a lost socket is not sent on the next
  }

  // on registers fn(data, msg) for server messages of a type. Besides the protocol's types there
  // are the local events 'state' (fn(state)), 'close' (fn(CloseEvent)) and 'rtt' (fn(ms)).
  on(type, fn) {
    if (!this.handlers.has(type)) this.handlers.set(type, []);
    this.handlers.get(type).push(fn);
    return this;
  }

  emit(type, ...args) {
    for (const fn of this.handlers.get(type) ?? []) {
      try {
        fn(...args);
      } catch (err) {
        console.error(`signaling: handler for "${type}" failed`, err);
      }
    }
  }

  setState(s) {
    if (this.state === s) return;
    this.state = s;
    this.emit('state', s);
  }

  // connect opens a socket; it resolves once open and rejects if the socket closes first or
  // does not open within CONNECT_TIMEOUT_MS (a blocked network never answers).
  connect() {
    return new Promise((resolve, reject) => {
      this.setState('connecting');
      let ws;
      try {
        ws = new WebSocket(this.url);
      } catch (err) {
        this.setState('closed');
        reject(new LocalizedError('err.wsFailed'));
        return;
      }
      this.ws = ws;
      this.generation++;
      let opened = false;
      let ended = false;
      // finish ends this socket's life once, whether the browser closed it or we dropped it.
      const finish = (ev) => {
        if (ended) return;
        ended = true;
        clearTimeout(openTimer);
        if (this.ws === ws) {
          clearInterval(this.pingTimer);
          this.pingTimer = null;
          this.setState('closed');
        }
        const err = new LocalizedError('err.wsClosed', { code: ev.code });
        for (const [, p] of this.pending) {
          clearTimeout(p.timer);
          p.reject(err);
        }
        this.pending.clear();
        if (!opened) reject(new LocalizedError('err.wsFailed'));
        else if (this.ws === ws) this.emit('close', ev);
      };
      const openTimer = setTimeout(() => {
        finish({ code: 1006 });
        ws.close();
      }, CONNECT_TIMEOUT_MS);
      ws.addEventListener('open', () => {
        if (ended) return;
        opened = true;
        clearTimeout(openTimer);
        this.heardAt = performance.now();
        this.setState('open');
        this.pingTimer = setInterval(() => this.keepAlive(), PING_INTERVAL_MS);
        resolve();
      });
      ws.addEventListener('message', (ev) => {
        if (ended) return;
        this.heardAt = performance.now();
        this.receive(ev.data);
      });
      ws.addEventListener('close', (ev) => finish(ev));
      this.dropSocket = () => {
        finish({ code: 1006 });
        try {
          ws.close();
        } catch {
          // already closing
        }
      };
    });
  }

  // moveTo drops this socket and opens one at url, which later reconnects use too: a cluster
  // node that does not host the room names the one that does (wrong_node). The drop emits
  // 'close' like any other; the caller knows to ignore it.
  async moveTo(url) {
    this.url = url;
    this.dropSocket?.();
    await this.connect();
  }

  // keepAlive pings, and drops a socket that has been silent too long.
  keepAlive() {
    if (performance.now() - this.heardAt > DEAD_AFTER_MS) {
      console.warn('signaling: no answer from the server, the socket is taken for dead');
      this.dropSocket?.();
      return;
    }
    this.ping();
  }

  receive(raw) {
    let msg;
    try {
      msg = JSON.parse(raw);
    } catch {
      console.warn('signaling: frame is not JSON, ignored');
      return;
    }
    if (msg === null || typeof msg !== 'object' || typeof msg.type !== 'string') {
      console.warn('signaling: frame is not an envelope, ignored');
      return;
    }
    const data = msg.data ?? {};
    if (msg.re !== undefined && msg.re !== null && this.pending.has(String(msg.re))) {
      const p = this.pending.get(String(msg.re));
      this.pending.delete(String(msg.re));
      clearTimeout(p.timer);
      if (msg.type === 'error') p.reject(new ProtocolError(data));
      else p.resolve(data);
      return;
    }
    if (!this.handlers.has(msg.type)) {
      // A newer server may send types this page does not know yet; the protocol lets us ignore them.
      console.debug(`signaling: no handler for "${msg.type}"`);
      return;
    }
    this.emit(msg.type, msg.type === 'error' ? new ProtocolError(data) : data, msg);
  }

  // send writes a message that has no direct reply (its errors arrive as unsolicited `error`).
  send(type, data = {}, id) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) {
      throw new LocalizedError('err.notConnected');
    }
    const msg = { v: PROTOCOL_VERSION, type, data };
    if (id !== undefined) msg.id = id;
    this.ws.send(JSON.stringify(msg));
  }

  // request sends a message and resolves with the data of the server's reply (the message whose
  // `re` is our id), or rejects with the ProtocolError the server answered with.
  request(type, data = {}, timeoutMs = REQUEST_TIMEOUT_MS) {
    const id = String(this.nextID++);
    return new Promise((resolve, reject) => {
      try {
        this.send(type, data, id);
      } catch (err) {
        reject(err);
        return;
      }
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new LocalizedError('err.timeout', { type, s: Math.round(timeoutMs / 1000) }));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer, type });
    });
  }

  async ping() {
    const start = performance.now();
    try {
      await this.request('ping');
      this.rtt = Math.round(performance.now() - start);
      this.emit('rtt', this.rtt);
    } catch (err) {
      console.warn('signaling: ping failed', err);
    }
  }

  get open() {
    return !!this.ws && this.ws.readyState === WebSocket.OPEN && this.state === 'open';
  }

  close(code = 1000) {
    clearInterval(this.pingTimer);
    this.pingTimer = null;
    if (this.ws && this.ws.readyState <= WebSocket.OPEN) this.ws.close(code);
  }
}
