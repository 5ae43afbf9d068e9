package main

import (
	"context"
	"net/http"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap/zaptest"
)

// TestMain fails the package's test run if any goroutine outlives the tests: every app a test
// starts must be shut down completely. The e2e tests in this package rely on it too. Started as
// a hall process (hallproc_test.go), the binary is that participant and runs no test.
func TestMain(m *testing.M) {
	if spec := os.Getenv(hallEnv); spec != "" {
		os.Exit(runHall(spec))
	}
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) { removeSharedBinary(); os.Exit(code) }))
}

// testConfig is a config for an app inside a test: everything on loopback, every port picked by
// the kernel, state in a fresh temporary directory, dev mode on (tokens from /dev/token).
func testConfig(t testing.TB) config {
	t.Helper()
	cfg := defaultConfig()
	cfg.Listen = "127.0.0.1:0"
	cfg.Dev = true
	cfg.DataDir = t.TempDir()
	cfg.LogLevel = "debug"
	cfg.RTC.ListenIP = "127.0.0.1"
	cfg.RTC.UDPPort = 0
	cfg.RTC.TCPPort = 0
	cfg.RTC.LoopbackOnly = true
	// The tests of other subjects log in with a password alone; the TOTP tests set roles.
	cfg.Auth.TOTPRoles = []string{totpNone}
	return cfg
}

// startTestApp builds and starts an app for cfg, logging to the test, and shuts it down when
// the test ends (a no-op if the test already did).
func startTestApp(t testing.TB, cfg config) *app {
	t.Helper()
	a, err := newApp(cfg, zaptest.NewLogger(t))
	if err != nil {
		t.Fatalf("newApp: %v", err)
	}
	if err := a.Start(); err != nil {
		_ = a.Shutdown(context.Background())
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if err := a.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return a
}

// testHTTPClient is a client whose idle connections the test closes on cleanup, so they do not
// show up as leaked goroutines.
func testHTTPClient(t testing.TB) *http.Client {
	t.Helper()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}
