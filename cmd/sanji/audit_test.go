package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"sanji/scheduler/org"
	"sanji/scheduler/sqlite"
)

// TestVerifyAuditCommand: `sanji verify --audit` passes on a whole audit log and against a head
// noted from it, names the changed entry after a database administrator edits one, and refuses a
// head that is not one.
func TestVerifyAuditCommand(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, storeFile))
	if err != nil {
		t.Fatal(err)
	}
	var es []org.AuditEntry
	for _, action := range []string{"user.create", "grant.add", "user.disable"} {
		e := org.AuditEntry{Action: action, Actor: "admin", ActorID: 1, Target: "user:7"}
		if err := st.AppendAudit(ctx, &e); err != nil {
			t.Fatal(err)
		}
		es = append(es, e)
	}
	verify := func(args ...string) (int, string) {
		var out, errOut bytes.Buffer
		code := run(ctx, append([]string{"verify", "--audit", "--data-dir", dir}, args...), &out, &errOut, func(string) string { return "" })
		return code, out.String() + errOut.String()
	}
	if code, out := verify(); code != exitOK || !strings.Contains(out, es[2].Hash) {
		t.Fatalf("whole log: exit %d, want 0 and the head %s\n%s", code, es[2].Hash, out)
	}
	if code, out := verify("--head", es[1].Hash); code != exitOK {
		t.Fatalf("against a noted head: exit %d\n%s", code, out)
	}
	if code, out := verify("--head", "not-a-head"); code != exitUsage || !strings.Contains(out, "64") {
		t.Fatalf("bad head: exit %d, want %d\n%s", code, exitUsage, out)
	}
	for _, q := range []string{`DROP TRIGGER audit_no_update`, `UPDATE audit_log SET target = 'user:8' WHERE id = 2`} {
		if _, err := st.DB().Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	code, out := verify()
	if code != exitMismatch || !strings.Contains(out, "entry 2 does not match its hash") || !strings.Contains(out, "第 2 条") {
		t.Fatalf("changed entry: exit %d, want %d naming entry 2\n%s", code, exitMismatch, out)
	}
	var o, e bytes.Buffer
	if code := run(ctx, []string{"verify", "--audit", "--data-dir", filepath.Join(dir, "nope")}, &o, &e, func(string) string { return "" }); code != exitUsage {
		t.Fatalf("missing store: exit %d, want %d (an empty store would verify)\n%s%s", code, exitUsage, o.String(), e.String())
	}
}

// TestServeSealsAuditAndNotesHead: the server seals the audit log with the configured algorithm
// (SM3 here) and logs the chain's head when it starts (and daily), for an auditor to keep.
func TestServeSealsAuditAndNotesHead(t *testing.T) {
	cfg := testConfig(t)
	cfg.Recording.Hash = "sm3"
	core, logs := observer.New(zap.InfoLevel)
	a, err := newApp(cfg, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if err := a.Shutdown(ctx); err != nil {
			t.Error(err)
		}
	}()
	deadline := time.Now().Add(20 * time.Second)
	for logs.FilterMessage("audit chain head").Len() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no audit chain head in the log")
		}
		time.Sleep(20 * time.Millisecond) // polling for the line, not waiting a fixed time
	}
	line := logs.FilterMessage("audit chain head").All()[0].ContextMap()
	h, err := a.store.AuditHead(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if line["algorithm"] != org.AuditHashSM3 || h.Algorithm != org.AuditHashSM3 || line["head"] != h.Hash || h.Records == 0 {
		t.Fatalf("logged %v, store head %+v: want the SM3 head of the bootstrap's entries", line, h)
	}
	c, err := a.store.VerifyAudit(context.Background(), h.Hash)
	if err != nil || !c.OK {
		t.Fatalf("VerifyAudit = %+v, %v", c, err)
	}
}
