package bench

import (
	"context"
	"fmt"
	"io"
	"slices"
	"time"

	"sanji/i18n"
	"sanji/signaling"
)

// Wire overheads used to fit the simulcast layers under a rate cap: a 1200-byte video packet
// carries about 6 % of RTP, SRTP and UDP/IP headers; 50 audio packets a second of 80 bytes come
// to about 56 kbit/s on the wire.
const (
	videoWirePercent = 106
	audioWireBits    = 56_000
	// capUsePercent is the share of the cap a browser's encoder targets: it leaves room for
	// retransmissions and the estimate's error.
	capUsePercent = 70
)

// layersThatFit is how many of the layers (lowest first) a publisher sends now: all of them, or
// while the uplink is capped those that fit 70 % of the cap — at least the lowest. A browser's
// encoder does this from its own bandwidth estimate; the bench has none and is told the cap
// instead, so what is measured is the SFU's handling of the layers stopping and coming back,
// not an estimator.
func (r *runner) layersThatFit(layers []*videoLayer) int {
	if r.imp == nil || r.imp.m.RateBits <= 0 || !r.imp.active.Load() {
		return len(layers)
	}
	budget := r.imp.m.RateBits * capUsePercent / 100
	if r.cfg.Audio {
		budget -= audioWireBits
	}
	n := 0
	var sum int64
	for _, l := range layers {
		sum += int64(l.frameBytes) * 8 * int64(r.cfg.FPS) * videoWirePercent / 100
		if n > 0 && sum > budget {
			break
		}
		n++
	}
	return n
}

// stageTracks tells the server that every subscriber shows the publishers' video as the stage's
// main tile, as the leader's console does for the hall on stage.
func (r *runner) stageTracks(ctx context.Context) error {
	for _, p := range r.snapshot() {
		if p.failed.Load() || !p.receive || p.c == nil {
			continue
		}
		p.mu.Lock()
		ids := make([]string, 0, len(p.video))
		for id := range p.video {
			ids = append(ids, id)
		}
		p.mu.Unlock()
		slices.Sort(ids)
		for _, id := range ids {
			if _, err := p.c.Request(ctx, signaling.TypeTrackSettings,
				signaling.TrackSettingsData{TrackID: id, Priority: stagePriority}); err != nil {
				return fmt.Errorf("track_settings %s/%s: %w", p.room, p.name, err)
			}
		}
	}
	return nil
}

// UplinkReport is the impaired scenario's result: the impairment as applied and, per subscriber,
// what it could show during it and how it recovered.
type UplinkReport struct {
	LossPercent    float64 `json:"loss_percent"`
	DelayMs        float64 `json:"delay_ms_one_way"`
	RateKbps       float64 `json:"rate_cap_kbps"`
	ImpairedFor    float64 `json:"impaired_seconds"`
	RecoverySecs   float64 `json:"recovery_seconds"`
	PublisherSent  uint64  `json:"publisher_rtp_rtcp_packets_offered"`
	PublisherDrops uint64  `json:"publisher_rtp_rtcp_packets_dropped"`

	// Worst over the subscribers: the lowest 1-second frame rate during the impairment, the
	// longest freeze and audio gap over the whole window, the slowest return of the top layer
	// after it (-1: some subscriber never got it back in the window).
	MinFPS            float64 `json:"min_fps_impaired"`
	LongestFreezeMs   float64 `json:"longest_freeze_ms"`
	LongestAudioGapMs float64 `json:"longest_audio_gap_ms"`
	TopLayerBackMs    float64 `json:"top_layer_back_ms"`

	Subscribers []SubscriberUplink `json:"subscribers"`
}

// SubscriberUplink is one subscriber's view of one publisher's video (and audio) in the impaired
// scenario.
type SubscriberUplink struct {
	Name string `json:"name"`
	// During the impairment: decoded frames per second (min over 1 s windows, mean), frames per
	// layer (q, h, f), the longest freeze.
	FPSMin          float64 `json:"fps_min"`
	FPSMean         float64 `json:"fps_mean"`
	FramesByLayer   [3]int  `json:"frames_by_layer"`
	FreezeImpairMs  float64 `json:"longest_freeze_impaired_ms"`
	AfterFPSMin     float64 `json:"fps_min_after"`
	AfterByLayer    [3]int  `json:"frames_by_layer_after"`
	LongestFreezeMs float64 `json:"longest_freeze_ms"` // over the whole window
	AudioGapMs      float64 `json:"longest_audio_gap_ms"`
	// TopLayerBackMs is from the link's clearing to the first decoded frame of the top layer
	// (0: it never left it; -1: not in the window).
	TopLayerBackMs float64 `json:"top_layer_back_ms"`
}

