// Package client is a Go client of the Sanji signaling protocol (docs/protocol.md v1): one
// WebSocket, a publisher PeerConnection it offers and a subscriber PeerConnection the server
// offers. Tests use it, and so does the `sanji bench` load generator.
package client

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"

	"sanji/signaling"
)

// The protocol's types, shared with the server.
type (
	Message    = signaling.Message
	JoinedData = signaling.JoinedData
	// Error is what Request returns when the server answers with `error`.
	Error = signaling.Error
)

// Options configure a Client.
type Options struct {
	// AutoSubscribe asks the server to subscribe this client to every track in the room.
	AutoSubscribe bool
	// Rejoin says this join comes back after the server released our seat (docs/protocol.md, join).
	Rejoin bool
	// SettingEngine configures both PeerConnections; nil = LoopbackSettingEngine().
	SettingEngine *webrtc.SettingEngine
	Logger        *zap.Logger
	// OnTrack gets each track delivered on the subscriber connection; the callee then owns
	// reading its RTP and the receiver's RTCP. When nil the client reads and discards them.
	OnTrack func(*webrtc.TrackRemote, *webrtc.RTPReceiver)
	// OnMessage sees every message from the server, on the client's reader goroutine: it must
	// return quickly.
	OnMessage func(Message)
	// RelayOnly, when set, makes both connections use the ICE servers it picks from those of
	// `joined`, with the relay-only policy: media flows through TURN or not at all (tests of the
	// TURN path).
	RelayOnly func([]webrtc.ICEServer) []webrtc.ICEServer
	// TLS configures the WebSocket's TLS for wss:// URLs (nil: the system's roots).
	TLS *tls.Config
	// OnSenderRTCP sees the RTCP that arrives for each published track (receiver reports,
	// NACKs, PLIs), after the interceptors have handled it.
	OnSenderRTCP func(*webrtc.RTPSender, []rtcp.Packet)
	// Dialer opens the WebSocket (nil: websocket.DefaultDialer); SetDialer changes it for the
	// next Resume (a test's client whose network changed comes from another address).
	Dialer *websocket.Dialer
}

// requestTimeout bounds the requests of methods that take no context.
const requestTimeout = 15 * time.Second

// ErrClosed is returned by requests once the connection is gone.
var ErrClosed = errors.New("client: connection closed")

// Client is one connected, joined participant.
type Client struct {
	opt  Options
	log  *zap.Logger
	url  string          // the WebSocket joined (after any redirect)
	conn *websocket.Conn // replaced by Resume, under writeMu and mu
	api  *webrtc.API
	pub  *webrtc.PeerConnection // both replaced, under mu, by a resume on another node
	sub  *webrtc.PeerConnection
	// published are the tracks Publish added: published again on new connections.
	published []webrtc.TrackLocal
	joined    JoinedData // and resumeToken: set by Dial, then by Resume
	// resumeToken takes this participant back on a new socket (Resume).
	resumeToken string

	nextID     atomic.Uint64
	writeMu    sync.Mutex
	publishMu  sync.Mutex // one negotiation of the publisher connection at a time
	readerDone chan struct{}
	wg         sync.WaitGroup // RTCP readers and track drains
	closeOnce  sync.Once

	mu            sync.Mutex
	waiters       map[string]chan Message
	readClosed    bool
	sdpSent       map[string]bool                       // our first SDP for the target went out
	heldLocal     map[string][]*webrtc.ICECandidateInit // local candidates waiting for it
	remoteSet     map[string]bool                       // a remote description is applied
	pendingRemote map[string][]webrtc.ICECandidateInit  // remote candidates waiting for it
}

// LoopbackSettingEngine keeps ICE on 127.0.0.1 over UDP, without mDNS: the house rule for tests.
func LoopbackSettingEngine() *webrtc.SettingEngine {
	se := &webrtc.SettingEngine{}
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	return se
}

// maxRedirects bounds how often one Dial follows wrong_node: a room placed anew between two
// joins moves once, a loop between nodes that disagree must end.
const maxRedirects = 3

