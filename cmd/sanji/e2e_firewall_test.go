package main

import (
	"crypto/tls"
	"fmt"
	"math"
	"net"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"sanji/internal/certs/certstest"
)

// The firewall matrix: a hall behind each kind of firewall a township's network puts between it
// and the server, and behind links that go away or lose packets. The network is the lossy link's
// (e2e_impaired_test.go): the server in the root namespace on one end of a veth pair, a link
// namespace with a bridge in the middle whose nftables rules are the firewall (a forwarded packet
// dropped there is lost silently, as at a real firewall, not refused to its sender), and the
// hall's namespace behind it. The hall is a hall process (hallproc_test.go) run in its namespace
// with `ip netns exec`; the studio is one on the server's side. Both publish audio and receive
// each other's, so each row measures both directions. The server stays in the test's process (and
// so in the root namespace, on its end of the link) so that the test reads its metrics directly.

// fwRecovery is the matrix's limit for media to be back once the link is: the hall notices the
// lost link within about 3 s (a ping a second, 2 s to answer), resumes within a second of the
// link's return and restarts ICE 2 s later where the server's restarts did not do it.
const fwRecovery = 20 * time.Second

// fwRow is one row of the matrix.
type fwRow struct {
	name string
	// firewall is the nftables rules of the link's forward chain while the row runs (%[1]s is the
	// table), each direction told by iifname: "to-hall" from the hall, "to-server" from the server.
	firewall string
	// onePort serves everything on TCP 443 of the server's address (TLS, TURN on it).
	onePort bool
	// relayOnly makes the hall use only the ICE servers whose URL contains it, relay-only.
	relayOnly string
	// outage cuts the link entirely for this long once media flows.
	outage time.Duration
	// loss drops this share of UDP packets each way for fwLossFor once media flows.
	loss int
	// tcp lets the hall try ICE over TCP as well (where UDP is blocked); elsewhere the rows
	// measure UDP media, which is what a hall gets wherever UDP passes.
	tcp bool
}

// fwResult is what a row measured.
type fwResult struct {
	row              fwRow
	up, down         time.Duration // from the hall's dial to the first media at the studio, at the hall
	backUp, backDown time.Duration // from the link's return to media again at the studio, at the hall
	lossUp, lossDown float64       // the share of packets received during the loss, %
	blocked          uint64        // packets the firewall dropped
}

const (
	fwLossFor = 10 * time.Second
	// fwBlock drops every IPv4 packet (ARP passes, so the link's ends still find each other).
	fwBlock = "add rule bridge %[1]s forward ether type ip counter name blocked drop\n"
)

func fwRows() []fwRow {
	return []fwRow{
		{name: "open"},
		{name: "udp_blocked", tcp: true, firewall: "add rule bridge %[1]s forward meta l4proto udp counter name blocked drop\n"},
		{name: "only_tcp_443", onePort: true, tcp: true, firewall: fwOnly443},
		{name: "only_tcp_443_turn_tls", onePort: true, relayOnly: "turns:", firewall: fwOnly443},
		{name: "outage_3s", outage: 3 * time.Second},
		{name: "outage_30s", outage: 30 * time.Second},
		{name: "outage_60s", outage: 60 * time.Second},
		{name: "loss_1pct", loss: 1},
		{name: "loss_10pct", loss: 10},
	}
}

// fwOnly443 passes TCP to port 443 of the server and its answers, and ARP; it drops the rest.
const fwOnly443 = `add rule bridge %[1]s forward ether type arp accept
add rule bridge %[1]s forward iifname "to-hall" ether type ip ip protocol tcp tcp dport 443 accept
add rule bridge %[1]s forward iifname "to-server" ether type ip ip protocol tcp tcp sport 443 accept
add rule bridge %[1]s forward counter name blocked drop
`

