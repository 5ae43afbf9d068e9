package sitelink

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
)

// Loopback is 127.0.0.k, a site's address: Linux answers on every address of 127.0.0.0/8
// without configuration.
func Loopback(k byte) netip.Addr { return netip.AddrFrom4([4]byte{127, 0, 0, k}) }

// FreePort finds a port that is free for both UDP and TCP on every one of addrs (a node's
// address and its site's), so the node can listen on one and its Link on the others. Another
// process may still take it between the check and the use; on loopback in a test that is rare.
func FreePort(addrs ...netip.Addr) (uint16, error) {
	if len(addrs) == 0 {
		return 0, errors.New("sitelink: FreePort needs an address")
	}
	var last error
	for range 50 {
		c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(addrs[0], 0)))
		if err != nil {
			return 0, fmt.Errorf("sitelink: find a port on %s: %w", addrs[0], err)
		}
		port := uint16(c.LocalAddr().(*net.UDPAddr).Port)
		last = portFree(port, addrs, c)
		if last == nil {
			return port, nil
		}
	}
	return 0, fmt.Errorf("sitelink: no port free on all of %v: %w", addrs, last)
}

// portFree tries to hold port on every address, UDP and TCP, then lets them all go (held too,
// the socket that picked the port).
func portFree(port uint16, addrs []netip.Addr, held net.PacketConn) error {
	closers := []interface{ Close() error }{held}
	defer func() {
		for _, c := range closers {
			_ = c.Close()
		}
	}()
	for i, a := range addrs {
		ap := netip.AddrPortFrom(a, port)
		if i > 0 {
			u, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(ap))
			if err != nil {
				return err
			}
			closers = append(closers, u)
		}
		t, err := net.ListenTCP("tcp", net.TCPAddrFromAddrPort(ap))
		if err != nil {
			return err
		}
		closers = append(closers, t)
	}
	return nil
}
