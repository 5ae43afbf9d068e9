package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sanji/client/testpeer"
	"sanji/recording"
)

// TestVerifyCommand: `sanji verify` passes on a fresh hearing recorded from a real publisher,
// and names the file after one byte of it is changed.
func TestVerifyCommand(t *testing.T) {
	s := testpeer.NewSFU(t)
	pub := testpeer.Publish(t, s, "call", "p")
	room := s.Room("call")
	video, audio := pub.Tracks(t, room)
	rec, err := recording.New(recording.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	h, err := rec.StartHearing(recording.HearingInfo{SessionID: 1, CaseID: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Record(room, video); err != nil {
		t.Fatal(err)
	}
	if err := h.Record(room, audio); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	seal, err := h.Close()
	if err != nil {
		t.Fatal(err)
	}
	verify := func(args ...string) (int, string) {
		var out, errOut bytes.Buffer
		code := run(context.Background(), append([]string{"verify"}, args...), &out, &errOut, func(string) string { return "" })
		return code, out.String() + errOut.String()
	}
	if code, out := verify(seal.Dir); code != exitOK || !strings.Contains(out, seal.Head) {
		t.Fatalf("fresh hearing: exit %d\n%s", code, out)
	}
	if code, out := verify("--head", seal.Head, seal.Dir); code != exitOK {
		t.Fatalf("fresh hearing against its head: exit %d\n%s", code, out)
	}
	file := filepath.Join(seal.Dir, "002-audio.webm")
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-10] ^= 0xff
	if err := os.WriteFile(file, b, 0o640); err != nil {
		t.Fatal(err)
	}
	if code, out := verify(seal.Dir); code != exitMismatch || !strings.Contains(out, "002-audio.webm") {
		t.Fatalf("after changing a byte of 002-audio.webm: exit %d\n%s", code, out)
	}
	if code, _ := verify(); code != exitUsage {
		t.Fatalf("no directory: exit %d", code)
	}
	if code, out := verify(filepath.Join(seal.Dir, "nope")); code != exitError || !strings.Contains(out, "cannot verify") {
		t.Fatalf("no hearing there: exit %d\n%s", code, out)
	}
}
