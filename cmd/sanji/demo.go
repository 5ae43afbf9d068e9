package main

import (
	"fmt"
	"io"

	"sanji/i18n"
	"sanji/scheduler"
)

// demoSeatLabel is each picker seat's label, as the reception page's button reads.
var demoSeatLabel = map[string]i18n.Key{
	"studio": "cmd.demo.seat_studio",
	"hall":   "cmd.demo.seat_hall",
	"unit":   "cmd.demo.seat_unit",
}

// printDemo tells whoever ran `make run` how to run today's demo reception: the page to open and
// the four windows, each with its login and the seat to click. It is printed at every --demo
// start; the passwords only when this start created them (logins), as they are stored hashed.
func printDemo(w io.Writer, baseURL, dataDir string, logins []scheduler.Login) {
	pw := map[string]string{}
	for _, l := range logins {
		pw[l.Username] = l.Password
	}
	fmt.Fprintf(w, "\n%s: %s/reception.html\n", msg("cmd.demo.heading"), baseURL)
	fmt.Fprintln(w, "  "+msg("cmd.demo.how"))
	known := false
	for _, s := range scheduler.DemoSeats {
		p, ok := pw[s.Username]
		if ok {
			known = true
		} else {
			p = "********"
		}
		var args []any
		if s.Place != "" {
			args = []any{"name", s.Place}
		}
		fmt.Fprintf(w, "  %-16s %-16s %s\n", s.Username, p, msg(demoSeatLabel[s.Seat], args...))
	}
	if known {
		fmt.Fprintln(w, "  "+msg("cmd.demo.passwords_once"))
	} else {
		fmt.Fprintln(w, "  "+msg("cmd.demo.passwords_earlier"))
	}
	fmt.Fprintln(w, "  "+msg("cmd.demo.again", "dir", dataDir))
}