// Dial connects to wsURL, joins with token and returns once `joined` has arrived. A join refused
// with wrong_node (a cluster node that does not host the room) is made again on the node the
// error names (docs/protocol.md, Clusters); Redirected says where the client ended up.
func Dial(ctx context.Context, wsURL, token string, opt Options) (*Client, error) {
	for hop := 0; ; hop++ {
		c, err := dialOnce(ctx, wsURL, token, opt)
		var e *Error
		if hop < maxRedirects && errors.As(err, &e) && e.Code == signaling.CodeWrongNode && e.NodeURL != "" {
			next, uerr := OwnerWSURL(e.NodeURL)
			if uerr != nil {
				return nil, fmt.Errorf("client: join: %w (%w)", err, uerr)
			}
			wsURL = next
			continue
		}
		if c != nil {
			c.url = wsURL
		}
		return c, err
	}
}

// OwnerWSURL is the WebSocket endpoint of the node whose base URL a wrong_node error names.
func OwnerWSURL(nodeURL string) (string, error) {
	u, err := url.Parse(nodeURL)
	if err != nil {
		return "", fmt.Errorf("client: node url %q: %w", nodeURL, err)
	}
	switch u.Scheme {
	case "http":
		u.Scheme = "ws"
	case "https":
		u.Scheme = "wss"
	default:
		return "", fmt.Errorf("client: node url %q: not http(s)", nodeURL)
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/ws"
	u.RawQuery, u.Fragment = "", ""
	return u.String(), nil
}

// URL is the WebSocket the client joined on: the one given to Dial, or the room's owner's when
// the join was redirected.
func (c *Client) URL() string { return c.url }

func dialOnce(ctx context.Context, wsURL, token string, opt Options) (*Client, error) {
	if opt.Logger == nil {
		opt.Logger = zap.NewNop()
	}
	api, err := NewAPI(opt.SettingEngine)
	if err != nil {
		return nil, err
	}
	dialer := opt.Dialer
	if dialer == nil {
		dialer = websocket.DefaultDialer
	}
	if opt.TLS != nil {
		d := *dialer
		d.TLSClientConfig = opt.TLS
		dialer = &d
	}
	conn, _, err := dialer.DialContext(ctx, wsURL, nil)
	if err != nil {
		return nil, fmt.Errorf("client: dial %s: %w", wsURL, err)
	}
	c := &Client{
		opt: opt, log: opt.Logger, conn: conn, api: api,
		readerDone:    make(chan struct{}),
		waiters:       map[string]chan Message{},
		sdpSent:       map[string]bool{},
		heldLocal:     map[string][]*webrtc.ICECandidateInit{},
		remoteSet:     map[string]bool{},
		pendingRemote: map[string][]webrtc.ICECandidateInit{},
	}
	if c.pub, c.sub, err = c.newConnections(); err != nil {
		_ = conn.Close()
		return nil, err
	}
	go c.readLoop(conn, c.readerDone)

	auto := opt.AutoSubscribe
	m, err := c.Request(ctx, signaling.TypeJoin, signaling.JoinData{Token: token, AutoSubscribe: &auto, Rejoin: opt.Rejoin})
	if err == nil {
		err = m.Decode(&c.joined)
	}
	if err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("client: join: %w", err)
	}
	if opt.RelayOnly != nil {
		// Before any negotiation: pion takes new servers and policy until it starts gathering.
		relayOnly := webrtc.Configuration{ICEServers: opt.RelayOnly(c.joined.ICEServers), ICETransportPolicy: webrtc.ICETransportPolicyRelay}
		for _, pc := range []*webrtc.PeerConnection{c.pub, c.sub} {
			if err := pc.SetConfiguration(relayOnly); err != nil {
				_ = c.Close()
				return nil, fmt.Errorf("client: relay configuration: %w", err)
			}
		}
	}
	c.resumeToken = c.joined.ResumeToken
	return c, nil
}

