package cascade

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/zap"
)

const (
	linkQueue     = 4096             // frames waiting to be written; a link that lets it fill is cut
	linkPing      = 5 * time.Second  // keepalive
	linkDead      = 15 * time.Second // a link silent this long is cut
	requestWait   = 10 * time.Second // how long a command waits for its result
	maxFrameBytes = 1 << 20
)

// link is one WebSocket between two nodes. Its reader hands every frame to handle, in order; its
// writer writes the queue. Both end when the socket does; done is closed then.
type link struct {
	peer   string // the other node's name
	dialer string // the node that opened it
	conn   *websocket.Conn
	log    *zap.Logger
	m      *metrics
	handle func(*link, frame)

	out  chan []byte
	done chan struct{}
	once sync.Once
	wg   sync.WaitGroup

	mu      sync.Mutex
	nextID  uint64
	pending map[uint64]chan frame
}

func newLink(peer, dialer string, conn *websocket.Conn, log *zap.Logger, m *metrics, handle func(*link, frame)) *link {
	l := &link{peer: peer, dialer: dialer, conn: conn, m: m, log: log.With(zap.String("peer", peer)), handle: handle,
		out: make(chan []byte, linkQueue), done: make(chan struct{}), pending: map[uint64]chan frame{}}
	conn.SetReadLimit(maxFrameBytes)
	return l
}

// run reads until the socket ends, with the writer beside it; it returns when both have stopped.
func (l *link) run() {
	l.wg.Add(1)
	go func() { defer l.wg.Done(); l.write() }()
	_ = l.conn.SetReadDeadline(time.Now().Add(linkDead))
	l.conn.SetPongHandler(func(string) error { return l.conn.SetReadDeadline(time.Now().Add(linkDead)) })
	for {
		_, data, err := l.conn.ReadMessage()
		if err != nil {
			l.log.Info("cascade link ended", zap.Error(err))
			break
		}
		_ = l.conn.SetReadDeadline(time.Now().Add(linkDead))
		l.m.bytes.WithLabelValues("in").Add(float64(len(data)))
		var f frame
		if err := json.Unmarshal(data, &f); err != nil {
			l.log.Warn("cascade link: bad frame", zap.Error(err))
			continue
		}
		if f.T == frameRes {
			l.mu.Lock()
			ch := l.pending[f.ID]
			delete(l.pending, f.ID)
			l.mu.Unlock()
			if ch != nil {
				ch <- f
			}
			continue
		}
		l.handle(l, f)
	}
	l.close()
	l.wg.Wait()
}

func (l *link) write() {
	ping := time.NewTicker(linkPing)
	defer ping.Stop()
	for {
		select {
		case <-l.done:
			_ = l.conn.Close()
			return
		case b := <-l.out:
			_ = l.conn.SetWriteDeadline(time.Now().Add(linkDead))
			if err := l.conn.WriteMessage(websocket.TextMessage, b); err != nil {
				l.close()
			}
			l.m.bytes.WithLabelValues("out").Add(float64(len(b)))
		case <-ping.C:
			_ = l.conn.SetWriteDeadline(time.Now().Add(linkDead))
			if err := l.conn.WriteMessage(websocket.PingMessage, nil); err != nil {
				l.close()
			}
		}
	}
}

// close ends the link: the writer closes the socket, which ends the reader.
func (l *link) close() {
	l.once.Do(func() {
		close(l.done)
		l.mu.Lock()
		for id, ch := range l.pending {
			close(ch)
			delete(l.pending, id)
		}
		l.mu.Unlock()
	})
}

func (l *link) closed() bool {
	select {
	case <-l.done:
		return true
	default:
		return false
	}
}

// send queues f; it never blocks. A link whose queue is full is cut: the other node is gone or
// cannot keep up, and its participants will come back through their clients.
func (l *link) send(f frame) bool {
	b, err := json.Marshal(f)
	if err != nil {
		l.log.Error("cascade link: encode", zap.String("t", f.T), zap.Error(err))
		return false
	}
	select {
	case <-l.done:
		return false
	default:
	}
	select {
	case l.out <- b:
		return true
	default:
		l.log.Warn("cascade link: queue full, cut")
		l.close()
		return false
	}
}

// request sends a command and waits for its result, decoded into out (when not nil).
func (l *link) request(ctx context.Context, room, p, op string, in, out any) error {
	data, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("cascade: encode %s: %w", op, err)
	}
	ch := make(chan frame, 1)
	l.mu.Lock()
	if l.closed() {
		l.mu.Unlock()
		return ErrLink
	}
	l.nextID++
	id := l.nextID
	l.pending[id] = ch
	l.mu.Unlock()
	if !l.send(frame{T: frameReq, ID: id, Room: room, P: p, Op: op, Data: data}) {
		l.forget(id)
		return ErrLink
	}
	ctx, cancel := context.WithTimeout(ctx, requestWait)
	defer cancel()
	select {
	case f, ok := <-ch:
		if !ok {
			l.m.commands.WithLabelValues("link").Inc()
			return ErrLink
		}
		if f.Err != "" {
			l.m.commands.WithLabelValues("error").Inc()
			return codeErr(f.Err, f.Msg)
		}
		l.m.commands.WithLabelValues("ok").Inc()
		if out != nil && len(f.Data) > 0 {
			if err := json.Unmarshal(f.Data, out); err != nil {
				return fmt.Errorf("cascade: decode result of %s: %w", op, err)
			}
		}
		return nil
	case <-ctx.Done():
		l.forget(id)
		l.m.commands.WithLabelValues("link").Inc()
		return fmt.Errorf("%w: %s: %w", ErrLink, op, ctx.Err())
	}
}

func (l *link) forget(id uint64) {
	l.mu.Lock()
	delete(l.pending, id)
	l.mu.Unlock()
}

// reply answers request f with out, or with err.
func (l *link) reply(f frame, out any, err error) {
	r := frame{T: frameRes, ID: f.ID}
	if err != nil {
		r.Err, r.Msg = errCode(err), err.Error()
	} else if out != nil {
		r.Data, _ = json.Marshal(out)
	}
	l.send(r)
}
