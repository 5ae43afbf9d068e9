package recording_test

import (
	"math/rand/v2"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/pion/logging"
	"github.com/pion/transport/v5/vnet"

	"sanji/client/testpeer"
	"sanji/recording"
	"sanji/recording/recordingtest"
	"sanji/sfu"
)

// TestLossyUplinkLeavesNoReorderingInTheFile: on pion's virtual network 5 % of the publisher's RTP
// to the SFU is lost. The SFU's NACKs get video packets sent again, so they arrive late and out of
// order; audio is not NACKed, so its losses stay. The files hold every frame in order, each at
// its own time: what was lost is a gap, never closed up.
func TestLossyUplinkLeavesNoReorderingInTheFile(t *testing.T) {
	const sfuIP, pubIP = "10.78.0.1", "10.78.0.2"
	router, err := vnet.NewRouter(&vnet.RouterConfig{CIDR: "10.78.0.0/24", LoggerFactory: logging.NewDefaultLoggerFactory()})
	if err != nil {
		t.Fatal(err)
	}
	nets := map[string]*vnet.Net{}
	for _, ip := range []string{sfuIP, pubIP} {
		n, err := vnet.NewNet(&vnet.NetConfig{StaticIPs: []string{ip}})
		if err != nil {
			t.Fatal(err)
		}
		if err := router.AddNet(n); err != nil {
			t.Fatal(err)
		}
		nets[ip] = n
	}
	rng := rand.New(rand.NewPCG(9, 9))
	var mu sync.Mutex
	dropped := 0
	router.AddChunkFilter(func(c vnet.Chunk) bool {
		src, ok := c.SourceAddr().(*net.UDPAddr)
		b := c.UserData()
		// RTP from the publisher: version 2 and not an RTCP packet type (192–223).
		if !ok || src.IP.String() != pubIP || len(b) < 2 || b[0]>>6 != 2 || (b[1] >= 192 && b[1] <= 223) {
			return true
		}
		mu.Lock()
		defer mu.Unlock()
		if rng.IntN(100) < 5 {
			dropped++
			return false
		}
		return true
	})
	if err := router.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = router.Stop() })
	s, err := sfu.New(sfu.Config{ListenIP: sfuIP, Net: nets[sfuIP], PLIThrottle: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	pub := testpeer.PublishOn(t, s, "lossy", "p", nets[pubIP])
	room := s.Room("lossy")
	video, audio := pub.Tracks(t, room)

	rec := newRecorder(t, recording.Config{})
	h := startHearing(t, rec, recording.HearingInfo{CaseID: 1})
	record(t, h, room, video, audio)
	time.Sleep(4 * time.Second)
	seal, err := h.Close()
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	t.Logf("%d RTP packets dropped on the uplink", dropped)
	mu.Unlock()
	m := readManifest(t, seal.Dir)
	for _, tr := range m.Tracks {
		f := recordingtest.ReadFile(t, filepath.Join(seal.Dir, tr.File))
		recordingtest.CheckMonotonic(t, f.Blocks)
		first := recordingtest.Number(f.Blocks[0].Data)
		for i, b := range f.Blocks {
			n := recordingtest.Number(b.Data)
			if i > 0 && n <= recordingtest.Number(f.Blocks[i-1].Data) {
				t.Fatalf("%s: frame %d written after frame %d", tr.File, n, recordingtest.Number(f.Blocks[i-1].Data))
			}
			if want := int64(n-first) * testpeer.FrameInterval.Milliseconds(); b.MS != want {
				t.Fatalf("%s: frame %d at %d ms, want %d: a gap was closed up", tr.File, n, b.MS, want)
			}
		}
		missing := recordingtest.Number(f.Blocks[len(f.Blocks)-1].Data) - first + 1 - len(f.Blocks)
		t.Logf("%s: %d frames, %d missing, stats %+v", tr.File, len(f.Blocks), missing, tr.Stats)
		switch tr.Kind {
		case "video":
			if tr.Stats.Reordered == 0 {
				t.Fatalf("%s: no packet came out of order: the loss was not repaired, the test proves nothing", tr.File)
			}
		case "audio":
			if missing == 0 || tr.Stats.LostPackets == 0 {
				t.Fatalf("%s: nothing missing with 5 %% loss and no repair", tr.File)
			}
		}
	}
	if rep, err := recording.Verify(seal.Dir, seal.Head); err != nil || !rep.OK {
		t.Fatalf("verify: %+v %v", rep, err)
	}
}