// NewAPI builds a pion API like a browser's: default codecs, NACK generator (at most 10 requests
// per lost packet) and responder, RTCP sender and receiver reports, TWCC; se nil =
// LoopbackSettingEngine().
func NewAPI(se *webrtc.SettingEngine) (*webrtc.API, error) {
	if se == nil {
		se = LoopbackSettingEngine()
	}
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		return nil, fmt.Errorf("client: codecs: %w", err)
	}
	reg := &interceptor.Registry{}
	reg.Add(rtxRIDFactory{}) // first: nearest the wire, after the NACK responder
	// Like a browser, ask for one lost packet at most 10 times (pion's default is unlimited).
	if err := webrtc.RegisterDefaultInterceptorsWithOptions(m, reg,
		webrtc.WithNackGeneratorOptions(nack.GeneratorMaxNacksPerPacket(10))); err != nil {
		return nil, fmt.Errorf("client: interceptors: %w", err)
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(reg),
		webrtc.WithSettingEngine(*se)), nil
}

// Joined is the server's `joined` answer.
func (c *Client) Joined() JoinedData { return c.joined }

// ID is this client's participant id.
func (c *Client) ID() string { return c.joined.Participant.ID }

// Publish adds tracks to the publisher connection and negotiates it with the server.
func (c *Client) Publish(tracks ...webrtc.TrackLocal) ([]*webrtc.RTPSender, error) {
	c.publishMu.Lock()
	defer c.publishMu.Unlock()
	var senders []*webrtc.RTPSender
	for _, t := range tracks {
		tr, err := c.pubPC().AddTransceiverFromTrack(t,
			webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
		if err != nil {
			return nil, fmt.Errorf("client: add track %s: %w", t.ID(), err)
		}
		s := tr.Sender()
		senders = append(senders, s)
		c.mu.Lock()
		c.published = append(c.published, t)
		c.mu.Unlock()
		c.wg.Add(1)
		go c.readSenderRTCP(s, "")
	}
	if err := c.negotiatePublisher(); err != nil {
		return nil, err
	}
	return senders, nil
}

// Simulcast is a track published in several encodings.
type Simulcast struct {
	Transceiver *webrtc.RTPTransceiver
	// Mid is the transceiver's media id; MidExt and RIDExt the negotiated ids of the mid and rid
	// header extensions.
	Mid            string
	MidExt, RIDExt uint8
}

// Mark writes the mid and rid header extensions into h, as a browser marks a simulcast layer's
// packets: that is how the server tells the layers apart. pion does not add them itself.
func (s *Simulcast) Mark(h *rtp.Header, rid string) error {
	if err := h.SetExtension(s.MidExt, []byte(s.Mid)); err != nil {
		return fmt.Errorf("client: mid extension: %w", err)
	}
	if err := h.SetExtension(s.RIDExt, []byte(rid)); err != nil {
		return fmt.Errorf("client: rid extension: %w", err)
	}
	return nil
}

// SSRC is the SSRC of the encoding rid (0 when there is none).
func (s *Simulcast) SSRC(rid string) webrtc.SSRC {
	for _, e := range s.Transceiver.Sender().GetParameters().Encodings {
		if e.RID == rid {
			return e.SSRC
		}
	}
	return 0
}

// PublishSimulcast publishes one video track in several encodings, as a browser does with
// simulcast: layers[i] carries its RID (webrtc.WithRTPStreamID), lowest quality first. The
// caller marks each packet with Simulcast.Mark.
func (c *Client) PublishSimulcast(layers ...*webrtc.TrackLocalStaticRTP) (*Simulcast, error) {
	if len(layers) == 0 {
		return nil, errors.New("client: simulcast without layers")
	}
	c.publishMu.Lock()
	defer c.publishMu.Unlock()
	tr, err := c.pubPC().AddTransceiverFromTrack(layers[0],
		webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	if err != nil {
		return nil, fmt.Errorf("client: add track %s: %w", layers[0].ID(), err)
	}
	s := tr.Sender()
	for _, l := range layers[1:] {
		if err := s.AddEncoding(l); err != nil {
			return nil, fmt.Errorf("client: add encoding %s: %w", l.RID(), err)
		}
	}
	// Each encoding has its own RTCP stream (its PLIs and NACKs): read them all.
	for _, l := range layers {
		c.wg.Add(1)
		go c.readSenderRTCP(s, l.RID())
	}
	if err := c.negotiatePublisher(); err != nil {
		return nil, err
	}
	out := &Simulcast{Transceiver: tr, Mid: tr.Mid()}
	for _, ext := range s.GetParameters().HeaderExtensions {
		switch ext.URI {
		case sdp.SDESMidURI:
			out.MidExt = uint8(ext.ID)
		case sdp.SDESRTPStreamIDURI:
			out.RIDExt = uint8(ext.ID)
		}
	}
	if out.Mid == "" || out.MidExt == 0 || out.RIDExt == 0 {
		return nil, fmt.Errorf("client: simulcast not negotiated (mid %q, mid extension %d, rid extension %d)", out.Mid, out.MidExt, out.RIDExt)
	}
	return out, nil
}

// negotiatePublisher offers the publisher connection's current tracks to the server and applies
// its answer. The caller holds publishMu.
func (c *Client) negotiatePublisher() error { return c.offerPublisher(nil) }

func (c *Client) offerPublisher(opt *webrtc.OfferOptions) error {
	offer, err := c.pubPC().CreateOffer(opt)
	if err != nil {
		return fmt.Errorf("client: publish offer: %w", err)
	}
	// Each offer's candidates follow it, and the server's follow its answer, not only the
	// first's: an ICE restart's, sent or applied before the description they belong to, are
	// dropped by the other end as another generation's, and with both ends' dropped neither
	// checks and the restarted connection stays down.
	c.mu.Lock()
	c.sdpSent[signaling.TargetPublisher], c.remoteSet[signaling.TargetPublisher] = false, false
	c.mu.Unlock()
	if err := c.pubPC().SetLocalDescription(offer); err != nil {
		c.mu.Lock()
		c.sdpSentLocked(signaling.TargetPublisher)
		c.mu.Unlock()
		c.remoteApplied(signaling.TargetPublisher)
		return fmt.Errorf("client: publish offer: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	id, ch, err := c.start(signaling.TypePublishOffer, signaling.SDPData{SDP: offer.SDP}, signaling.TargetPublisher)
	if err != nil {
		return err
	}
	m, err := c.wait(ctx, id, ch)
	if err != nil {
		return fmt.Errorf("client: publish: %w", err)
	}
	var ans signaling.SDPData
	if err := m.Decode(&ans); err != nil {
		return err
	}
	if err := c.pubPC().SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: ans.SDP}); err != nil {
		return fmt.Errorf("client: publish answer: %w", err)
	}
	c.remoteApplied(signaling.TargetPublisher)
	return nil
}

// Subscribe asks to receive tracks.
func (c *Client) Subscribe(ctx context.Context, trackIDs ...string) error {
	_, err := c.Request(ctx, signaling.TypeSubscribe, signaling.TrackIDsData{TrackIDs: trackIDs})
	return err
}

// Unsubscribe asks to stop receiving tracks.
func (c *Client) Unsubscribe(ctx context.Context, trackIDs ...string) error {
	_, err := c.Request(ctx, signaling.TypeUnsubscribe, signaling.TrackIDsData{TrackIDs: trackIDs})
	return err
}

// Mute mutes or unmutes one of this client's published tracks at the server.
func (c *Client) Mute(ctx context.Context, trackID string, muted bool) error {
	_, err := c.Request(ctx, signaling.TypeMute, signaling.MuteData{TrackID: trackID, Muted: muted})
	return err
}

// Unpublish ends one of this client's published tracks at the server.
func (c *Client) Unpublish(ctx context.Context, trackID string) error {
	_, err := c.Request(ctx, signaling.TypeUnpublish, signaling.TrackIDData{TrackID: trackID})
	return err
}

// Request sends a message with a fresh id and waits for the server's reply. A reply of type
// `error` is returned with a *Error.
func (c *Client) Request(ctx context.Context, typ string, data any) (Message, error) {
	id, ch, err := c.start(typ, data, "")
	if err != nil {
		return Message{}, err
	}
	return c.wait(ctx, id, ch)
}

// Send sends a message that expects no reply.
func (c *Client) Send(typ string, data any) error { return c.write(typ, "", data) }

// start sends a request and registers for its reply. With sdpTarget set, it also releases the
// local candidates of that target, which must follow the SDP they belong to.
func (c *Client) start(typ string, data any, sdpTarget string) (string, chan Message, error) {
	id := strconv.FormatUint(c.nextID.Add(1), 10)
	ch := make(chan Message, 1)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.readClosed {
		return "", nil, ErrClosed
	}
	c.waiters[id] = ch
	if err := c.write(typ, id, data); err != nil {
		delete(c.waiters, id)
		return "", nil, err
	}
	if sdpTarget != "" {
		c.sdpSentLocked(sdpTarget)
	}
	return id, ch, nil
}

func (c *Client) wait(ctx context.Context, id string, ch chan Message) (Message, error) {
	select {
	case m, ok := <-ch:
		if !ok {
			return Message{}, ErrClosed
		}
		if m.Type == signaling.TypeError {
			e := &Error{}
			if err := m.Decode(e); err != nil {
				return m, err
			}
			return m, e
		}
		return m, nil
	case <-ctx.Done():
		c.mu.Lock()
		delete(c.waiters, id)
		c.mu.Unlock()
		return Message{}, ctx.Err()
	}
}

func (c *Client) write(typ, id string, data any) error {
	raw, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("client: encode %s: %w", typ, err)
	}
	b, err := json.Marshal(Message{V: signaling.Version, Type: typ, ID: id, Data: raw})
	if err != nil {
		return fmt.Errorf("client: encode %s: %w", typ, err)
	}
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	_ = c.conn.SetWriteDeadline(time.Now().Add(requestTimeout))
	if err := c.conn.WriteMessage(websocket.TextMessage, b); err != nil {
		return fmt.Errorf("client: send %s: %w", typ, err)
	}
	return nil
}

func (c *Client) readLoop(conn *websocket.Conn, done chan struct{}) {
	defer close(done)
	defer func() {
		c.mu.Lock()
		c.readClosed = true
		for id, ch := range c.waiters {
			close(ch)
			delete(c.waiters, id)
		}
		c.mu.Unlock()
	}()
	for {
		_, data, err := conn.ReadMessage()
		if err != nil {
			c.log.Debug("client read ended", zap.Error(err))
			return
		}
		var m Message
		if err := json.Unmarshal(data, &m); err != nil {
			c.log.Warn("client got a frame that is not a message", zap.Error(err))
			continue
		}
		c.dispatch(m)
	}
}

func (c *Client) dispatch(m Message) {
	switch m.Type {
	case signaling.TypeSubscribeOffer:
		var d signaling.SDPData
		err := m.Decode(&d)
		if err == nil {
			err = c.answerSubscriber(d.SDP)
		}
		if err != nil {
			c.log.Warn("client could not answer a subscribe offer", zap.Error(err))
		}
	case signaling.TypeICERestart:
		// The server lost the publisher connection: restart its ICE, off the reader (the
		// restart waits for the server's answer, which this goroutine reads).
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			if err := c.restartPublisherICE(); err != nil {
				c.log.Warn("client could not restart the publisher's ICE", zap.Error(err))
			}
		}()
	case signaling.TypeResumed:
		var d JoinedData
		if err := m.Decode(&d); err == nil && d.RenewMedia {
			c.swapConnections()
		}
	case signaling.TypeTrickle:
		var d signaling.TrickleData
		if err := m.Decode(&d); err != nil {
			c.log.Warn("client got a bad trickle", zap.Error(err))
			break
		}
		c.onRemoteCandidate(d)
	}
	if c.opt.OnMessage != nil {
		c.opt.OnMessage(m)
	}
	if m.Re != "" {
		c.mu.Lock()
		ch := c.waiters[m.Re]
		delete(c.waiters, m.Re)
		c.mu.Unlock()
		if ch != nil {
			ch <- m
		}
	}
}

