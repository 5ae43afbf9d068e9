package bench

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"sanji/i18n"
)

// Report is what one run measured; its JSON form is the file `sanji bench --json` writes.
type Report struct {
	Scenario string       `json:"scenario"`
	Started  time.Time    `json:"started"`
	Config   ConfigReport `json:"config"`
	// The machine's load average (1, 5, 15 min) at the start, and around the window.
	LoadStart       string  `json:"load_start"`
	LoadWindowStart string  `json:"load_window_start"`
	LoadWindowEnd   string  `json:"load_window_end"`
	WindowSeconds   float64 `json:"window_seconds"`

	Participants int `json:"participants"`
	JoinFailures int `json:"join_failures"`
	// ReceiversWithoutMedia lack a keyframe from at least one publisher of their room.
	ReceiversWithoutMedia int `json:"receivers_without_media"`
	// Join is the join request → joined time; FirstKeyframe is from asking for the token to the
	// first keyframe of the first video track, per receiving participant (not in the reception
	// scenario, where media waits for the stage: see Reception).
	Join          Summary `json:"join_ms"`
	FirstKeyframe Summary `json:"first_keyframe_ms"`

	Video KindReport `json:"video"`
	Audio KindReport `json:"audio"`

	// Publishers' side of the window.
	SentPackets  uint64 `json:"sent_packets"`
	SentBytes    uint64 `json:"sent_bytes"`
	PLIsReceived uint64 `json:"plis_received"`
	NACKedByPeer uint64 `json:"nacked_packets_received"`
	// With simulcast: the keyframe requests (PLI, FIR) each layer got over the whole run.
	PLIsByRID map[string]uint64 `json:"plis_by_rid,omitempty"`

	// Reception is the reception scenario's call: hearings, stage switches and leaks.
	Reception *ReceptionReport `json:"reception,omitempty"`
	// Uplink is the impaired scenario's: the publishers' link and what the subscribers showed.
	Uplink *UplinkReport `json:"uplink,omitempty"`

	Server    *ServerReport   `json:"server,omitempty"`
	Generator GeneratorReport `json:"generator"`
	Errors    []string        `json:"errors,omitempty"`
}

// ConfigReport is the run's configuration as reported.
type ConfigReport struct {
	Rooms             int     `json:"rooms"`
	Publishers        int     `json:"publishers_per_room"`
	Subscribers       int     `json:"subscribers_per_room"`
	PublishersReceive bool    `json:"publishers_receive"`
	DurationSeconds   float64 `json:"duration_seconds"`
	WarmupSeconds     float64 `json:"warmup_seconds"`
	JoinRate          float64 `json:"join_rate"`
	Bitrate           int     `json:"bitrate"`
	FPS               int     `json:"fps"`
	KeyframeSeconds   float64 `json:"keyframe_interval_seconds"`
	Audio             bool    `json:"audio"`
	Simulcast         bool    `json:"simulcast"`
}

func configReport(c Config) ConfigReport {
	return ConfigReport{Rooms: c.Rooms, Publishers: c.Publishers, Subscribers: c.Subscribers,
		PublishersReceive: c.PublishersReceive, DurationSeconds: c.Duration.Seconds(), WarmupSeconds: c.Warmup.Seconds(),
		JoinRate: c.JoinRate, Bitrate: c.Bitrate, FPS: c.FPS, KeyframeSeconds: c.KeyframeInterval.Seconds(), Audio: c.Audio,
		Simulcast: c.Simulcast}
}

