// CallSession is one participant's side of a call, without any page: the signaling socket, the
// publisher PeerConnection (we offer our camera and microphone), the subscriber PeerConnection
// (the server offers what we receive), and the room's participants. Pages (the call page now,
// the leader's console and the hall terminal later) listen to its events and draw.
//
// Events (on(name, fn)):
//   joined        {room, self, participants}
//   participant   Participant                 someone joined (or their data changed)
//   left          participantId
//   local         MediaStream                 our camera/microphone, once available
//   track         {participantId, kind, track, stream}
//   track_removed {participantId, kind, trackId}
//   track_muted   {participantId, trackId, kind, muted}
//   speaker       participantId ('' when nobody speaks)
//   state         {ws, publisher, subscriber, server: {publisher, subscriber}}
//   rtt           milliseconds
//   quality       {uplink, downlink, tracks}     the server's report on our links and on each video
//                 we receive (docs/protocol.md, Quality): links {level, loss, rttMs, bitrate}, tracks
//                 [{trackId, participantId, layer, topLayer, lowered, paused, publisherUplink}]
//   error         an error to show (ProtocolError or LocalizedError)
//   reconnecting  {since}                     our link is down (socket lost, or a media connection
//                                             that was up is not): we reconnect by ourselves
//   reconnected   {ms}                        socket and media are up again, after ms
//   peer_reconnecting {participantId, reconnecting}  another participant's link is down or back;
//                                             it keeps its place (and its tile) meanwhile
//   rejoining     {}                          the server released our seat (the grace ran out): we
//                                             fetch a new token for the same seat and join again
//   rejoined      {}                          joined again; tiles come back as the tracks do
//   ended         {reason, key, error}        the session is over; nothing more happens
//
// A dropped socket is not the end (docs/protocol.md, Resume): the session reconnects with
// back-off and jitter and resumes with its token, keeping its connections; a connection whose
// ICE fails or stays disconnected is restarted without renegotiating its tracks. In a cluster
// the socket reconnects to the same URL (a load balancer's, which reaches a live node when ours
// died); a `resumed` with renew_media (another node took the call over) brings new connections.

import { LocalizedError } from './i18n.js';
import { SignalingClient, nodeWSURL, wsURL } from './signaling.js';

const TARGETS = ['publisher', 'subscriber'];
// A connection disconnected this long is restarted; one restart per connection per RESTART_EVERY_MS.
const DISCONNECTED_GRACE_MS = 3_000;
const RESTART_EVERY_MS = 5_000;
// Reconnection attempts: exponential back-off from 0.5 s to 5 s, each delay jittered to 50–100 %
// so that the halls of a city whose network came back do not all knock at the same instant.
const BACKOFF_BASE_MS = 500;
const BACKOFF_MAX_MS = 5_000;
// A join follows wrong_node this often at most: a room placed anew meanwhile moves once, nodes
// that disagree must not bounce the page for ever.
const MAX_REDIRECTS = 3;

function backoff(attempt) {
  return Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** attempt) * (0.5 + Math.random() / 2);
}