// answerSubscriber answers the server's offer for the subscriber connection.
func (c *Client) answerSubscriber(sdp string) error {
	if err := c.subPC().SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sdp}); err != nil {
		return fmt.Errorf("apply subscribe offer: %w", err)
	}
	c.remoteApplied(signaling.TargetSubscriber)
	ans, err := c.subPC().CreateAnswer(nil)
	if err != nil {
		return fmt.Errorf("subscribe answer: %w", err)
	}
	c.mu.Lock()
	c.sdpSent[signaling.TargetSubscriber] = false // this answer's candidates follow it (offerPublisher)
	c.mu.Unlock()
	if err := c.subPC().SetLocalDescription(ans); err != nil {
		c.mu.Lock()
		c.sdpSentLocked(signaling.TargetSubscriber)
		c.mu.Unlock()
		return fmt.Errorf("subscribe answer: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.write(signaling.TypeSubscribeAnswer, "", signaling.SDPData{SDP: ans.SDP}); err != nil {
		return err
	}
	c.sdpSentLocked(signaling.TargetSubscriber)
	return nil
}

func (c *Client) onLocalCandidate(target string, ic *webrtc.ICECandidate) {
	var init *webrtc.ICECandidateInit
	if ic != nil {
		j := ic.ToJSON()
		init = &j
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.sdpSent[target] {
		c.heldLocal[target] = append(c.heldLocal[target], init)
		return
	}
	c.sendCandidate(target, init)
}

func (c *Client) sdpSentLocked(target string) {
	c.sdpSent[target] = true
	for _, init := range c.heldLocal[target] {
		c.sendCandidate(target, init)
	}
	delete(c.heldLocal, target)
}

func (c *Client) sendCandidate(target string, init *webrtc.ICECandidateInit) {
	if err := c.write(signaling.TypeTrickle, "", signaling.TrickleData{Target: target, Candidate: init}); err != nil {
		c.log.Debug("client could not send a candidate", zap.Error(err))
	}
}

func (c *Client) pc(target string) *webrtc.PeerConnection {
	if target == signaling.TargetPublisher {
		return c.pubPC()
	}
	return c.subPC()
}

func (c *Client) pubPC() *webrtc.PeerConnection {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pub
}

func (c *Client) subPC() *webrtc.PeerConnection {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sub
}

// newConnections makes the publisher and subscriber connections.
func (c *Client) newConnections() (pub, sub *webrtc.PeerConnection, err error) {
	if pub, err = c.api.NewPeerConnection(webrtc.Configuration{}); err != nil {
		return nil, nil, fmt.Errorf("client: publisher connection: %w", err)
	}
	if sub, err = c.api.NewPeerConnection(webrtc.Configuration{}); err != nil {
		_ = pub.Close()
		return nil, nil, fmt.Errorf("client: subscriber connection: %w", err)
	}
	pub.OnICECandidate(func(ic *webrtc.ICECandidate) { c.onLocalCandidate(signaling.TargetPublisher, ic) })
	sub.OnICECandidate(func(ic *webrtc.ICECandidate) { c.onLocalCandidate(signaling.TargetSubscriber, ic) })
	sub.OnTrack(c.onTrack)
	return pub, sub, nil
}

// swapConnections replaces both connections by new ones (a resume on another node: the old
// node and its ends of the connections are gone). It runs on the reader, as `resumed` is
// dispatched, so that the subscriber offer that follows finds the new subscriber connection.
func (c *Client) swapConnections() {
	pub, sub, err := c.newConnections()
	if err != nil {
		c.log.Warn("client could not renew its connections", zap.Error(err))
		return
	}
	c.mu.Lock()
	oldPub, oldSub := c.pub, c.sub
	c.pub, c.sub = pub, sub
	c.sdpSent, c.heldLocal = map[string]bool{}, map[string][]*webrtc.ICECandidateInit{}
	c.remoteSet, c.pendingRemote = map[string]bool{}, map[string][]webrtc.ICECandidateInit{}
	c.mu.Unlock()
	_ = oldPub.Close()
	_ = oldSub.Close()
}

// republish publishes the tracks of the old connections on the new publisher connection.
func (c *Client) republish() error {
	c.publishMu.Lock()
	defer c.publishMu.Unlock()
	c.mu.Lock()
	tracks := slices.Clone(c.published)
	pub := c.pub
	c.mu.Unlock()
	if len(tracks) == 0 {
		return nil
	}
	for _, t := range tracks {
		tr, err := pub.AddTransceiverFromTrack(t, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
		if err != nil {
			return fmt.Errorf("client: publish %s again: %w", t.ID(), err)
		}
		c.wg.Add(1)
		go c.readSenderRTCP(tr.Sender(), "")
	}
	return c.negotiatePublisher()
}

func (c *Client) onRemoteCandidate(d signaling.TrickleData) {
	if d.Target != signaling.TargetPublisher && d.Target != signaling.TargetSubscriber {
		c.log.Warn("client got a candidate for an unknown target", zap.String("target", d.Target))
		return
	}
	var init webrtc.ICECandidateInit // empty = end of candidates
	if d.Candidate != nil {
		init = *d.Candidate
	}
	c.mu.Lock()
	if !c.remoteSet[d.Target] {
		c.pendingRemote[d.Target] = append(c.pendingRemote[d.Target], init)
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	if err := c.pc(d.Target).AddICECandidate(init); err != nil {
		c.log.Debug("client could not add a candidate", zap.Error(err))
	}
}

// remoteApplied adds the remote candidates that came before the remote description.
func (c *Client) remoteApplied(target string) {
	c.mu.Lock()
	c.remoteSet[target] = true
	pending := c.pendingRemote[target]
	delete(c.pendingRemote, target)
	c.mu.Unlock()
	for _, init := range pending {
		if err := c.pc(target).AddICECandidate(init); err != nil {
			c.log.Debug("client could not add a candidate", zap.Error(err))
		}
	}
}

func (c *Client) onTrack(t *webrtc.TrackRemote, r *webrtc.RTPReceiver) {
	if c.opt.OnTrack != nil {
		c.opt.OnTrack(t, r)
		return
	}
	// Nobody wants the media: read it anyway, so the interceptors see it and send reports.
	c.wg.Add(2)
	go func() {
		defer c.wg.Done()
		for {
			if _, _, err := t.ReadRTP(); err != nil {
				return
			}
		}
	}()
	go func() {
		defer c.wg.Done()
		for {
			if _, _, err := r.ReadRTCP(); err != nil {
				return
			}
		}
	}()
}

// readSenderRTCP feeds the sender's interceptors (NACK responder, reports) until it stops: the
// RTCP of its encoding rid, or of its only encoding when rid is "".
func (c *Client) readSenderRTCP(s *webrtc.RTPSender, rid string) {
	defer c.wg.Done()
	for {
		var pkts []rtcp.Packet
		var err error
		if rid == "" {
			pkts, _, err = s.ReadRTCP()
		} else {
			pkts, _, err = s.ReadSimulcastRTCP(rid)
		}
		if err != nil {
			return
		}
		if c.opt.OnSenderRTCP != nil {
			c.opt.OnSenderRTCP(s, pkts)
		}
	}
}

// Close leaves the room, closes both connections and the socket, and waits for the client's
// goroutines.
func (c *Client) Close() error {
	var err error
	c.closeOnce.Do(func() {
		// A joined client says leave, which the server answers with bye and a close frame; one that
		// never joined closes the socket itself. Either way, wait briefly for the server's close.
		var said error
		if c.joined.Participant.ID != "" {
			said = c.write(signaling.TypeLeave, "", struct{}{})
		} else {
			c.writeMu.Lock()
			said = c.conn.WriteControl(websocket.CloseMessage,
				websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
			c.writeMu.Unlock()
		}
		c.mu.Lock()
		done := c.readerDone
		c.mu.Unlock()
		if said == nil {
			select {
			case <-done:
			case <-time.After(2 * time.Second):
			}
		}
		c.mu.Lock()
		conn, done := c.conn, c.readerDone
		c.mu.Unlock()
		err = conn.Close()
		<-done
		err = errors.Join(ignoreClosed(err), c.pubPC().Close(), c.subPC().Close())
		c.wg.Wait()
	})
	return err
}

func ignoreClosed(err error) error {
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// ResumeToken is the token that takes this participant back on a new socket.
func (c *Client) ResumeToken() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.resumeToken
}

// DropSocket cuts the WebSocket without leaving, as a lost network does; the participant and
// both PeerConnections stay. Resume comes back.
func (c *Client) DropSocket() {
	c.mu.Lock()
	conn, done := c.conn, c.readerDone
	c.mu.Unlock()
	_ = conn.Close()
	<-done
}

// Resume connects a new socket and takes this participant back with its resume token
// (docs/protocol.md, Resume); the PeerConnections stay as they are. The socket must be gone
// (DropSocket, or the server closed it). Given several URLs (a cluster's nodes) it tries each in
// turn until one takes the participant back: after its node died the room lives on whichever
// node took it over, and the others refuse (wrong_node) or do not answer. The error is the last
// URL's; a resume a node accepted but whose media could not be published again is not retried
// elsewhere (the participant is seated there).
func (c *Client) Resume(ctx context.Context, wsURLs ...string) error {
	if len(wsURLs) == 0 {
		return errors.New("client: resume without a URL")
	}
	c.mu.Lock()
	select {
	case <-c.readerDone:
	default:
		c.mu.Unlock()
		return errors.New("client: resume while the socket is still open")
	}
	c.mu.Unlock()
	var err error
	for _, u := range wsURLs {
		var seated bool
		if seated, err = c.resumeOn(ctx, u); err == nil || seated || ctx.Err() != nil {
			return err
		}
	}
	return err
}

// resumeOn is one resume on wsURL; seated reports that the node took the participant back
// (the socket is then open, even when renewing the media failed).
func (c *Client) resumeOn(ctx context.Context, wsURL string) (seated bool, err error) {
	c.mu.Lock()
	dialer := c.opt.Dialer
	c.mu.Unlock()
	if dialer == nil {
		dialer = websocket.DefaultDialer
	}
	conn, _, err := dialer.DialContext(ctx, wsURL, nil)
	if err != nil {
		return false, fmt.Errorf("client: dial %s: %w", wsURL, err)
	}
	done := make(chan struct{})
	c.writeMu.Lock()
	c.mu.Lock()
	c.conn, c.readerDone, c.readClosed = conn, done, false
	token := c.resumeToken
	c.mu.Unlock()
	c.writeMu.Unlock()
	go c.readLoop(conn, done)

	m, err := c.Request(ctx, signaling.TypeResume, signaling.ResumeData{Token: token, ParticipantID: c.ID(), Room: c.joined.Room})
	var d JoinedData
	if err == nil {
		err = m.Decode(&d)
	}
	if err != nil {
		_ = conn.Close()
		<-done
		return false, fmt.Errorf("client: resume: %w", err)
	}
	c.mu.Lock()
	c.resumeToken = d.ResumeToken
	c.mu.Unlock()
	if d.RenewMedia {
		// Another node took us back (ours died): the connections were renewed on `resumed`;
		// the tracks go out again on the new one. The server offers the subscriber itself.
		if err := c.republish(); err != nil {
			return true, err
		}
	}
	return true, nil
}

// RestartICE restarts the ICE of both connections without renegotiating their tracks: the
// publisher's with a new offer on fresh credentials, the subscriber's by asking the server
// for one (docs/protocol.md, ICE restart).
func (c *Client) RestartICE() error {
	if err := c.Send(signaling.TypeICERestart, signaling.ICERestartData{Target: signaling.TargetSubscriber}); err != nil {
		return err
	}
	return c.restartPublisherICE()
}

func (c *Client) restartPublisherICE() error {
	c.publishMu.Lock()
	defer c.publishMu.Unlock()
	if c.pubPC().RemoteDescription() == nil {
		return nil // nothing published yet: no connection to restart
	}
	return c.offerPublisher(&webrtc.OfferOptions{ICERestart: true})
}

// ConnectionStates are the publisher's and the subscriber's connection states, for a client
// that restarts ICE only where the connection is not up (as the web client does after a resume).
func (c *Client) ConnectionStates() (publisher, subscriber webrtc.PeerConnectionState) {
	return c.pubPC().ConnectionState(), c.subPC().ConnectionState()
}

// RestartPublisherICE restarts the publisher connection's ICE alone, with a new offer on fresh
// credentials.
func (c *Client) RestartPublisherICE() error { return c.restartPublisherICE() }

// RestartSubscriberICE asks the server to restart the subscriber connection's ICE.
func (c *Client) RestartSubscriberICE() error {
	return c.Send(signaling.TypeICERestart, signaling.ICERestartData{Target: signaling.TargetSubscriber})
}

// SetDialer replaces the dialer the next Resume opens its socket with.
func (c *Client) SetDialer(d *websocket.Dialer) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.opt.Dialer = d
}
