// Package sfu is the media plane: rooms of participants, each with two PeerConnections (one the
// client publishes on, one the SFU delivers subscriptions on); published tracks with a shared
// packet buffer per layer; per-subscriber down tracks that rewrite sequence numbers, timestamps and
// VP8 picture ids; simulcast layer choice and the subscriber link's bandwidth estimate (TWCC);
// NACK/RTX and keyframe requests; audio levels and the active speaker; connection quality; and
// the server's own recorders of tracks. It knows nothing of signaling, HTTP or cases: it takes
// commands as method calls and emits events through each participant's EventSink.
//
// It is one package of over 3,500 lines on purpose: the packet path (track → packet → buffer →
// down track → rewrite) and the allocator that steers it share unexported, lock-free state per
// layer and per down track; split, that state would have to be exported across packages, and the
// hot path would lose the compiler's inlining across them.
package sfu
