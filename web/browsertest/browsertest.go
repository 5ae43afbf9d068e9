// Package browsertest starts headless Chromium for the tests that drive our pages: it finds the
// browser, decides whether its absence skips or fails the test, and launches it with the flags a
// WebRTC test on loopback needs. Only tests import it.
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"testing"

	"github.com/chromedp/chromedp"
)

// Path finds Chromium. Without one the test is skipped, unless SANJI_E2E=1 (set by CI) makes
// its absence a failure.
func Path(t testing.TB) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/chromium", "chromium", "chromium-browser"} {
		if full, err := exec.LookPath(p); err == nil {
			return full
		}
	}
	const why = "Chromium not found (/usr/bin/chromium or chromium on PATH)"
	if os.Getenv("SANJI_E2E") == "1" {
		t.Fatal(why + "; SANJI_E2E=1 requires the browser tests")
	}
	t.Skip(why + "; install it to run the browser tests, or set SANJI_E2E=1 to make its absence a failure")
	return ""
}

// Options are the exec-allocator options for one headless Chromium with fake camera and
// microphone, loopback ICE candidates, and nothing that reaches the network on its own.
func Options(execPath, userDataDir string) []chromedp.ExecAllocatorOption {
	return append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(execPath),
		chromedp.UserDataDir(userDataDir),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		// One flag holds every disabled feature: chromedp's defaults name two already.
		chromedp.Flag("disable-features", "Translate,BlinkGenPropertyTrees,WebRtcHideLocalIpsWithMdns"),
		chromedp.Flag("allow-loopback-in-peer-connection", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.WindowSize(1280, 800),
	)
}

// Start launches Chromium and returns a browser context; stop ends the browser process.
func Start(execPath, userDataDir string) (ctx context.Context, stop func()) {
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), Options(execPath, userDataDir)...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	return ctx, func() {
		cancel()
		cancelAlloc()
	}
}