export class CallSession {
  // rejoin, when given, returns a fresh join token for the same seat (a page with a login asks
  // the API for it); without it a refused resume ends the session.
  constructor({ token, url = wsURL(), constraints = defaultConstraints(), rejoin = null }) {
    this.token = token;
    this.rejoinToken = rejoin;
    this.constraints = constraints;
    this.sig = new SignalingClient(url);
    this.handlers = new Map();

    this.room = '';
    this.self = null; // Participant
    this.participants = new Map(); // id -> {id, name, role, tracks: Map(trackId -> Track)}
    this.remoteTracks = new Map(); // MediaStreamTrack.id -> {participantId, kind}

    this.localStream = null;
    this.localTracks = { audio: null, video: null };
    this.ownTrackIDs = { audio: null, video: null }; // the server's ids of our tracks
    this.wantMuted = {}; // kind -> muted, as the person last chose
    this.trackSettings = new Map(); // track id -> last size/priority sent
    this.quality = null; // the server's last quality report, as the `quality` event gives it

    this.pcs = { publisher: null, subscriber: null };
    this.serverState = { publisher: 'new', subscriber: 'new' };
    // Remote candidates wait until their connection has a remote description; local ones
    // until the offer/answer they belong to has been sent.
    this.remoteCandidates = { publisher: [], subscriber: [] };
    this.localCandidates = { publisher: [], subscriber: [] };
    this.descriptionSent = { publisher: false, subscriber: false };
    // Negotiation steps of one connection run one after another, never interleaved.
    this.chains = { publisher: Promise.resolve(), subscriber: Promise.resolve() };

    this.ended = false;
    this.leaving = false;
    this.noMedia = false;
    this.moving = false; // the socket moves to the node that hosts the room

    this.resumeToken = ''; // from joined/resumed: takes our place back on a new socket
    this.resuming = false; // the socket is gone and the reconnect loop runs
    this.rejoining = false; // our seat was released and we are joining again
    this.downSince = 0; // when our link went down (0 = up)
    this.wasUp = { publisher: false, subscriber: false }; // the connection has been connected
    this.restartedAt = { publisher: 0, subscriber: 0 };
    this.disconnectTimers = { publisher: 0, subscriber: 0 };
    this.peersDown = new Set(); // participants whose link is down
  }

  on(name, fn) {
    if (!this.handlers.has(name)) this.handlers.set(name, []);
    this.handlers.get(name).push(fn);
    return this;
  }

  emit(name, arg) {
    for (const fn of this.handlers.get(name) ?? []) {
      try {
        fn(arg);
      } catch (err) {
        console.error(`session: handler for "${name}" failed`, err);
      }
    }
  }

  get publisher() {
    return this.pcs.publisher;
  }

  get subscriber() {
    return this.pcs.subscriber;
  }

  states() {
    return {
      ws: this.sig.state,
      // Without camera and microphone nothing is sent: the publisher connection is not used.
      publisher: this.noMedia ? 'none' : this.pcs.publisher ? this.pcs.publisher.connectionState : 'new',
      subscriber: this.pcs.subscriber ? this.pcs.subscriber.connectionState : 'new',
      server: { ...this.serverState },
      reconnecting: this.downSince ? { since: this.downSince } : null,
    };
  }

  emitState() {
    this.emit('state', this.states());
  }

  // start runs the call: camera and socket in parallel, then join, then publish.
  async start() {
    this.wire();
    const media = this.openMedia();
    try {
      await this.sig.connect();
      const joined = await this.requestJoin({ token: this.token, auto_subscribe: true });
      this.onJoined(joined);
    } catch (err) {
      this.end({ error: err });
      return;
    }
    await media;
    if (this.ended) return;
    try {
      await this.publish();
    } catch (err) {
      this.emit('error', asNegotiationError(err));
    }
  }

  // requestJoin sends join and follows a cluster's wrong_node (docs/protocol.md, Clusters): the
  // socket moves to the node that hosts the room and the join is made there, with the same
  // token; resumes later go there too.
  async requestJoin(data) {
    for (let hop = 0; ; hop++) {
      try {
        return await this.sig.request('join', data);
      } catch (err) {
        if (err?.code !== 'wrong_node' || !err.nodeURL || hop >= MAX_REDIRECTS) throw err;
        this.moving = true;
        try {
          await this.sig.moveTo(nodeWSURL(err.nodeURL));
        } finally {
          this.moving = false;
        }
      }
    }
  }

