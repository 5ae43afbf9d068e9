package sfu

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestForwardedCountersFoldOnScrape: each layer counts what it forwards to all its subscribers,
// and the scrape sums live layers and those gone, never going back.
func TestForwardedCountersFoldOnScrape(t *testing.T) {
	tr, _ := testTrack(t, time.Hour)
	reg := prometheus.NewRegistry()
	reg.MustRegister(tr.metrics.forwarded)
	l := tr.layer(0)
	tr.metrics.forwarded.track(&l.fwd)
	for range 3 {
		bindDown(t, tr, false)
	}
	feed(t, tr, 1, 0, vp8KeyPayload)
	feed(t, tr, 2, 3000, vp8DeltaPayload)
	want := func(packets, bytes int) {
		t.Helper()
		exp := "# HELP sanji_sfu_forwarded_bytes_total RTP bytes (header and payload) written to subscribers.\n" +
			"# TYPE sanji_sfu_forwarded_bytes_total counter\n" +
			"sanji_sfu_forwarded_bytes_total " + strconv.Itoa(bytes) + "\n" +
			"# HELP sanji_sfu_forwarded_packets_total RTP packets written to subscribers.\n" +
			"# TYPE sanji_sfu_forwarded_packets_total counter\n" +
			"sanji_sfu_forwarded_packets_total " + strconv.Itoa(packets) + "\n"
		if err := testutil.GatherAndCompare(reg, strings.NewReader(exp)); err != nil {
			t.Fatal(err)
		}
	}
	size := 3*(12+len(vp8KeyPayload)) + 3*(12+len(vp8DeltaPayload))
	want(6, size)
	tr.metrics.forwarded.retire(&l.fwd)
	want(6, size)
	other := &layer{}
	tr.metrics.forwarded.track(&other.fwd)
	other.fwd.packets.Add(4)
	other.fwd.bytes.Add(400)
	want(10, size+400)
}
