package auth

import (
	"errors"
	"strings"
	"testing"
)

var cheap = Argon2Params{Memory: 1024, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 16}

func TestPasswordHashAndCheck(t *testing.T) {
	h, err := HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=65536,t=3,p=2$") {
		t.Errorf("hash %q is not a PHC argon2id string with the default parameters", h)
	}
	if err := CheckPassword(h, "correct horse battery"); err != nil {
		t.Errorf("right password: %v", err)
	}
	if err := CheckPassword(h, "correct horse batterz"); !errors.Is(err, ErrPasswordMismatch) {
		t.Errorf("wrong password: %v", err)
	}
	h2, _ := HashPasswordWith("correct horse battery", cheap)
	if h2 == h {
		t.Error("two hashes of one password are equal: salt missing")
	}
	if err := CheckPassword(h2, "correct horse battery"); err != nil {
		t.Errorf("hash with other parameters: %v", err)
	}
}

func TestCheckPasswordMalformed(t *testing.T) {
	good, _ := HashPasswordWith("pw-pw-pw-pw", cheap)
	parts := strings.Split(good, "$")
	for _, h := range []string{
		"", "plain", "$argon2i$v=19$m=1024,t=1,p=1$" + parts[4] + "$" + parts[5],
		"$argon2id$v=18$m=1024,t=1,p=1$" + parts[4] + "$" + parts[5],
		"$argon2id$v=19$m=99999999,t=1,p=1$" + parts[4] + "$" + parts[5],
		"$argon2id$v=19$m=1024,t=1,p=1$!!$" + parts[5],
	} {
		if err := CheckPassword(h, "pw-pw-pw-pw"); err == nil || errors.Is(err, ErrPasswordMismatch) {
			t.Errorf("hash %q: %v, want a malformed-hash error", h, err)
		}
	}
}

func TestValidatePassword(t *testing.T) {
	if ValidatePassword("short") == nil {
		t.Error("short password accepted")
	}
	if ValidatePassword(strings.Repeat("x", MaxPasswordLen+1)) == nil {
		t.Error("long password accepted")
	}
	if err := ValidatePassword("十个汉字的密码也可以用"); err != nil {
		t.Errorf("ten-character Chinese password: %v", err)
	}
}

func TestRandomValues(t *testing.T) {
	a, _ := RandomToken(32)
	b, _ := RandomToken(32)
	if a == b || len(a) != 43 {
		t.Errorf("tokens %q %q", a, b)
	}
	p, _ := RandomPassword(16)
	if len(p) != 16 || strings.ContainsAny(p, "0O1lI") {
		t.Errorf("password %q", p)
	}
	d, _ := RandomDigits(8)
	if len(d) != 8 || strings.Trim(d, "0123456789") != "" {
		t.Errorf("digits %q", d)
	}
	if HashToken("x") == HashToken("y") || len(HashToken("x")) != 64 {
		t.Error("HashToken")
	}
}
