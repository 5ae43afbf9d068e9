//go:build linux

package sfu

import (
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"net"
	"testing"

	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
)

// The limit micro-benchmarks: what the kernel and the cipher cost per 1,200-byte packet on this
// machine, the floor any send path of ours can reach (docs/benchmarks.md sets BenchmarkForward
// beside them). Each op is one packet. The receiver is a loopback socket nobody reads: on
// loopback the sender's system call also runs the receiver's side of the stack, and once its
// queue is full the kernel drops there, after the whole path has been paid.

const (
	limitPacketSize = 1200
	limitBatch      = 32
	// limitFrame is the packets of one frame of a 1.5 Mbit/s, 30 fps video (6,250 bytes).
	limitFrame = 6
)

// limitSockets returns a sender and the loopback receiver's address; both close with the test.
func limitSockets(b *testing.B, connected bool) (*net.UDPConn, *net.UDPAddr) {
	b.Helper()
	rx, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = rx.Close() })
	to := rx.LocalAddr().(*net.UDPAddr)
	var tx *net.UDPConn
	if connected {
		tx, err = net.DialUDP("udp4", nil, to)
	} else {
		tx, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	}
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = tx.Close() })
	return tx, to
}

// BenchmarkLimitSendto is one sendto per packet, on a connected and an unconnected socket.
func BenchmarkLimitSendto(b *testing.B) {
	pkt := make([]byte, limitPacketSize)
	b.Run("connected", func(b *testing.B) {
		tx, _ := limitSockets(b, true)
		b.SetBytes(limitPacketSize)
		b.ReportAllocs()
		for range b.N {
			if _, err := tx.Write(pkt); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("unconnected", func(b *testing.B) {
		tx, to := limitSockets(b, false)
		ap := to.AddrPort()
		b.SetBytes(limitPacketSize)
		b.ReportAllocs()
		for range b.N {
			if _, err := tx.WriteToUDPAddrPort(pkt, ap); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkLimitSendmmsg is sendmmsg with 32 packets per call (to one receiver: the per-message
// cost, which is what batching across subscribers would pay too).
func BenchmarkLimitSendmmsg(b *testing.B) {
	tx, to := limitSockets(b, false)
	pc := ipv4.NewPacketConn(tx)
	msgs := make([]ipv4.Message, limitBatch)
	for i := range msgs {
		msgs[i] = ipv4.Message{Buffers: [][]byte{make([]byte, limitPacketSize)}, Addr: to}
	}
	b.SetBytes(limitPacketSize)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += limitBatch {
		batch := msgs[:min(limitBatch, b.N-i)]
		for len(batch) > 0 {
			n, err := pc.WriteBatch(batch, 0)
			if err != nil {
				b.Fatal(err)
			}
			batch = batch[n:]
		}
	}
}

// BenchmarkLimitGSO sends each frame's packets in one system call with UDP_SEGMENT (UDP GSO):
// the kernel cuts the buffer into 1,200-byte datagrams.
func BenchmarkLimitGSO(b *testing.B) {
	tx, _ := limitSockets(b, true)
	raw, err := tx.SyscallConn()
	if err != nil {
		b.Fatal(err)
	}
	var serr error
	if err := raw.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_UDP, unix.UDP_SEGMENT, limitPacketSize)
	}); err != nil {
		b.Fatal(err)
	}
	if serr != nil {
		b.Skipf("the kernel refuses UDP_SEGMENT: %v", serr)
	}
	frame := make([]byte, limitFrame*limitPacketSize)
	b.SetBytes(limitPacketSize)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += limitFrame {
		n := min(limitFrame, b.N-i)
		if _, err := tx.Write(frame[:n*limitPacketSize]); err != nil {
			if errors.Is(err, unix.EIO) || errors.Is(err, unix.EINVAL) {
				b.Skipf("the kernel refuses a GSO send: %v", err)
			}
			b.Fatal(err)
		}
	}
}

// BenchmarkLimitAESGCM is the SRTP cipher's work on one packet: AES-128-GCM over 1,200 bytes.
func BenchmarkLimitAESGCM(b *testing.B) {
	block, err := aes.NewCipher(make([]byte, 16))
	if err != nil {
		b.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		b.Fatal(err)
	}
	nonce := make([]byte, aead.NonceSize())
	hdr, pkt := make([]byte, 12), make([]byte, limitPacketSize-12)
	out := make([]byte, 0, limitPacketSize+aead.Overhead())
	b.SetBytes(limitPacketSize)
	b.ReportAllocs()
	for i := range b.N {
		nonce[11] = byte(i)
		out = aead.Seal(out[:0], nonce, pkt, hdr)
	}
}