// uplinkReport reads every subscriber's frames; end is the window's end.
func (r *runner) uplinkReport(end time.Duration) *UplinkReport {
	m := r.cfg.Uplink
	u := &UplinkReport{LossPercent: m.LossPercent, DelayMs: ms(m.Delay), RateKbps: float64(m.RateBits) / 1000,
		ImpairedFor: (r.impTo - r.impFrom).Seconds(), RecoverySecs: max(0, (end - r.impTo).Seconds()),
		PublisherSent: r.imp.sent.Load(), PublisherDrops: r.imp.dropped.Load()}
	top := 0
	if r.cfg.Simulcast {
		top = len(simulcastLayers) - 1
	}
	for _, p := range r.snapshot() {
		if p.publish || p.failed.Load() {
			continue
		}
		su := SubscriberUplink{Name: p.name, TopLayerBackMs: -1}
		var frames []decodedFrame
		for _, s := range p.streamList() {
			if s.Kind == "video" {
				frames = append(frames, s.decodedFrames()...)
			} else {
				su.AudioGapMs = max(su.AudioGapMs, ms(s.Stats().LongestGap))
			}
		}
		slices.SortFunc(frames, func(a, b decodedFrame) int { return int(a.at - b.at) })
		during := frameStats(frames, r.impFrom, r.impTo)
		after := frameStats(frames, r.impTo, end)
		whole := frameStats(frames, r.impFrom, end)
		su.FPSMin, su.FPSMean, su.FramesByLayer, su.FreezeImpairMs = during.FPSMin, during.FPSMean, during.ByLayer, ms(during.LongestFreeze)
		su.AfterFPSMin, su.AfterByLayer = after.FPSMin, after.ByLayer
		su.LongestFreezeMs = ms(whole.LongestFreeze)
		if back := topLayerBack(frames, top, r.impTo, end); back >= 0 {
			su.TopLayerBackMs = ms(back)
		}
		if len(u.Subscribers) == 0 || su.FPSMin < u.MinFPS {
			u.MinFPS = su.FPSMin
		}
		u.LongestFreezeMs = max(u.LongestFreezeMs, su.LongestFreezeMs)
		u.LongestAudioGapMs = max(u.LongestAudioGapMs, su.AudioGapMs)
		if su.TopLayerBackMs < 0 || u.TopLayerBackMs < 0 {
			u.TopLayerBackMs = -1
		} else {
			u.TopLayerBackMs = max(u.TopLayerBackMs, su.TopLayerBackMs)
		}
		u.Subscribers = append(u.Subscribers, su)
	}
	return u
}

func (u *UplinkReport) writeTable(w io.Writer) {
	fmt.Fprintf(w, "uplink of the publisher(s): loss %g %%, delay %g ms each way, rate cap %g kbit/s, for %.1f s, then %.1f s clean; %d of %d RTP/RTCP packets dropped\n",
		u.LossPercent, u.DelayMs, u.RateKbps, u.ImpairedFor, u.RecoverySecs, u.PublisherDrops, u.PublisherSent)
	fmt.Fprintln(w, "subscriber  fps min/mean (impaired)  frames q/h/f (impaired)  fps min after  frames q/h/f after  longest freeze ms (impaired / window)  audio gap ms  top layer back ms")
	for _, s := range u.Subscribers {
		fmt.Fprintf(w, "%-10s  %5.0f / %5.1f             %5d/%d/%d              %5.0f          %5d/%d/%d          %8.0f / %.0f                     %6.0f        %s\n",
			s.Name, s.FPSMin, s.FPSMean, s.FramesByLayer[0], s.FramesByLayer[1], s.FramesByLayer[2], s.AfterFPSMin,
			s.AfterByLayer[0], s.AfterByLayer[1], s.AfterByLayer[2], s.FreezeImpairMs, s.LongestFreezeMs, s.AudioGapMs, backText(s.TopLayerBackMs))
	}
	fmt.Fprintf(w, "worst: fps min %.0f, longest freeze %.0f ms, audio gap %.0f ms, top layer back %s\n",
		u.MinFPS, u.LongestFreezeMs, u.LongestAudioGapMs, backText(u.TopLayerBackMs))
}

func backText(v float64) string {
	if v < 0 {
		return i18n.T("bench.uplink.never_back").String()
	}
	return fmt.Sprintf("%.0f", v)
}