  wire() {
    const s = this.sig;
    s.on('state', () => this.updateLink());
    s.on('rtt', (ms) => this.emit('rtt', ms));
    s.on('close', (ev) => {
      if (this.moving) return; // requestJoin opens the owner's socket
      if (this.leaving) this.end({ key: 'bye.leave' });
      else if (this.rejoining) return; // the rejoin loop opens the next socket
      else if (this.self && this.resumeToken) this.reconnect();
      else this.end({ error: new LocalizedError('err.wsClosed', { code: ev.code }) });
    });
    s.on('ice_restart', (d) => TARGETS.includes(d.target) && this.restartICE(d.target, true));
    s.on('participant_reconnecting', (d) => this.setPeerDown(d.participant_id, !!d.reconnecting));
    s.on('error', (err) => this.emit('error', err));
    s.on('joined', (d) => this.onJoined(d)); // only if the server sends it unsolicited
    s.on('publish_answer', () => {}); // always a reply; handled by request()
    s.on('subscribe_offer', (d) => this.onSubscribeOffer(d.sdp));
    s.on('trickle', (d) => this.onRemoteCandidate(d.target, d.candidate));
    s.on('subscribed', () => {});
    s.on('unsubscribed', () => {});
    s.on('muted', () => {});
    s.on('unpublished', () => {});
    s.on('participant_joined', (d) => this.addParticipant(d.participant));
    s.on('participant_left', (d) => this.removeParticipant(d.participant_id));
    s.on('track_published', (d) => this.onTrackPublished(d.track));
    s.on('track_unpublished', (d) => this.onTrackUnpublished(d.track_id, d.participant_id));
    s.on('track_muted', (d) => this.onTrackMuted(d.track_id, d.participant_id, d.muted));
    s.on('connection_state', (d) => {
      if (!TARGETS.includes(d.target)) return;
      this.serverState[d.target] = d.state;
      this.emitState();
    });
    s.on('track_settings_applied', () => {}); // always a reply; handled by request()
    s.on('layers', (d) => this.onLayers(d.track_id, d.paused ?? []));
    s.on('active_speaker', (d) => this.emit('speaker', d.participant_id ?? ''));
    s.on('quality', (d) => {
      this.quality = normQuality(d);
      this.emit('quality', this.quality);
    });
    s.on('pong', () => {});
    s.on('bye', (d) => this.onBye(d.reason));
  }

  onJoined(d) {
    if (this.self) return;
    this.room = d.room;
    this.resumeToken = d.resume_token ?? '';
    this.self = normParticipant(d.participant);
    for (const t of this.self.tracks.values()) this.ownTrackIDs[t.kind] = t.id;
    this.openConnections(d);
    for (const p of d.participants ?? []) this.participants.set(p.id, normParticipant(p));
    this.emit('joined', { room: this.room, self: this.self, participants: [...this.participants.values()] });
    for (const p of d.participants ?? []) if (p.reconnecting) this.setPeerDown(p.id, true);
    this.emitState();
  }

  // reconnect runs while the socket is gone: new sockets with back-off and jitter until one
  // resumes our place, or the server refuses (the grace period ran out: the seat was released).
  async reconnect() {
    if (this.resuming || this.ended) return;
    this.resuming = true;
    this.updateLink();
    for (let attempt = 0; !this.ended && !this.leaving; attempt++) {
      await new Promise((r) => setTimeout(r, backoff(attempt)));
      if (this.ended || this.leaving) return;
      try {
        await this.sig.connect();
      } catch {
        continue; // still no network
      }
      try {
        // The room lets a node of a cluster that took it over from a dead node find our record.
        const d = await this.sig.request('resume', { token: this.resumeToken, participant_id: this.self.id, room: this.room });
        this.resuming = false;
        this.onResumed(d);
        return;
      } catch (err) {
        if (err?.code) {
          this.resuming = false;
          if (this.rejoinToken) this.rejoin();
          else this.end({ error: new LocalizedError('reconnect.refused') });
          return;
        }
        // The new socket failed too: try again.
      }
    }
  }

