package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"
)

// serveUntilDemo runs `sanji serve --dev --demo` on dir until it has printed the demo reception's
// windows, then stops it and returns what it printed. Before it stops, check (when not nil) runs
// against the live server with its URL and the output so far.
func serveUntilDemo(t *testing.T, dir string, check func(url, out string)) string {
	t.Helper()
	pr, pw := io.Pipe()
	var stderr bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	defer pr.Close()
	code := make(chan int, 1)
	go func() {
		defer pw.Close()
		code <- serve(ctx, []string{"--listen", "127.0.0.1:0", "--dev", "--demo", "--data-dir", dir,
			"--rtc-udp-port", "0", "--rtc-tcp-port", "-1"}, pw, &stderr, envMap(nil), nil)
	}()
	var lines []string
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if !strings.Contains(sc.Text(), "docs/operations.md") { // the demo's last line
			continue
		}
		if check != nil {
			out := strings.Join(lines, "\n")
			check(regexp.MustCompile(`http://[0-9.:]+`).FindString(out), out)
		}
		cancel()
	}
	select {
	case c := <-code:
		if c != 0 {
			t.Errorf("serve exit code %d; stderr:\n%s", c, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not return")
	}
	return strings.Join(lines, "\n")
}

// TestServeDemoPrintsSeats: `make run` (serve --dev --demo) prints the demo reception's page and
// its four windows — each login with the seat to click — with the passwords on the first start
// (a seat's password logs in), without them later, and says each time how to get them again.
func TestServeDemoPrintsSeats(t *testing.T) {
	dir := t.TempDir()
	seat := regexp.MustCompile(`(?m)^  (demo-\S+)\s+(\S+)\s+(.+)$`)
	seats := func(out string) map[string][2]string {
		t.Helper()
		i := strings.Index(out, "Today's demo reception")
		if i < 0 {
			t.Fatalf("no demo reception in:\n%s", out)
		}
		got := map[string][2]string{}
		for _, m := range seat.FindAllStringSubmatch(out[i:], -1) {
			got[m[1]] = [2]string{m[2], m[3]}
		}
		return got
	}
	wantSeats := map[string]string{
		"demo-leader":    "主会场（领导及工作人员） / Studio (leader and staff)",
		"demo-operator":  "接访大厅：清波街道接访室 / Hall: 清波街道接访室",
		"demo-operator2": "接访大厅：湖滨街道接访室 / Hall: 湖滨街道接访室",
		"demo-handler":   "责任单位：上城区人力资源和社会保障局 / Unit: 上城区人力资源和社会保障局",
	}
	first := serveUntilDemo(t, dir, func(url, out string) {
		if !strings.Contains(out, "Today's demo reception (four windows): "+url+"/reception.html") {
			t.Errorf("no link to the reception page:\n%s", out)
		}
		pw := seats(out)["demo-handler"][0]
		c := testHTTPClient(t)
		body, _ := json.Marshal(map[string]string{"username": "demo-handler", "password": pw})
		resp, err := c.Post(url+"/api/v1/session", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("the printed password of demo-handler does not log in: %d", resp.StatusCode)
		}
	})
	got := seats(first)
	for user, label := range wantSeats {
		if got[user][1] != label || len(got[user][0]) < 12 {
			t.Errorf("first start, %s: %q, want a password and %q", user, got[user], label)
		}
	}
	if len(got) != 4 || !strings.Contains(first, "shown this once") || !strings.Contains(first, "reset-password USERNAME") {
		t.Errorf("first start:\n%s", first)
	}

	again := serveUntilDemo(t, dir, nil)
	got = seats(again)
	for user, label := range wantSeats {
		if got[user] != [2]string{"********", label} {
			t.Errorf("second start, %s: %q", user, got[user])
		}
	}
	if !strings.Contains(again, "shown at the first start") || !strings.Contains(again, "reset-password USERNAME") || !strings.Contains(again, dir) {
		t.Errorf("second start:\n%s", again)
	}
}
