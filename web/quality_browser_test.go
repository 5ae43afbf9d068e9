package web

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/gorilla/websocket"
)

// These tests feed the pages scripted `quality` messages (docs/protocol.md, Quality) and check
// that a lowered, paused or badly sent picture is named on its tile, that our own poor link is
// said in the header or toolbar, and that all of it goes away when the link is good again.

type link struct {
	Level   string  `json:"level"`
	Loss    float64 `json:"loss"`
	RTTMs   int     `json:"rtt_ms"`
	Bitrate int     `json:"bitrate"`
}

type trackQ struct {
	TrackID         string `json:"track_id"`
	ParticipantID   string `json:"participant_id"`
	Layer           int    `json:"layer"`
	TopLayer        int    `json:"top_layer"`
	Lowered         bool   `json:"lowered"`
	Paused          bool   `json:"paused"`
	PublisherUplink string `json:"publisher_uplink"`
}

func quality(up, down string, tracks ...trackQ) map[string]any {
	if tracks == nil {
		tracks = []trackQ{}
	}
	return map[string]any{
		"uplink":   link{Level: up, Loss: 0.12, RTTMs: 180, Bitrate: 240_000},
		"downlink": link{Level: down, RTTMs: 180, Bitrate: 2_500_000},
		"tracks":   tracks,
	}
}

// contrastJS is the WCAG contrast ratio of an element's text against its own background, for
// opaque colours (as the badges use: they sit on moving video).
const contrastJS = `((el) => {
	const s = getComputedStyle(el);
	const rgb = (c) => c.match(/[\d.]+/g).slice(0, 3).map(Number);
	const lum = (c) => { const [r, g, b] = rgb(c).map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
		return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
	const a = lum(s.color), b = lum(s.backgroundColor);
	return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
})`

func checkContrast(t *testing.T, p *tab, what, selector string) {
	t.Helper()
	if alpha := p.text(`getComputedStyle(document.querySelector(` + jsString(selector) + `)).backgroundColor`); strings.HasPrefix(alpha, "rgba") {
		t.Errorf("%s: background %s is not opaque", what, alpha)
	}
	if r := eval[float64](t, p.ctx, contrastJS+`(document.querySelector(`+jsString(selector)+`))`); r < 4.5 {
		t.Errorf("%s: contrast %.2f:1, want at least 4.5:1", what, r)
	}
}

// noHandlerErrors fails the test, at its end, for an exception or a failed event handler on the
// page (session.js catches and logs them, so the page would go on as if nothing happened).
func noHandlerErrors(t *testing.T, console *consoleLog) {
	t.Cleanup(func() {
		for _, e := range console.errors() {
			t.Logf("console: %s", e)
			if strings.Contains(e, "handler for") || strings.Contains(e, "exception") {
				t.Errorf("page error: %s", e)
			}
		}
	})
}

func jsString(s string) string { return "'" + strings.ReplaceAll(s, "'", `\'`) + "'" }

func waitSocket(t *testing.T, conns chan *websocket.Conn) *websocket.Conn {
	t.Helper()
	select {
	case c := <-conns:
		return c
	case <-time.After(15 * time.Second):
		t.Fatal("the page did not open the signaling socket")
		return nil
	}
}