  // rejoin runs after the server refused our resume (the seat was released): the call is joined
  // afresh on the same seat with a new token, the camera and microphone kept open. A refusal of
  // the token or of the join (the session ended, the seat is no longer ours) ends the session
  // with its reason; a failed network is tried again with back-off.
  async rejoin() {
    this.rejoining = true;
    this.forgetCall();
    this.emit('rejoining', {});
    this.updateLink();
    for (let attempt = 0; !this.ended && !this.leaving; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, backoff(attempt)));
      if (this.ended || this.leaving) return;
      let token;
      try {
        token = await this.rejoinToken();
      } catch (err) {
        if (err?.status || err?.code) {
          this.rejoining = false;
          this.end({ error: err });
          return;
        }
        continue; // no network yet
      }
      try {
        if (!this.sig.open) await this.sig.connect();
        const joined = await this.requestJoin({ token, auto_subscribe: true, rejoin: true });
        this.token = token;
        this.rejoining = false;
        this.onJoined(joined);
        this.emit('rejoined', {});
        this.updateLink();
      } catch (err) {
        if (err?.code) {
          this.rejoining = false;
          this.end({ error: err });
          return;
        }
        continue; // the socket failed: again
      }
      try {
        await this.publish();
      } catch (err) {
        this.emit('error', asNegotiationError(err));
      }
      return;
    }
  }

  // forgetCall drops what belonged to the released participant: its connections, the room as it
  // was (each participant 'left', so their tiles go) and the negotiation state.
  forgetCall() {
    this.closeConnections();
    for (const id of [...this.participants.keys()]) this.removeParticipant(id);
    for (const id of [...this.peersDown]) this.setPeerDown(id, false);
    this.remoteTracks.clear();
    this.trackSettings.clear();
    this.ownTrackIDs = { audio: null, video: null };
    this.self = null;
    this.resumeToken = '';
  }

  // closeConnections closes both connections and forgets their negotiation state.
  closeConnections() {
    for (const target of TARGETS) {
      clearTimeout(this.disconnectTimers[target]);
      this.pcs[target]?.close();
      this.pcs[target] = null;
      this.remoteCandidates[target] = [];
      this.localCandidates[target] = [];
      this.descriptionSent[target] = false;
      this.chains[target] = Promise.resolve();
      this.wasUp[target] = false;
      this.serverState[target] = 'new';
    }
  }

  // openConnections makes the publisher and subscriber connections with the ICE servers of a
  // joined (or resumed) message.
  openConnections(d) {
    const config = {
      iceServers: Array.isArray(d.ice_servers) ? d.ice_servers : [],
      bundlePolicy: 'max-bundle',
      rtcpMuxPolicy: 'require',
    };
    for (const target of TARGETS) this.pcs[target] = this.newPC(target, config);
    this.pcs.subscriber.addEventListener('track', (ev) => this.onRemoteTrack(ev));
  }

  // renewMedia follows a resume on another node (ours died, and our connections with it;
  // docs/protocol.md, Resume across nodes): new connections, our tracks published again; the
  // server offers the subscriber connection by itself. It runs before the next message is
  // handled, so that offer finds the new connection.
  renewMedia(d) {
    this.closeConnections();
    this.remoteTracks.clear();
    this.openConnections(d);
    this.publish().catch((err) => this.emit('error', asNegotiationError(err)));
  }

  // onResumed takes the room as the server has it now (what changed while we were away) and
  // restarts the ICE of a connection that is not up.
  onResumed(d) {
    this.resumeToken = d.resume_token ?? '';
    const seen = new Set();
    for (const p of d.participants ?? []) {
      seen.add(p.id);
      this.addParticipant(p);
      this.setPeerDown(p.id, !!p.reconnecting);
    }
    for (const id of [...this.participants.keys()]) if (!seen.has(id)) this.removeParticipant(id);
    for (const t of d.participant?.tracks ?? []) {
      this.ownTrackIDs[t.kind] = t.id;
      this.self.tracks.set(t.id, t);
    }
    this.trackSettings.clear(); // sent again as the tiles report their sizes
    if (d.renew_media) {
      this.renewMedia(d);
    } else {
      for (const target of TARGETS) {
        const pc = this.pcs[target];
        if (pc && this.wasUp[target] && pc.connectionState !== 'connected') this.restartICE(target);
      }
    }
    this.updateLink();
    this.emit('resumed', {});
  }

  // restartICE restarts one connection's ICE without renegotiating its tracks: the publisher
  // with an offer on fresh credentials, the subscriber by asking the server for one.
  restartICE(target, asked = false) {
    const pc = this.pcs[target];
    if (this.ended || !pc || !this.sig.open) return; // after a resume, onResumed does it
    const now = performance.now();
    if (!asked && now - this.restartedAt[target] < RESTART_EVERY_MS) return;
    this.restartedAt[target] = now;
    if (target === 'subscriber') {
      if (!pc.remoteDescription) return;
      try {
        this.sig.send('ice_restart', { target });
      } catch (err) {
        console.warn('session: ICE restart not asked', err);
      }
      return;
    }
    this.enqueue('publisher', async () => {
      if (!pc.localDescription || !this.sig.open) return;
      // The new candidates belong to the new offer: they wait for it.
      this.descriptionSent.publisher = false;
      const offer = await pc.createOffer({ iceRestart: true });
      await pc.setLocalDescription(offer);
      const reply = this.sig.request('publish_offer', { sdp: pc.localDescription.sdp });
      this.markDescriptionSent('publisher');
      const answer = await reply;
      await pc.setRemoteDescription({ type: 'answer', sdp: answer.sdp });
      await this.flushRemoteCandidates('publisher');
    }).catch((err) => console.warn('session: publisher ICE restart failed', err));
  }

  // updateLink tells the page when our link goes down or comes back: down while the socket is
  // gone, or while a connection that was up is not.
  updateLink() {
    if (this.ended || this.leaving) return;
    let down = this.resuming || this.rejoining || (!!this.self && !this.sig.open);
    for (const target of TARGETS) {
      const pc = this.pcs[target];
      if (pc && this.wasUp[target] && pc.connectionState !== 'connected') down = true;
    }
    if (down && !this.downSince) {
      this.downSince = Date.now();
      this.emit('reconnecting', { since: this.downSince });
    } else if (!down && this.downSince) {
      const ms = Date.now() - this.downSince;
      this.downSince = 0;
      this.emit('reconnected', { ms });
    }
    this.emitState();
  }

  setPeerDown(id, down) {
    if (!id || id === this.self?.id || down === this.peersDown.has(id)) return;
    if (down) this.peersDown.add(id);
    else this.peersDown.delete(id);
    this.emit('peer_reconnecting', { participantId: id, reconnecting: down });
  }

  newPC(target, config) {
    const pc = new RTCPeerConnection(config);
    pc.addEventListener('icecandidate', (ev) => {
      const c = ev.candidate ? ev.candidate.toJSON() : null;
      if (this.descriptionSent[target]) this.sendCandidate(target, c);
      else this.localCandidates[target].push(c);
    });
    pc.addEventListener('connectionstatechange', () => {
      const st = pc.connectionState;
      clearTimeout(this.disconnectTimers[target]);
      if (st === 'connected') this.wasUp[target] = true;
      if (st === 'failed' && !this.ended) {
        // A connection that never came up is not a dropped link: say so. One that was up restarts.
        if (!this.wasUp[target]) this.emit('error', new LocalizedError('err.pcFailed', { target: { key: `target.${target}` } }));
        else this.restartICE(target);
      }
      if (st === 'disconnected') {
        // Often back by itself within a few seconds; if not, restart.
        this.disconnectTimers[target] = setTimeout(() => {
          if (pc.connectionState === 'disconnected') this.restartICE(target);
        }, DISCONNECTED_GRACE_MS);
      }
      this.updateLink();
    });
    pc.addEventListener('iceconnectionstatechange', () => this.emitState());
    return pc;
  }

  sendCandidate(target, candidate) {
    if (this.ended) return;
    try {
      this.sig.send('trickle', { target, candidate });
    } catch (err) {
      console.warn('session: trickle not sent', err);
    }
  }

  markDescriptionSent(target) {
    if (this.descriptionSent[target]) return;
    this.descriptionSent[target] = true;
    for (const c of this.localCandidates[target].splice(0)) this.sendCandidate(target, c);
  }

  // openMedia asks for camera and microphone; without a camera we still send sound, without
  // both we only receive.
  async openMedia() {
    if (!navigator.mediaDevices?.getUserMedia) {
      this.noMedia = true;
      this.emit('error', new LocalizedError('err.media', { reason: 'getUserMedia' }));
      this.emitState();
      return;
    }
    let stream = null;
    try {
      stream = await navigator.mediaDevices.getUserMedia(this.constraints);
    } catch (err) {
      try {
        stream = await navigator.mediaDevices.getUserMedia({ audio: this.constraints.audio, video: false });
        this.emit('error', new LocalizedError('err.camera', { reason: err.name || err.message }));
      } catch {
        this.noMedia = true;
        this.emit('error', new LocalizedError('err.media', { reason: err.name || err.message }));
        this.emitState();
        return;
      }
    }
    if (this.ended) {
      for (const tr of stream.getTracks()) tr.stop();
      return;
    }
    this.localStream = stream;
    this.localTracks.audio = stream.getAudioTracks()[0] ?? null;
    this.localTracks.video = stream.getVideoTracks()[0] ?? null;
    this.emit('local', stream);
  }

  // publish offers our tracks on the publisher connection and applies the server's answer.
  publish() {
    return this.enqueue('publisher', async () => {
      const pc = this.pcs.publisher;
      if (!pc || !this.localStream) return;
      for (const track of this.localStream.getTracks()) {
        const init = { direction: 'sendonly', streams: [this.localStream] };
        // Video goes out in three simulcast layers; the server sends each receiver the one that
        // fits its tile and its link (docs/protocol.md, Simulcast).
        if (track.kind === 'video') init.sendEncodings = SIMULCAST_LAYERS;
        pc.addTransceiver(track, init);
      }
      const offer = await pc.createOffer();
      await pc.setLocalDescription(offer);
      const reply = this.sig.request('publish_offer', { sdp: pc.localDescription.sdp });
      this.markDescriptionSent('publisher');
      const answer = await reply;
      await pc.setRemoteDescription({ type: 'answer', sdp: answer.sdp });
      await this.flushRemoteCandidates('publisher');
    });
  }

  enqueue(target, step) {
    const run = this.chains[target].then(() => (this.ended ? undefined : step()));
    // The chain itself never rejects, so one failed step does not block the next.
    this.chains[target] = run.catch(() => {});
    return run;
  }

  onSubscribeOffer(sdp) {
    const generation = this.sig.generation;
    this.enqueue('subscriber', async () => {
      const pc = this.pcs.subscriber;
      if (!pc) return;
      // An offer of a lost socket: the server sends a new one after the resume, which this
      // answer would not meet.
      if (generation !== this.sig.generation) return;
      await pc.setRemoteDescription({ type: 'offer', sdp });
      await this.flushRemoteCandidates('subscriber');
      const answer = await pc.createAnswer();
      // The answer's candidates follow it (after an ICE restart they are new ones).
      this.descriptionSent.subscriber = false;
      await pc.setLocalDescription(answer);
      if (generation !== this.sig.generation) return;
      this.sig.send('subscribe_answer', { sdp: pc.localDescription.sdp });
      this.markDescriptionSent('subscriber');
    }).catch((err) => {
      // An answer the lost socket could not carry: the server sends a new offer after the resume.
      if (this.resuming || !this.sig.open) console.warn('session: subscribe answer not sent', err);
      else this.emit('error', asNegotiationError(err));
    });
  }

  onRemoteCandidate(target, candidate) {
    if (!TARGETS.includes(target)) return;
    this.remoteCandidates[target].push(candidate ?? null);
    const pc = this.pcs[target];
    if (pc && pc.remoteDescription) {
      this.enqueue(target, () => this.flushRemoteCandidates(target));
    }
  }

  async flushRemoteCandidates(target) {
    const pc = this.pcs[target];
    if (!pc || !pc.remoteDescription) return;
    for (const c of this.remoteCandidates[target].splice(0)) {
      try {
        // No argument is the browser's way to say "end of candidates".
        if (c === null) await pc.addIceCandidate();
        else await pc.addIceCandidate(c);
      } catch (err) {
        // One bad candidate must not stop the others; ICE uses what it can.
        console.warn(`session: ${target} candidate rejected`, err);
      }
    }
  }

  onRemoteTrack(ev) {
    const track = ev.track;
    const stream = ev.streams[0] ?? null;
    // The server sets the stream id (msid) to the publisher's participant id; when a browser
    // drops the msid we still know the owner if the track id matches a published track.
    const participantId = stream?.id ?? this.ownerOfTrack(track.id);
    if (!participantId) {
      console.warn('session: remote track without an owner, ignored');
      return;
    }
    this.remoteTracks.set(track.id, { participantId, kind: track.kind });
    if (!this.participants.has(participantId)) {
      // Media can overtake the participant_joined message; draw a tile now, fill the name later.
      this.participants.set(participantId, normParticipant({ id: participantId }));
      this.emit('participant', this.participants.get(participantId));
    }
    track.addEventListener('ended', () => this.dropRemoteTrack(track.id));
    stream?.addEventListener('removetrack', (e) => this.dropRemoteTrack(e.track.id));
    this.emit('track', { participantId, kind: track.kind, track, stream });
  }

  dropRemoteTrack(trackId) {
    const info = this.remoteTracks.get(trackId);
    if (!info) return;
    this.remoteTracks.delete(trackId);
    this.emit('track_removed', { participantId: info.participantId, kind: info.kind, trackId });
  }

  ownerOfTrack(trackId) {
    for (const p of this.participants.values()) if (p.tracks.has(trackId)) return p.id;
    return null;
  }

  remoteTrackOwner(trackId) {
    return this.remoteTracks.get(trackId)?.participantId ?? null;
  }

  addParticipant(p) {
    if (!p || !p.id || p.id === this.self?.id) return;
    const prev = this.participants.get(p.id);
    const next = normParticipant(p);
    if (prev) for (const [id, t] of prev.tracks) if (!next.tracks.has(id)) next.tracks.set(id, t);
    this.participants.set(p.id, next);
    this.emit('participant', next);
  }

  removeParticipant(id) {
    if (!this.participants.has(id)) return;
    this.participants.delete(id);
    for (const [trackId, info] of this.remoteTracks) if (info.participantId === id) this.remoteTracks.delete(trackId);
    this.emit('left', id);
  }

  onTrackPublished(track) {
    if (!track?.id) return;
    if (track.participant_id === this.self?.id) {
      // The server names our tracks by its own ids; this is where we learn them.
      this.ownTrackIDs[track.kind] = track.id;
      this.self.tracks.set(track.id, track);
      const want = this.wantMuted[track.kind];
      if (want !== undefined && want !== !!track.muted) {
        this.sendMute(track.kind).catch((err) => this.emit('error', err));
      }
      return;
    }
    const p = this.participants.get(track.participant_id);
    if (!p) return;
    p.tracks.set(track.id, track);
    this.emit('track_muted', { participantId: p.id, trackId: track.id, kind: track.kind, muted: !!track.muted });
  }

  onTrackUnpublished(trackId, participantId) {
    if (participantId === this.self?.id) {
      this.self.tracks.delete(trackId);
      for (const kind of ['audio', 'video']) if (this.ownTrackIDs[kind] === trackId) this.ownTrackIDs[kind] = null;
      return;
    }
    const p = this.participants.get(participantId);
    const t = p?.tracks.get(trackId);
    if (p) p.tracks.delete(trackId);
    if (t) this.emit('track_removed', { participantId, kind: t.kind, trackId, fromServer: true });
  }

  onTrackMuted(trackId, participantId, muted) {
    const p = this.participants.get(participantId);
    const t = p?.tracks.get(trackId);
    if (t) t.muted = !!muted;
    this.emit('track_muted', { participantId, trackId, kind: t?.kind ?? null, muted: !!muted });
  }

  // setMuted stops sending one of our tracks: the local track goes silent/black at once, and the
  // server stops forwarding it. Before the server has named the track (track_published), the
  // wish is kept and sent when the name arrives.
  async setMuted(kind, muted) {
    const track = this.localTracks[kind];
    if (!track) throw new LocalizedError('err.noTrack', { kind: { key: `kind.${kind}` } });
    track.enabled = !muted;
    this.wantMuted[kind] = muted;
    if (this.ownTrackIDs[kind]) await this.sendMute(kind);
  }

  async sendMute(kind) {
    const muted = this.wantMuted[kind];
    const id = this.ownTrackIDs[kind];
    await this.sig.request('mute', { track_id: id, muted });
    const own = this.self?.tracks.get(id);
    if (own) own.muted = muted;
  }

  // onLayers stops encoding the simulcast layers nobody receives and resumes the others
  // (dynacast): a hall terminal should not pay for a full-size encode nobody watches.
  async onLayers(trackId, paused) {
    if (trackId !== this.ownTrackIDs.video) return;
    const sender = this.pcs.publisher?.getSenders().find((s) => s.track?.kind === 'video');
    if (!sender) return;
    const params = sender.getParameters();
    if (!params.encodings || params.encodings.length < 2) return;
    let changed = false;
    for (const enc of params.encodings) {
      const active = !paused.includes(enc.rid);
      if (enc.active !== active) {
        enc.active = active;
        changed = true;
      }
    }
    if (!changed) return;
    try {
      await sender.setParameters(params);
    } catch (err) {
      console.warn('session: could not change simulcast layers', err);
    }
  }

  // setTrackSettings tells the server how large a received track is shown (device pixels), so a
  // simulcast track comes in the layer that fits. Repeated sizes are not sent again.
  setTrackSettings(trackId, width, height, priority = 0) {
    if (this.ended || !trackId || !this.sig.open) return;
    const w = Math.min(7680, Math.max(0, Math.round(width)));
    const h = Math.min(7680, Math.max(0, Math.round(height)));
    const key = `${w}x${h}/${priority}`;
    if (this.trackSettings.get(trackId) === key) return;
    this.trackSettings.set(trackId, key);
    this.sig.request('track_settings', { track_id: trackId, width: w, height: h, priority }).catch((err) => {
      this.trackSettings.delete(trackId);
      if (err?.code !== 'not_found') this.emit('error', err);
    });
  }

  onBye(reason) {
    const key = ['leave', 'shutdown', 'removed'].includes(reason) ? `bye.${reason}` : 'bye.other';
    this.end({ key, reason });
  }

  leave() {
    if (this.ended) return;
    this.leaving = true;
    try {
      this.sig.send('leave', {});
    } catch {
      this.end({ key: 'bye.leave' });
      return;
    }
    // The server closes the socket after `leave`; do not wait for it forever.
    setTimeout(() => this.sig.close(), 3000);
    this.stopMedia();
  }

  stopMedia() {
    for (const pc of Object.values(this.pcs)) pc?.close();
    if (this.localStream) for (const tr of this.localStream.getTracks()) tr.stop();
  }

  end({ key, reason, error }) {
    if (this.ended) return;
    this.ended = true;
    this.stopMedia();
    this.sig.close();
    this.emitState();
    this.emit('ended', { key: key ?? null, reason: reason ?? null, error: error ?? null });
  }
}