// TestE2EFirewallMatrix runs the hall through each row and logs a table of what it measured. It
// needs no browser but is an end-to-end test of the binary's network paths, run with the others
// (without -race, one at a time: the timings are the point).
func TestE2EFirewallMatrix(t *testing.T) {
	fwNeedsNamespaces(t)
	link := newFirewallLink(t)
	var results []fwResult
	for _, row := range fwRows() {
		t.Run(row.name, func(t *testing.T) {
			results = append(results, fwRun(t, link, row))
		})
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n| row | first media hall→studio | studio→hall | back after the link returns hall→studio | studio→hall | received during loss up / down | dropped by the firewall |\n|---|---|---|---|---|---|---|\n")
	for _, r := range results {
		back, loss := "—", "—"
		if r.row.outage > 0 {
			back = fmt.Sprintf("%.2fs | %.2fs", r.backUp.Seconds(), r.backDown.Seconds())
		} else {
			back = "— | —"
		}
		if r.row.loss > 0 {
			loss = fmt.Sprintf("%.1f %% / %.1f %%", r.lossUp, r.lossDown)
		}
		fmt.Fprintf(&b, "| %s | %.2fs | %.2fs | %s | %s | %d |\n", r.row.name, r.up.Seconds(), r.down.Seconds(), back, loss, r.blocked)
	}
	t.Logf("firewall matrix:%s", b.String())
}

// newFirewallLink is the lossy link with a counter of what the firewall's rules drop.
func newFirewallLink(t testing.TB) *lossyLink {
	t.Helper()
	link := newLossyLink(t)
	if err := link.nftScript(fmt.Sprintf("add counter bridge %s blocked\n", lossyTable)); err != nil {
		t.Fatalf("nftables: %v", err)
	}
	return link
}

// fwNeedsNamespaces skips where network namespaces cannot be made (not root, or a kernel
// without them); where the e2e tests are asked for (SANJI_E2E=1, as in CI) that is a failure.
func fwNeedsNamespaces(t testing.TB) {
	t.Helper()
	why := ""
	switch {
	case runtime.GOOS != "linux":
		why = "network namespaces are Linux only"
	case os.Geteuid() != 0:
		why = "making network namespaces needs root"
	default:
		if _, err := os.Stat("/proc/self/ns/net"); err != nil {
			why = "this kernel has no network namespaces"
		}
	}
	if why == "" {
		return
	}
	if os.Getenv("SANJI_E2E") == "1" {
		t.Fatalf("SANJI_E2E=1 but %s", why)
	}
	t.Skip(why)
}

// fwCall is a row's call: a fresh server, the firewall, the studio and the hall, with media
// flowing both ways.
type fwCall struct {
	app          *app
	studio, hall *hallProc
	// up and down: from the hall's dial to the first media at the studio, at the hall.
	up, down time.Duration
}

// fwStart starts a row's call; the test's end stops it and clears the firewall.
func fwStart(t testing.TB, link *lossyLink, row fwRow, room string) fwCall {
	t.Helper()
	cfg := testConfig(t)
	cfg.LogLevel = "info"
	cfg.Listen = net.JoinHostPort(link.serverIP, "0")
	cfg.RTC.ListenIP = link.serverIP
	cfg.RTC.LoopbackOnly = false
	// Long enough for the longest outage and its detection: the participant must still be there.
	cfg.ResumeGrace = 2 * time.Minute
	hc := testHTTPClient(t)
	var caFile string
	scheme := "ws"
	if row.onePort {
		pair := certstest.NewFor(t, 1, net.ParseIP(link.serverIP))
		var keyFile string
		caFile, keyFile = pair.Write(t, t.TempDir())
		cfg.TLS = tlsConfig{CertFile: caFile, KeyFile: keyFile}
		cfg.Listen = net.JoinHostPort(link.serverIP, "443")
		cfg.OnePort = true
		cfg.TURN.Enabled = true
		cfg.TURN.UDPPort, cfg.TURN.TCPPort, cfg.TURN.TLSPort = -1, -1, -1
		hc.Transport.(*http.Transport).TLSClientConfig = &tls.Config{RootCAs: pair.Pool(), MinVersion: tls.VersionTLS12}
		scheme = "wss"
	}
	a := startTestApp(t, cfg)
	base := a.URL()
	ws := scheme + strings.TrimPrefix(strings.TrimPrefix(base, "https"), "http") + "/ws"

	if row.firewall != "" {
		if err := link.nftScript(fmt.Sprintf(row.firewall, lossyTable)); err != nil {
			t.Fatalf("firewall: %v", err)
		}
	}
	t.Cleanup(func() { link.clear(t) })
	c := fwCall{app: a}
	c.studio = startHall(t, "studio", hallSpec{WS: ws, Token: devToken(t, hc, base, room, "studio"), CAFile: caFile, LocalIP: link.serverIP}, "")
	c.studio.waitEvent(t, hallJoined, time.Time{}, 30*time.Second)
	c.hall = startHall(t, "hall", hallSpec{WS: ws, Token: devToken(t, hc, base, room, "hall"), CAFile: caFile, LocalIP: link.hallIP,
		TCP: row.tcp, RelayOnly: row.relayOnly, Keepalive: row.outage > 0}, link.hallNS)
	dial := c.hall.waitEvent(t, hallDial, time.Time{}, 30*time.Second)
	c.up = c.studio.waitEvent(t, hallMediaIn, time.Time{}, 30*time.Second).At.Sub(dial.At)
	c.down = c.hall.waitEvent(t, hallMediaIn, time.Time{}, 30*time.Second).At.Sub(dial.At)
	return c
}

// outage cuts the link for d and returns how long after its return media arrived again at
// the studio (up) and at the hall (down).
func (c fwCall) outage(t testing.TB, link *lossyLink, d time.Duration) (up, down time.Duration) {
	t.Helper()
	if err := link.nftScript(fmt.Sprintf(fwBlock, lossyTable)); err != nil {
		t.Fatalf("cut the link: %v", err)
	}
	// Waiting out the outage is the point: the link is down for exactly this long.
	time.Sleep(d)
	// Taken before the rules go: the first packets through may arrive before clear returns.
	back := time.Now()
	link.clear(t)
	up = c.studio.waitEvent(t, hallMediaIn, back, fwRecovery).At.Sub(back)
	down = c.hall.waitEvent(t, hallMediaIn, back, fwRecovery).At.Sub(back)
	return up, down
}

// fwRun runs one row: its call, then the row's outage or loss.
func fwRun(t *testing.T, link *lossyLink, row fwRow) fwResult {
	res := fwResult{row: row}
	before := link.counters(t)["blocked"]
	c := fwStart(t, link, row, "fw-"+row.name)
	studio, hall := c.studio, c.hall
	res.up, res.down = c.up, c.down
	t.Logf("%s: first media hall→studio %.2fs, studio→hall %.2fs after the hall's dial", row.name, res.up.Seconds(), res.down.Seconds())

	switch {
	case row.outage > 0:
		res.backUp, res.backDown = c.outage(t, link, row.outage)
		t.Logf("%s: link cut for %v; media back hall→studio %.2fs, studio→hall %.2fs after the link returned", row.name, row.outage, res.backUp.Seconds(), res.backDown.Seconds())
	case row.loss > 0:
		var b strings.Builder
		for _, from := range []string{"to-hall", "to-server"} {
			fmt.Fprintf(&b, "add rule bridge %s forward iifname %q meta l4proto udp numgen random mod 100 < %d counter name blocked drop\n", lossyTable, from, row.loss)
		}
		if err := link.nftScript(b.String()); err != nil {
			t.Fatalf("impair the link: %v", err)
		}
		// Counted between two reports of each side's, fwLossFor apart, while the loss lasts: the
		// packets received of those sent (by their sequence numbers).
		// (Each process's reports wait in its own queue, so one side is read after the other.)
		now := time.Now()
		sFrom, hFrom := studio.waitEvent(t, hallReceived, now, 5*time.Second), hall.waitEvent(t, hallReceived, now, 5*time.Second)
		sTo := studio.waitEvent(t, hallReceived, sFrom.At.Add(fwLossFor), fwLossFor+5*time.Second)
		hTo := hall.waitEvent(t, hallReceived, hFrom.At.Add(fwLossFor), 5*time.Second)
		share := func(from, to hallEvent) float64 {
			n0, s0 := fwCount(t, from)
			n1, s1 := fwCount(t, to)
			return 100 * float64(n1-n0) / float64(max(s1-s0, 1))
		}
		res.lossUp, res.lossDown = share(sFrom, sTo), share(hFrom, hTo)
		link.clear(t)
		t.Logf("%s: with %d %% of UDP lost each way the studio received %.1f %% of the hall's packets, the hall %.1f %% of the studio's",
			row.name, row.loss, res.lossUp, res.lossDown)
		// Media goes on through the loss: no more missing than twice the loss and 3 % (a loaded
		// machine drops a few packets of its own).
		for dir, got := range map[string]float64{"hall→studio": res.lossUp, "studio→hall": res.lossDown} {
			if want := 100 - 2*float64(row.loss) - 3; got < want {
				t.Errorf("%s: %s received %.1f %% of the packets during the loss, want %.0f %% or more", row.name, dir, got, want)
			}
		}
	}
	res.blocked = link.counters(t)["blocked"] - before
	// (The relay-only hall tries nothing the firewall would drop.)
	if row.firewall != "" && row.relayOnly == "" && res.blocked == 0 {
		t.Errorf("%s: the firewall dropped nothing: the row did not test what it says", row.name)
	}
	if row.onePort && row.relayOnly != "" && metric(t, c.app, "sanji_turn_relayed_bytes_total", map[string]string{"transport": "tls", "direction": "to_client"}) == 0 {
		t.Errorf("%s: nothing relayed over TURN/TLS", row.name)
	}
	return res
}

// fwCount is the packets received and sent of a hall process's report.
func fwCount(t testing.TB, e hallEvent) (received, sent int64) {
	n, s, _ := strings.Cut(e.Value, " ")
	received, err1 := strconv.ParseInt(n, 10, 64)
	sent, err2 := strconv.ParseInt(s, 10, 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("report %q: not two counts", e.Value)
	}
	return received, sent
}

// The targets as benchmarks (docs/benchmarks.md, "Through firewalls"). Each iteration is one
// trial; -benchtime=Nx runs N of them (after Go's first run of one). They report seconds:
// the median, p95 and worst of the trials.

// BenchmarkOutageRecovery: the hall's link is cut for 30 s or 60 s and comes back; a trial is the
// time from the link's return until media arrives again both ways (the later of the two).
//
//	go test ./cmd/sanji -run '^$' -bench OutageRecovery -benchtime=5x -timeout 60m
func BenchmarkOutageRecovery(b *testing.B) {
	for _, d := range []time.Duration{30 * time.Second, 60 * time.Second} {
		b.Run(d.String(), func(b *testing.B) {
			fwNeedsNamespaces(b)
			link := newFirewallLink(b)
			c := fwStart(b, link, fwRow{name: "outage", outage: d}, "bench-outage")
			trials := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for range b.N {
				up, down := c.outage(b, link, d)
				trials = append(trials, max(up, down))
			}
			b.StopTimer()
			fwReport(b, trials)
		})
	}
}

// BenchmarkFirstMediaTURNTLS: on loopback, with the one port and the relay-only policy, a trial
// is a hall that dials and gets media through TURN over TLS on that port: the time from its dial
// until media arrives both ways (the later of the two; the hall's process start is not counted).
//
//	go test ./cmd/sanji -run '^$' -bench FirstMediaTURNTLS -benchtime=50x
func BenchmarkFirstMediaTURNTLS(b *testing.B) {
	pair := certstest.New(b, 1)
	certFile, keyFile := pair.Write(b, b.TempDir())
	cfg := testConfig(b)
	cfg.LogLevel = "warn"
	cfg.TLS = tlsConfig{CertFile: certFile, KeyFile: keyFile}
	cfg.OnePort = true
	cfg.TURN.Enabled = true
	cfg.TURN.UDPPort, cfg.TURN.TCPPort, cfg.TURN.TLSPort = -1, -1, -1
	a := startTestApp(b, cfg)
	hc := testHTTPClient(b)
	hc.Transport.(*http.Transport).TLSClientConfig = &tls.Config{RootCAs: pair.Pool(), MinVersion: tls.VersionTLS12}
	ws := "wss" + strings.TrimPrefix(a.URL(), "https") + "/ws"
	trials := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		// A room of its own each time, with a studio that receives over the one port too.
		room := fmt.Sprintf("bench-turns-%d", i)
		studio := startHall(b, "studio", hallSpec{WS: ws, Token: devToken(b, hc, a.URL(), room, "studio"), CAFile: certFile, RelayOnly: "turns:"}, "")
		studio.waitEvent(b, hallJoined, time.Time{}, 30*time.Second)
		hall := startHall(b, "hall", hallSpec{WS: ws, Token: devToken(b, hc, a.URL(), room, "hall"), CAFile: certFile, RelayOnly: "turns:"}, "")
		dial := hall.waitEvent(b, hallDial, time.Time{}, 30*time.Second)
		up := studio.waitEvent(b, hallMediaIn, time.Time{}, 30*time.Second).At.Sub(dial.At)
		down := hall.waitEvent(b, hallMediaIn, time.Time{}, 30*time.Second).At.Sub(dial.At)
		trials = append(trials, max(up, down))
		hall.stop(b)
		studio.stop(b)
	}
	b.StopTimer()
	if metric(b, a, "sanji_turn_relayed_bytes_total", map[string]string{"transport": "tls", "direction": "to_client"}) == 0 {
		b.Fatal("nothing relayed over TURN/TLS")
	}
	fwReport(b, trials)
}

// fwReport reports the trials' median, p95 and worst, in seconds, and logs them all.
func fwReport(b *testing.B, trials []time.Duration) {
	b.Helper()
	sorted := slices.Clone(trials)
	slices.Sort(sorted)
	at := func(q float64) time.Duration { return sorted[int(math.Ceil(q*float64(len(sorted))))-1] }
	b.ReportMetric(0, "ns/op") // an iteration's time is the scenario's, not a measurement
	b.ReportMetric(at(0.5).Seconds(), "p50-s")
	b.ReportMetric(at(0.95).Seconds(), "p95-s")
	b.ReportMetric(sorted[len(sorted)-1].Seconds(), "max-s")
	b.ReportMetric(float64(len(trials)), "trials")
	b.Logf("%d trials: %v", len(trials), trials)
}
