package storetest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"sanji/scheduler"
	"sanji/scheduler/org"
)

// DurabilityChild is the writer half of Durability, run in a child process (the test binary
// re-executed): it appends audit entries forever and prints "ack <id>" after each AppendAudit
// returned. A printed id is an acknowledged write. It returns only on error.
func DurabilityChild(open func() (scheduler.Store, error)) int {
	s, err := open()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	w := bufio.NewWriter(os.Stdout)
	for i := 0; ; i++ {
		e := org.AuditEntry{Action: "durability.write", Target: fmt.Sprint(i)}
		if err := s.AppendAudit(context.Background(), &e); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Fprintf(w, "ack %d\n", e.ID)
		w.Flush()
	}
}

// Durability starts this test binary again with env (which makes its TestMain call
// DurabilityChild), reads acknowledgements until at least 200 arrived, kills the child with
// SIGKILL in the middle of its stream, reopens the store with open and checks that every
// acknowledged write is there.
func Durability(t *testing.T, env []string, open func() (scheduler.Store, error)) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := map[int64]bool{}
	sc := bufio.NewScanner(out)
	read := func() bool {
		if !sc.Scan() {
			return false
		}
		var id int64
		if _, err := fmt.Sscanf(sc.Text(), "ack %d", &id); err == nil {
			acked[id] = true
		}
		return true
	}
	deadline := time.Now().Add(60 * time.Second)
	for len(acked) < 200 && time.Now().Before(deadline) && read() {
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	for read() { // acknowledgements written between our last read and the kill count too
	}
	var ee *exec.ExitError
	if werr := cmd.Wait(); !errors.As(werr, &ee) {
		t.Fatalf("child ended with %v, want killed; stderr: %s", werr, stderr.String())
	}
	if len(acked) < 200 {
		t.Fatalf("child acknowledged only %d writes before the deadline; stderr: %s", len(acked), stderr.String())
	}
	s, err := open()
	if err != nil {
		t.Fatalf("reopen after kill: %v", err)
	}
	defer s.Close()
	found := map[int64]bool{}
	var before int64
	for {
		page, err := s.SearchAudit(context.Background(), org.AuditQuery{Action: "durability.write", BeforeID: before})
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, e := range page {
			found[e.ID] = true
		}
		before = page[len(page)-1].ID
	}
	for id := range acked {
		if !found[id] {
			t.Errorf("acknowledged write %d is missing after the kill", id)
		}
	}
	t.Logf("%d acknowledged, %d stored", len(acked), len(found))
}
