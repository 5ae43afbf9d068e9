package main

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"

	"github.com/chromedp/chromedp"

	"sanji/scheduler"
	"sanji/web/browsertest"
)

// TestE2EClusterReception: two nodes on one PostgreSQL and one Redis. The reception call is
// placed on node A (it serves the demo city); the leader opens node A's URL, both halls node B's.
// The halls' pages are sent to A by wrong_node and follow it by themselves (a WebSocket to
// another origin), and the documented reception works: hall A's hearing with the leader, then
// hall B's.
func TestE2EClusterReception(t *testing.T) { e2eTwoNodeReception(t, false) }

// TestE2ECascadeReception is the same reception with node b serving the district of both halls
// (上城区, 330102): the halls' pages still talk to a, which owns the call, but their media is held
// by b, one relay linking b's room to a's (package cascade).
func TestE2ECascadeReception(t *testing.T) { e2eTwoNodeReception(t, true) }

func e2eTwoNodeReception(t *testing.T, cascade bool) {
	chromium := browsertest.Path(t)
	redisAddr := os.Getenv("SANJI_TEST_REDIS")
	if redisAddr == "" {
		t.Skip("SANJI_TEST_REDIS is not set (CI sets it)")
	}
	dsn := testPGSchema(t)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	prefix := "sanjitest-" + hex.EncodeToString(b)
	keys := testIdentityKeys(t) // the nodes share one set, as a cluster's nodes must
	node := func(id string, demo bool, serves ...string) *app {
		cfg := clusterTestConfig(t, redisAddr, prefix, id)
		cfg.Store.DSN = dsn
		cfg.Identity.Keys = keys
		cfg.TokenSecret = testClusterSecret
		cfg.Demo = demo
		cfg.LogLevel = "info"
		cfg.Cluster.Serves = serves
		return startTestApp(t, cfg)
	}
	a := node("a", true, scheduler.DemoCityCode)
	var bServes []string
	if cascade {
		bServes = []string{"330102"}
	}
	bn := node("b", false, bServes...)
	waitView(t, bn, 2)
	waitView(t, a, 2)
	session, passwords := demoReception(t, a)
	hallA, hallB := session.HallIDs[0], session.HallIDs[1]

	browser := e2eBrowser(t, chromium)
	leader := openReception(t, browser, a.URL(), "demo-leader", passwords["demo-leader"], session.ID, "studio", 0, 0)
	pa := openReception(t, browser, bn.URL(), "demo-operator", passwords["demo-operator"], session.ID, "hall", hallA, 0)
	pb := openReception(t, browser, bn.URL(), "demo-operator2", passwords["demo-operator2"], session.ID, "hall", hallB, 0)
	// Every seat is on the owner's sockets: the leader's and both halls'.
	if n := a.sig.Sessions(); n != 3 {
		t.Fatalf("sessions on node a: %d, want the leader's and both halls'", n)
	}
	if held := bn.cascade.hub.Stats().Held; cascade && held != 2 {
		t.Fatalf("node b holds the media of %d participants, want both halls'", held)
	}
	click := func(p *e2ePage, what, sel string) {
		t.Helper()
		if err := chromedp.Do(p.ctx, chromedp.Click(chromedp.CSS(sel))); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	untilReception(t, "hall B's queue position", pb, func(s receptionStats) bool { return s.State.Phase == "idle" && s.State.Me.Position == 2 })
	click(leader, "call next", "#btn-next")
	e2eWait(t, pa.ctx, "recording notice at hall A", `!document.getElementById('notice-card').hidden`)
	click(pa, "acknowledge the recording notice", "#btn-ack")
	ids := map[string]string{}
	for name, p := range map[string]*e2ePage{"leader": leader, "hallA": pa, "hallB": pb} {
		ids[name] = receptionStatsOf(t, p).Self
	}
	untilReception(t, "leader decodes hall A", leader, func(s receptionStats) bool { return s.State.Phase == "hearing" && s.framesFrom(ids["hallA"]) > 0 })
	untilReception(t, "hall A decodes the leader", pa, func(s receptionStats) bool { return s.framesFrom(ids["leader"]) > 0 })
	if s := receptionStatsOf(t, pb); s.framesFrom("") != 0 || s.State.Me.Position != 1 {
		t.Fatalf("waiting hall B during hall A's hearing: %+v", s)
	}
	if err := chromedp.Do(leader.ctx, chromedp.SetValue(chromedp.ID("outcome"), "assigned")); err != nil {
		t.Fatal(err)
	}
	click(leader, "end the hearing", "#btn-end")
	untilReception(t, "hall A back to waiting", pa, func(s receptionStats) bool { return s.State.Phase == "idle" && !s.State.Me.OnStage })
	e2eWait(t, leader.ctx, "next enabled", `!document.getElementById('btn-next').disabled`)
	click(leader, "call next", "#btn-next")
	e2eWait(t, pb.ctx, "recording notice at hall B", `!document.getElementById('notice-card').hidden`)
	click(pb, "acknowledge at hall B", "#btn-ack")
	untilReception(t, "hall B decodes the leader on its hearing", pb, func(s receptionStats) bool {
		return s.State.Phase == "hearing" && s.State.Me.OnStage && s.framesFrom(ids["leader"]) > 0
	})
	for name, p := range map[string]*e2ePage{"leader": leader, "hallA": pa, "hallB": pb} {
		if exc := p.console.exceptions(); len(exc) > 0 {
			t.Errorf("%s: page exceptions: %v", name, exc)
		}
	}
}