func TestCallPageShowsQuality(t *testing.T) {
	srv := newFakeServer(t)
	p := &tab{t: t, ctx: newBrowser(t), url: srv.URL}
	noHandlerErrors(t, collectConsole(p.ctx))
	p.do("open the call page", chromedp.Navigate(srv.URL+"/call.html#token="+fakeToken))
	c := waitSocket(t, srv.conns)
	join := expect(t, c, "join")
	send(t, c, "joined", join.ID, map[string]any{
		"room":        "r1",
		"participant": map[string]any{"id": "me", "name": "Me", "role": "observer", "tracks": []any{}},
		"participants": []any{
			map[string]any{"id": "p2", "name": "清波街道", "role": "hall_operator", "tracks": []any{
				map[string]any{"id": "TR_v2", "participant_id": "p2", "kind": "video", "codec": "video/VP8", "simulcast": true}}},
			map[string]any{"id": "p3", "name": "Bob", "role": "case_handler", "tracks": []any{
				map[string]any{"id": "TR_v3", "participant_id": "p3", "kind": "video", "codec": "video/VP8"}}},
		},
		"ice_servers": []any{},
	})
	p.wait("two remote tiles", `document.querySelectorAll("#grid .tile.remote").length === 2`)
	badge := func(id string) string {
		return `document.querySelector('[data-participant="` + id + `"] .tile-quality')`
	}
	if got := p.text(badge("p2") + `.getAttribute("role") + "/" + ` + badge("p2") + `.textContent`); got != "status/" {
		t.Errorf("before any report the badge is %q, want an empty live region (status/)", got)
	}

	// Our uplink is poor and Ann's video comes lowered.
	send(t, c, "quality", "", quality("poor", "good",
		trackQ{TrackID: "TR_v2", ParticipantID: "p2", Layer: 0, TopLayer: 2, Lowered: true, PublisherUplink: "good"},
		trackQ{TrackID: "TR_v3", ParticipantID: "p3", Layer: 0, TopLayer: 0, PublisherUplink: "good"}))
	p.wait("lowered badge", badge("p2")+`.textContent === "清波街道：网络较差，已降为低清"`)
	if got := p.text(badge("p3") + `.textContent`); got != "" {
		t.Errorf("Bob's tile says %q, want nothing", got)
	}
	if got := p.text(`[...document.querySelectorAll("#net > :not([hidden])")].map((e) => e.textContent).join("|")`); got != "上行网络：较差|下行网络：良好|您的网络较差，对方可能看不清" {
		t.Errorf("own links: %q", got)
	}
	if got := p.text(`document.getElementById("net").getAttribute("role") + "/" + document.getElementById("net-up").title`); got != "status/丢包 12.0% · 往返 180 毫秒" {
		t.Errorf("own links region and tooltip: %q", got)
	}
	checkContrast(t, p, "lowered badge", `[data-participant="p2"] .tile-quality`)
	checkContrast(t, p, "own poor link", `#net-warn`)

	// Paused now, and Bob's sender has an unstable link; in English too.
	send(t, c, "quality", "", quality("poor", "fair",
		trackQ{TrackID: "TR_v2", ParticipantID: "p2", Layer: -1, TopLayer: 2, Lowered: true, Paused: true, PublisherUplink: "good"},
		trackQ{TrackID: "TR_v3", ParticipantID: "p3", Layer: 0, TopLayer: 0, PublisherUplink: "fair"}))
	p.wait("paused badge", badge("p2")+`.textContent === "清波街道：网络较差，视频已暂停（仅音频）"`)
	p.wait("their link badge", badge("p3")+`.textContent === "Bob：对方网络不稳定"`)
	checkContrast(t, p, "paused badge", `[data-participant="p2"] .tile-quality`)
	checkContrast(t, p, "their link badge", `[data-participant="p3"] .tile-quality`)
	p.do("switch to English", chromedp.Click(chromedp.CSS(`#lang button[data-lang="en"]`)))
	for sel, want := range map[string]string{
		badge("p2") + `.textContent`:                      "清波街道: video paused, poor link (audio only)",
		badge("p3") + `.textContent`:                      "Bob: their link is unstable",
		`document.getElementById("net-warn").textContent`: "Your link is poor: others may see you lowered",
		`document.getElementById("net-down").textContent`: "Downlink: fair",
		`document.getElementById("net-up").title`:         "loss 12.0% · round trip 180 ms",
	} {
		if got := p.text(sel); got != want {
			t.Errorf("in English, %s = %q, want %q", sel, got, want)
		}
	}

	// All good again: the notices go, and a language switch does not bring them back.
	send(t, c, "quality", "", quality("good", "good",
		trackQ{TrackID: "TR_v2", ParticipantID: "p2", Layer: 2, TopLayer: 2, PublisherUplink: "good"},
		trackQ{TrackID: "TR_v3", ParticipantID: "p3", Layer: 0, TopLayer: 0, PublisherUplink: "good"}))
	p.wait("badges cleared", badge("p2")+`.textContent === "" && `+badge("p3")+`.textContent === "" && document.getElementById("net-warn").hidden`)
	p.do("switch back to Chinese", chromedp.Click(chromedp.CSS(`#lang button[data-lang="zh"]`)))
	if got := p.text(badge("p2") + `.textContent + "|" + ` + badge("p3") + `.textContent + "|" + document.getElementById("net-up").textContent`); got != "||上行网络：良好" {
		t.Errorf("after the link recovered and a language switch: %q", got)
	}
}

// receptionFake is the reception page's side of the server: a logged-in hall operator, a seat
// token, and the signaling socket handed to the test.
func receptionFake(t *testing.T) (*httptest.Server, chan *websocket.Conn) {
	t.Helper()
	return officeFake(t, nil)
}

