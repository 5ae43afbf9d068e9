package main

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"sanji/web/browsertest"
)

// simulcastDeadline bounds each wait for a layer: Chromium's simulcast top layers can take up
// to ~15 s to ramp up on loopback.
const simulcastDeadline = 60 * time.Second

// TestE2ESimulcastFollowsTileSize: one page publishes its fake camera in three simulcast layers;
// on the other page the server sends the small layer while the tile is small, and the top layer
// when the tile is enlarged, as getStats' frameWidth shows.
func TestE2ESimulcastFollowsTileSize(t *testing.T) {
	chromium := browsertest.Path(t)
	a := startE2EApp(t)
	browserCtx := e2eBrowser(t, chromium)
	room := "simulcast-" + e2eRandom(t)
	publisher := e2eJoin(t, browserCtx, a.URL(), room, "Publisher")
	viewer := e2eJoin(t, browserCtx, a.URL(), room, "Viewer")
	e2eWait(t, viewer.ctx, "viewer shows the publisher's tile", `document.querySelector("#grid .tile.remote video") !== null`)

	widthAt := func(what, css string, ok func(int) bool) int {
		t.Helper()
		if _, err := chromedp.Run(viewer.ctx, chromedp.Evaluate[string](
			`document.querySelector("#grid .tile.remote").style.cssText = `+jsString(css))); err != nil {
			t.Fatalf("%s: resize tile: %v", what, err)
		}
		deadline := time.Now().Add(simulcastDeadline)
		last := 0
		for {
			w, err := videoFrameWidth(viewer)
			if err == nil && w > 0 {
				last = w
				if ok(w) {
					return w
				}
			}
			if time.Now().After(deadline) {
				st, _ := viewer.stats()
				t.Logf("viewer stats: %s", st)
				t.Logf("publisher console:\n%v\nviewer console:\n%v", publisher.console.all(), viewer.console.all())
				t.Fatalf("%s: frameWidth still %d after %v (error %v)", what, last, simulcastDeadline, err)
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
	small := widthAt("small tile gets the low layer", "width:160px;flex:none", func(w int) bool { return w <= 320 })
	large := widthAt("large tile gets the top layer", "width:1200px;flex:none", func(w int) bool { return w > 480 })
	t.Logf("frame width: small tile %d, large tile %d", small, large)
	small2 := widthAt("small again", "width:160px;flex:none", func(w int) bool { return w <= 320 })
	if small2 > small*2 {
		t.Errorf("small tile again got width %d", small2)
	}
}

// videoFrameWidth is the frame width of the video a page decodes (0 before any frame).
func videoFrameWidth(p *e2ePage) (int, error) {
	st, err := p.stats()
	if err != nil {
		return 0, err
	}
	for _, in := range st.Inbound {
		if in.Kind == "video" {
			return in.FrameWidth, nil
		}
	}
	return 0, nil
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
