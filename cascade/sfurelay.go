package cascade

import (
	"encoding/json"
	"fmt"

	"sanji/sfu"
)

// SFURelays opens the relays of s (sfu.Relay), for Config.OpenRelay.
func SFURelays(s *sfu.SFU) func(room, peer string, pol sfu.Policy, send func(json.RawMessage)) (Relay, error) {
	return func(room, peer string, pol sfu.Policy, send func(json.RawMessage)) (Relay, error) {
		var opts []sfu.RelayOption
		if pol != nil {
			opts = append(opts, sfu.RelayPolicy(pol))
		}
		r, err := s.OpenRelay(room, peer, func(m sfu.RelayMessage) {
			if b, err := json.Marshal(m); err == nil {
				send(b)
			}
		}, opts...)
		if err != nil {
			return nil, err
		}
		return sfuRelay{r}, nil
	}
}

// sfuRelay is an *sfu.Relay as a Relay: its messages as JSON.
type sfuRelay struct{ r *sfu.Relay }

func (s sfuRelay) Deliver(msg json.RawMessage) error {
	var m sfu.RelayMessage
	if err := json.Unmarshal(msg, &m); err != nil {
		return fmt.Errorf("cascade: relay message: %w", err)
	}
	return s.r.Deliver(m)
}

func (s sfuRelay) Close() { s.r.Close() }

func (s sfuRelay) Stats() sfu.RelayStats { return s.r.Stats() }

// RelayStats is what crossed the relays of room with each peer so far (relays that count it).
func (h *Hub) RelayStats(room string) map[string]sfu.RelayStats {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[string]sfu.RelayStats{}
	for k, r := range h.relays {
		if s, ok := r.(interface{ Stats() sfu.RelayStats }); ok && k.room == room {
			out[k.peer] = s.Stats()
		}
	}
	return out
}
