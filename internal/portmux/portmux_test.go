package portmux

import (
	"net"
	"testing"

	"sanji/internal/certs/certstest"
)

func TestClassify(t *testing.T) {
	for name, c := range map[string]struct {
		head []byte
		want Kind
	}{
		"tls client hello":          {[]byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03}, HTTPS},
		"ice-tcp binding (rfc4571)": {[]byte{0x00, 0x50, 0x00, 0x01, 0x00, 0x3c, 0x21, 0x12, 0xa4, 0x42}, ICETCP},
		"turn allocate over tcp":    {[]byte{0x00, 0x03, 0x00, 0x24, 0x21, 0x12, 0xa4, 0x42, 0x01, 0x02}, TURNTCP},
		"plain http":                {[]byte("GET / HTTP"), Unknown},
		"short":                     {[]byte{0x16, 0x03}, Unknown},
	} {
		if got := Classify(c.head); got != c.want {
			t.Errorf("%s: %v, want %v", name, got, c.want)
		}
	}
}

// TestPlainHTTPClosed: a request in clear on the TLS port gets no answer, the connection closes.
func TestPlainHTTPClosed(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m := New(Config{Listener: ln, TLS: certstest.New(t, 1).ServerConfig("http/1.1")})
	defer m.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	// Closed with unread bytes, the socket may end in a reset rather than EOF; either way, no answer.
	if n, err := c.Read(make([]byte, 10)); n != 0 || err == nil {
		t.Fatalf("read %d bytes, %v; want the connection closed", n, err)
	}
}