// Summary is a distribution in milliseconds.
type Summary struct {
	N    int     `json:"n"`
	P50  float64 `json:"p50"`
	P95  float64 `json:"p95"`
	P99  float64 `json:"p99"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

func summarize(h *Histogram) Summary {
	return Summary{N: int(h.Count()), P50: ms(h.Quantile(0.50)), P95: ms(h.Quantile(0.95)), P99: ms(h.Quantile(0.99)),
		Max: ms(h.Max()), Mean: ms(h.Mean())}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// KindReport sums the received streams of one kind over the window.
type KindReport struct {
	Streams  int    `json:"streams"`
	Expected uint64 `json:"expected_packets"`
	Received uint64 `json:"received_packets"`
	Lost     uint64 `json:"lost_packets"`
	// LossPercent is over all streams; WorstLossPercent is the worst single stream's.
	LossPercent      float64 `json:"loss_percent"`
	WorstLossPercent float64 `json:"worst_stream_loss_percent"`
	JitterMeanMs     float64 `json:"jitter_mean_ms"`
	JitterMaxMs      float64 `json:"jitter_max_ms"`
	Latency          Summary `json:"latency_ms"`
	// BitrateKbps is the mean received payload bitrate of one stream.
	BitrateKbps float64 `json:"bitrate_kbps"`
}

// ServerReport is the server's cost over the window.
type ServerReport struct {
	PID        int     `json:"pid,omitempty"`
	CPUSeconds float64 `json:"cpu_seconds"`
	// Setup is the server's CPU from before the first join to the window's start: the joins,
	// negotiations and handshakes, plus the media of the settle and warmup phases. Per
	// participant, it is the join cost (exactly so in the idle scenario, which has no media).
	SetupCPUSeconds       float64 `json:"setup_cpu_seconds"`
	SetupCPUPerParticipMs float64 `json:"setup_cpu_ms_per_participant"`
	Cores                 float64 `json:"cores"` // CPU seconds per second of window
	// RSS: before any join, at the window's start and end, and the process's peak.
	RSSBaselineKB int64 `json:"rss_baseline_kb"`
	RSSStartKB    int64 `json:"rss_window_start_kb"`
	RSSEndKB      int64 `json:"rss_window_end_kb"`
	RSSPeakKB     int64 `json:"rss_peak_kb"`
	// Per receiving participant: (RSS at the window's end − baseline) / receivers; the same for
	// the Go heap in use, which is what the server itself holds (RSS also has GC headroom).
	RSSPerReceiverKB  float64 `json:"rss_per_receiver_kb"`
	HeapPerReceiverKB float64 `json:"heap_per_receiver_kb"`

	// HeapStackKB is the Go heap and goroutine stacks in use at the window's end: comparing two
	// runs with different numbers of receivers gives the memory each costs, free of the GC headroom
	// and of whatever the process allocated and freed at start.
	HeapStackKB float64 `json:"heap_stack_inuse_kb"`
	StackKB     float64 `json:"stack_inuse_kb"`
	// Goroutines at the window's end, and per participant over the baseline.
	Goroutines               float64 `json:"goroutines"`
	GoroutinesPerParticipant float64 `json:"goroutines_per_participant"`

	ForwardedPackets   float64 `json:"forwarded_packets"`
	ForwardedBytes     float64 `json:"forwarded_bytes"`
	NACKed             float64 `json:"nacked_packets"`
	Retransmitted      float64 `json:"retransmitted_packets"`
	ForwardedMbps      float64 `json:"forwarded_mbps"`
	MicrosPerPacket    float64 `json:"cpu_us_per_forwarded_packet"`
	CoreSecondsPerGbit float64 `json:"core_seconds_per_forwarded_gbit"`
}

// GeneratorReport is the bench's own CPU over the window.
type GeneratorReport struct {
	CPUSeconds float64 `json:"cpu_seconds"`
	Cores      float64 `json:"cores"`
}

func (r *Report) receivers() int {
	if r.Reception != nil {
		return 1 + r.Reception.Halls + r.Reception.Units // everyone receives
	}
	c := r.Config
	per := c.Subscribers
	if c.PublishersReceive {
		per += c.Publishers
	}
	return c.Rooms * per
}

func (r *runner) fill(rep *Report, window time.Duration, pub pubTotals) {
	rep.WindowSeconds = window.Seconds()
	rep.SentPackets, rep.SentBytes, rep.PLIsReceived, rep.NACKedByPeer = pub.packets, pub.bytes, pub.plis, pub.nacks
	var join, key Histogram
	kinds := map[string]*kindAcc{"video": {}, "audio": {}}
	for _, p := range r.snapshot() {
		rep.Participants++
		if p.failed.Load() {
			rep.JoinFailures++
			continue
		}
		join.Record(p.joinTime)
		first := time.Duration(-1)
		for _, s := range p.streamList() {
			st := s.Stats()
			if k := kinds[st.Kind]; k != nil {
				k.add(st, window)
			}
			if st.FirstKeyframe >= 0 && (first < 0 || st.FirstKeyframe < first) {
				first = st.FirstKeyframe
			}
		}
		if first >= 0 && r.rec == nil { // in the reception call, media waits for the stage
			key.Record(first - p.joinStart)
		}
		if p.keyframes() < r.expectedVideo(p) {
			rep.ReceiversWithoutMedia++
		}
		for _, l := range p.layers {
			if l.rid != "" {
				if rep.PLIsByRID == nil {
					rep.PLIsByRID = map[string]uint64{}
				}
				rep.PLIsByRID[l.rid] += l.plis.Load()
			}
		}
	}
	rep.Join, rep.FirstKeyframe = summarize(&join), summarize(&key)
	rep.Video, rep.Audio = kinds["video"].report(), kinds["audio"].report()
}

type kindAcc struct {
	r       KindReport
	jitters []float64
	lat     Histogram
	kbps    float64
}

func (k *kindAcc) add(st StreamStats, window time.Duration) {
	k.r.Streams++
	k.r.Expected += st.Expected
	k.r.Received += st.Received
	k.r.Lost += st.Lost
	if st.Expected > 0 {
		k.r.WorstLossPercent = max(k.r.WorstLossPercent, 100*float64(st.Lost)/float64(st.Expected))
	}
	k.jitters = append(k.jitters, ms(st.Jitter))
	k.lat.Merge(&st.Latency)
	if window > 0 {
		k.kbps += float64(st.Bytes) * 8 / window.Seconds() / 1000
	}
}

func (k *kindAcc) report() KindReport {
	r := k.r
	if r.Expected > 0 {
		r.LossPercent = 100 * float64(r.Lost) / float64(r.Expected)
	}
	if len(k.jitters) > 0 {
		var sum float64
		for _, j := range k.jitters {
			sum += j
		}
		r.JitterMeanMs = sum / float64(len(k.jitters))
		r.JitterMaxMs = slices.Max(k.jitters)
		r.BitrateKbps = k.kbps / float64(len(k.jitters))
	}
	r.Latency = summarize(&k.lat)
	return r
}

func serverReport(cfg Config, window time.Duration, base, p1, p2 procSample, m0, m1, m2 map[string]float64, receivers, participants int) *ServerReport {
	s := &ServerReport{
		ForwardedPackets: m2["sanji_sfu_forwarded_packets_total"] - m1["sanji_sfu_forwarded_packets_total"],
		ForwardedBytes:   m2["sanji_sfu_forwarded_bytes_total"] - m1["sanji_sfu_forwarded_bytes_total"],
		NACKed:           m2["sanji_sfu_nacked_packets_total"] - m1["sanji_sfu_nacked_packets_total"],
		Retransmitted:    m2["sanji_sfu_retransmitted_packets_total"] - m1["sanji_sfu_retransmitted_packets_total"],
	}
	s.Goroutines = m2["go_goroutines"]
	s.HeapStackKB = (m2["go_memstats_heap_inuse_bytes"] + m2["go_memstats_stack_inuse_bytes"]) / 1024
	s.StackKB = m2["go_memstats_stack_inuse_bytes"] / 1024
	if participants > 0 {
		s.GoroutinesPerParticipant = (m2["go_goroutines"] - m0["go_goroutines"]) / float64(participants)
	}
	if window > 0 {
		s.ForwardedMbps = s.ForwardedBytes * 8 / window.Seconds() / 1e6
	}
	if receivers > 0 {
		s.HeapPerReceiverKB = (m2["go_memstats_heap_inuse_bytes"] - m0["go_memstats_heap_inuse_bytes"]) / 1024 / float64(receivers)
	}
	if cfg.ServerPID <= 0 {
		return s
	}
	s.PID = cfg.ServerPID
	cpu := p2.CPU - p1.CPU
	s.CPUSeconds = cpu.Seconds()
	if window > 0 {
		s.Cores = s.CPUSeconds / window.Seconds()
	}
	s.SetupCPUSeconds = (p1.CPU - base.CPU).Seconds()
	if participants > 0 {
		s.SetupCPUPerParticipMs = s.SetupCPUSeconds * 1000 / float64(participants)
	}
	s.RSSBaselineKB, s.RSSStartKB, s.RSSEndKB, s.RSSPeakKB = base.RSSKB, p1.RSSKB, p2.RSSKB, p2.HWMKB
	if receivers > 0 {
		s.RSSPerReceiverKB = float64(p2.RSSKB-base.RSSKB) / float64(receivers)
	}
	if s.ForwardedPackets > 0 {
		s.MicrosPerPacket = s.CPUSeconds * 1e6 / s.ForwardedPackets
	}
	if s.ForwardedBytes > 0 {
		s.CoreSecondsPerGbit = s.CPUSeconds / (s.ForwardedBytes * 8 / 1e9)
	}
	return s
}

func (rc *ReceptionReport) writeTable(w io.Writer) {
	recorded := "not recorded"
	if rc.Recorded {
		recorded = "recorded"
	}
	fmt.Fprintf(w, "reception (session %d): %d hearing(s), %s, %d with media both ways between every two on stage, %d packets on stage",
		rc.SessionID, rc.Hearings, recorded, rc.Delivered, rc.StagePackets)
	if rc.QueueEmpty {
		fmt.Fprint(w, "; the queue ran out")
	}
	fmt.Fprintf(w, "\nstage switch (call_next answered → new hall's first video at the studio) ms: p50 %.1f  p95 %.1f  max %.1f\n",
		rc.StageSwitch.P50, rc.StageSwitch.P95, rc.StageSwitch.Max)
	fmt.Fprintf(w, "hall on stage gets the studio's first video ms:                          p50 %.1f  p95 %.1f  max %.1f\n",
		rc.HallSeesStudio.P50, rc.HallSeesStudio.P95, rc.HallSeesStudio.Max)
	verdict := "no leaks"
	if rc.Leaked() > 0 {
		verdict = i18n.T("bench.report.leaked").String()
	}
	fmt.Fprintf(w, "%s: packets to waiting halls %d, to off-stage units %d, to the studio from off stage %d\n",
		verdict, rc.LeakedToWaitingHalls, rc.LeakedToOffStageUnits, rc.LeakedToStudio)
	for i, l := range rc.Leaks {
		if i == 10 {
			fmt.Fprintf(w, "  … %d more\n", len(rc.Leaks)-i)
			break
		}
		fmt.Fprintf(w, "  %s got %d %s packets of %s\n", l.Receiver, l.Packets, l.Kind, l.Sender)
	}
	for i, m := range rc.Missing {
		if i == 10 {
			fmt.Fprintf(w, "  … %d more without media\n", len(rc.Missing)-i)
			break
		}
		fmt.Fprintf(w, "  %s\n", m)
	}
}

// WriteJSON writes the report to path, indented.
func (r *Report) WriteJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("%s: %w", i18n.T("bench.report.write_failed", "path", path), err)
	}
	return nil
}

// WriteTable writes the report for a person.
func (r *Report) WriteTable(w io.Writer) {
	c := r.Config
	if rc := r.Reception; rc != nil {
		fmt.Fprintf(w, "scenario %s: studio + %d hall(s) + %d unit(s), hearings of %g s, %.0f s window, %.1f Mbit/s %d fps video",
			r.Scenario, rc.Halls, rc.Units, rc.HearingSeconds, r.WindowSeconds, float64(c.Bitrate)/1e6, c.FPS)
	} else {
		fmt.Fprintf(w, "scenario %s: %d room(s) × %d publisher(s) → %d subscriber(s), %.0f s window, %.1f Mbit/s %d fps video",
			r.Scenario, c.Rooms, c.Publishers, c.Subscribers, r.WindowSeconds, float64(c.Bitrate)/1e6, c.FPS)
	}
	if c.Simulcast {
		fmt.Fprint(w, " in 3 simulcast layers")
	}
	if c.Audio {
		fmt.Fprint(w, " + audio")
	}
	fmt.Fprintf(w, "\nload average: %s at start, %s → %s over the window\n", r.LoadStart, r.LoadWindowStart, r.LoadWindowEnd)
	fmt.Fprintf(w, "participants %d, join failures %d, receivers without media %d\n\n", r.Participants, r.JoinFailures, r.ReceiversWithoutMedia)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "media\tstreams\treceived\tlost\tloss %\tworst %\tjitter ms\tlat p50\tp95\tp99\tmax ms\tkbit/s\t")
	for _, k := range []struct {
		name string
		r    KindReport
	}{{"video", r.Video}, {"audio", r.Audio}} {
		if k.r.Streams == 0 {
			continue
		}
		l := k.r.Latency
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.3f\t%.3f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.0f\t\n", k.name, k.r.Streams, k.r.Received, k.r.Lost,
			k.r.LossPercent, k.r.WorstLossPercent, k.r.JitterMeanMs, l.P50, l.P95, l.P99, l.Max, k.r.BitrateKbps)
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "\njoin (request → joined) ms:    p50 %.1f  p95 %.1f  max %.1f\n", r.Join.P50, r.Join.P95, r.Join.Max)
	if r.Reception == nil {
		fmt.Fprintf(w, "join → first keyframe ms:      p50 %.1f  p95 %.1f  max %.1f\n", r.FirstKeyframe.P50, r.FirstKeyframe.P95, r.FirstKeyframe.Max)
	}
	fmt.Fprintf(w, "publishers: sent %d packets, got %d PLIs, %d NACKed packets\n", r.SentPackets, r.PLIsReceived, r.NACKedByPeer)
	if len(r.PLIsByRID) > 0 {
		fmt.Fprintf(w, "keyframe requests per simulcast layer (whole run): q %d, h %d, f %d\n",
			r.PLIsByRID["q"], r.PLIsByRID["h"], r.PLIsByRID["f"])
	}
	if rc := r.Reception; rc != nil {
		rc.writeTable(w)
	}
	if u := r.Uplink; u != nil {
		u.writeTable(w)
	}
	if s := r.Server; s != nil {
		fmt.Fprintf(w, "server: forwarded %.0f packets (%.1f Mbit/s), NACKed %.0f, retransmitted %.0f\n",
			s.ForwardedPackets, s.ForwardedMbps, s.NACKed, s.Retransmitted)
		fmt.Fprintf(w, "server: Go heap+stacks in use %.0f KiB at the end (heap %+.0f KiB per receiver over the start), %.0f goroutines (%+.1f per participant)\n",
			s.HeapStackKB, s.HeapPerReceiverKB, s.Goroutines, s.GoroutinesPerParticipant)
		if s.PID > 0 {
			fmt.Fprintf(w, "server pid %d: CPU %.2f s (%.2f cores), %.2f µs/forwarded packet, %.2f core-s/forwarded Gbit\n",
				s.PID, s.CPUSeconds, s.Cores, s.MicrosPerPacket, s.CoreSecondsPerGbit)
			fmt.Fprintf(w, "server setup (joins → window start): CPU %.2f s, %.1f ms per participant\n",
				s.SetupCPUSeconds, s.SetupCPUPerParticipMs)
			fmt.Fprintf(w, "server RSS KiB: baseline %d, window %d → %d, peak %d; %.0f KiB per receiver\n",
				s.RSSBaselineKB, s.RSSStartKB, s.RSSEndKB, s.RSSPeakKB, s.RSSPerReceiverKB)
		}
	}
	fmt.Fprintf(w, "generator: CPU %.2f s (%.2f cores)\n", r.Generator.CPUSeconds, r.Generator.Cores)
	if len(r.Errors) > 0 {
		fmt.Fprintf(w, "errors (%d shown):\n  %s\n", len(r.Errors), strings.Join(r.Errors, "\n  "))
	}
}

// errorT is the catalog message k as an error ("中文 / English").
func errorT(k i18n.Key, args ...any) error { return errors.New(i18n.T(k, args...).String()) }