// studioOffer is a subscriber offer with one video track of the studio (msid = its participant
// id): enough for the page to draw the studio's tile, without media ever flowing.
const studioOffer = "v=0\r\n" +
	"o=- 4611731400430051336 2 IN IP4 127.0.0.1\r\n" +
	"s=-\r\n" +
	"t=0 0\r\n" +
	"a=group:BUNDLE 0\r\n" +
	"a=msid-semantic: WMS studio-1\r\n" +
	"m=video 9 UDP/TLS/RTP/SAVPF 96\r\n" +
	"c=IN IP4 0.0.0.0\r\n" +
	"a=rtcp:9 IN IP4 0.0.0.0\r\n" +
	"a=ice-ufrag:Qx7v\r\n" +
	"a=ice-pwd:3Hh0gB6y1nQ8Zp2Lr5Ts9Kw4\r\n" +
	"a=fingerprint:sha-256 5B:9A:4E:1D:7C:2F:03:88:6A:B1:C4:0E:93:57:D2:6F:18:AA:3C:E7:41:0B:95:2D:C8:7E:66:F0:14:B3:59:A2\r\n" +
	"a=setup:actpass\r\n" +
	"a=mid:0\r\n" +
	"a=sendonly\r\n" +
	"a=msid:studio-1 TR_sv\r\n" +
	"a=rtcp-mux\r\n" +
	"a=rtpmap:96 VP8/90000\r\n" +
	"a=ssrc:1001 cname:studio\r\n"

func TestReceptionPageShowsQuality(t *testing.T) {
	srv, conns := receptionFake(t)
	p := &tab{t: t, ctx: newBrowser(t), url: srv.URL}
	noHandlerErrors(t, collectConsole(p.ctx))
	p.do("open the hall's seat", chromedp.Navigate(srv.URL+"/reception.html?session=1&seat=hall&hall=7"))
	c := waitSocket(t, conns)
	join := expect(t, c, "join")
	send(t, c, "joined", join.ID, map[string]any{
		"room":        "call-1",
		"participant": map[string]any{"id": "hall-7", "name": "清波街道接访大厅", "role": "hall_operator", "tracks": []any{}},
		"participants": []any{map[string]any{"id": "studio-1", "name": "市领导视频接访室", "role": "leader", "tracks": []any{
			map[string]any{"id": "TR_sv", "participant_id": "studio-1", "kind": "video", "codec": "video/VP8", "simulcast": true}}}},
		"ice_servers": []any{},
	})
	send(t, c, "call_state", "", map[string]any{
		"session_id": 1, "title": "副市长接访", "leader": "王五一", "studio": "市领导视频接访室", "seat": "hall", "phase": "hearing", "broadcast": false,
		"stage": map[string]any{"appointment_id": 1, "hall_id": 7, "hall_name": "清波街道接访大厅", "units": []any{}, "case_id": 0, "case_number": "",
			"called_at": time.Now().Format(time.RFC3339), "recording_acknowledged": true, "speakers": []any{}, "record_confirmed": false},
		"queue": []any{}, "me": map[string]any{"on_stage": true, "floor": true, "hand": false},
		// Tiles are named by the call's captions (the place), not by the participant's name.
		"tiles": []any{map[string]any{"participant_id": "studio-1", "place": "市领导视频接访室"}},
	})
	send(t, c, "subscribe_offer", "", map[string]string{"sdp": studioOffer})
	p.wait("the studio's tile", `document.body.dataset.seat === "hall" && !!document.querySelector('[data-participant="studio-1"]')`)
	const badge = `document.querySelector('[data-participant="studio-1"] .tile-quality')`

	// The hall's own uplink is poor; the studio's sender link is unstable.
	send(t, c, "quality", "", quality("poor", "good",
		trackQ{TrackID: "TR_sv", ParticipantID: "studio-1", Layer: 2, TopLayer: 2, PublisherUplink: "fair"}))
	p.wait("their link badge", badge+`.textContent === "市领导视频接访室：对方网络不稳定"`)
	if got := p.text(badge + `.getAttribute("role")`); got != "status" {
		t.Errorf("badge role %q, want status", got)
	}
	p.wait("the hall is told its own link is poor", `document.getElementById("net-warn").textContent === "您的网络较差，对方可能看不清" && !document.getElementById("net-warn").hidden`)
	checkContrast(t, p, "their link badge", `[data-participant="studio-1"] .tile-quality`)
	checkContrast(t, p, "own poor link", `#net-warn`)

	send(t, c, "quality", "", quality("poor", "fair",
		trackQ{TrackID: "TR_sv", ParticipantID: "studio-1", Layer: 0, TopLayer: 2, Lowered: true, PublisherUplink: "good"}))
	p.wait("lowered badge", badge+`.textContent === "市领导视频接访室：网络较差，已降为低清"`)

	send(t, c, "quality", "", quality("good", "good",
		trackQ{TrackID: "TR_sv", ParticipantID: "studio-1", Layer: 2, TopLayer: 2, PublisherUplink: "good"}))
	p.wait("all clear", badge+`.textContent === "" && document.getElementById("net-warn").hidden && document.getElementById("net-up").textContent === "上行网络：良好"`)
}