// The simulcast layers, named as the server expects: q(uarter), h(alf), f(ull).
const SIMULCAST_LAYERS = [
  { rid: 'q', scaleResolutionDownBy: 4, maxBitrate: 150_000 },
  { rid: 'h', scaleResolutionDownBy: 2, maxBitrate: 500_000 },
  { rid: 'f', scaleResolutionDownBy: 1, maxBitrate: 1_500_000 },
];

export function defaultConstraints() {
  return {
    audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true },
    // 960x540 is the smallest size for which browsers send all three simulcast layers.
    video: { width: { ideal: 960 }, height: { ideal: 540 }, frameRate: { ideal: 24, max: 30 } },
  };
}

function normParticipant(p = {}) {
  const tracks = new Map();
  for (const t of p.tracks ?? []) if (t?.id) tracks.set(t.id, { ...t });
  return { id: p.id, name: p.name ?? '', role: p.role ?? '', tracks };
}

function normLink(l = {}) {
  return { level: String(l.level ?? ''), loss: Number(l.loss) || 0, rttMs: Number(l.rtt_ms) || 0, bitrate: Number(l.bitrate) || 0 };
}

function normQuality(d = {}) {
  return {
    uplink: normLink(d.uplink ?? {}),
    downlink: normLink(d.downlink ?? {}),
    tracks: (Array.isArray(d.tracks) ? d.tracks : []).map((tr) => ({
      trackId: tr.track_id ?? '',
      participantId: tr.participant_id ?? '',
      layer: tr.layer ?? -1,
      topLayer: tr.top_layer ?? -1,
      lowered: !!tr.lowered,
      paused: !!tr.paused,
      publisherUplink: String(tr.publisher_uplink ?? ''),
    })),
  };
}

function asNegotiationError(err) {
  if (err?.code || err?.key) return err; // already something a person can read
  return new LocalizedError('err.negotiation', { reason: err?.name || err?.message || String(err) });
}
