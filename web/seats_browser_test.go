package web

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"sanji/scheduler"
	"sanji/scheduler/org"
)

// TestReceptionSeatsOffered: against the real API, the picker offers a user exactly the seats
// whose join token the server grants (asked of the server seat by seat, in the page), and a seat
// refused through a crafted link says why, in the page's language, with no call controls on
// screen.
func TestReceptionSeatsOffered(t *testing.T) {
	a := startReceptionApp(t)
	ctx := context.Background()
	x, ok, err := scheduler.SeedDemoReception(ctx, a.st, time.Now())
	if err != nil || !ok {
		t.Fatalf("demo reception: %v %v", ok, err)
	}
	qingbo, hubin := a.hall("清波街道接访室"), a.hall("湖滨街道接访室")
	rsj := a.unit("330102-RSJ")
	a.person("qb-operator", "清波接访员", org.RoleHallOperator, "330102001")
	a.person("city-intake", "市登记员", org.RoleIntakeOfficer, "330100")

	// Every seat of the call, as the picker would link it.
	every := []string{"seat=studio", fmt.Sprintf("seat=hall&hall=%d", qingbo.ID), fmt.Sprintf("seat=hall&hall=%d", hubin.ID),
		fmt.Sprintf("seat=unit&unit=%d", rsj.ID), "seat=observer"}
	// granted asks the server for a join token at each seat, from the page: the seats it grants.
	granted := func(p *tab) []string {
		t.Helper()
		js := fmt.Sprintf(`(async () => {
			const me = await (await fetch('/api/v1/me')).json();
			const out = [];
			for (const s of %s) {
				const q = new URLSearchParams(s);
				const body = { seat: q.get('seat') };
				if (q.get('hall')) body.hall_id = Number(q.get('hall'));
				if (q.get('unit')) body.unit_id = Number(q.get('unit'));
				const r = await fetch('/api/v1/sessions/%d/join-token', { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': me.csrf_token }, body: JSON.stringify(body) });
				if (r.ok) out.push(s);
			}
			return out.join(',');
		})()`, "["+quoteAll(every)+"]", x.ID)
		return strings.Split(eval[string](t, p.ctx, js), ",")
	}
	// offered reads the picker's links of the demo session.
	offered := func(p *tab) []string {
		t.Helper()
		p.do("open the picker", chromedp.Navigate(a.url+"/reception.html"))
		p.wait("the picker", `document.body.dataset.ready === "true"`)
		got := p.text(fmt.Sprintf(`[...document.querySelectorAll('#pick-list li[data-session="%d"] a')].map((a) => {
			const q = new URLSearchParams(a.search); q.delete('session'); return q.toString(); }).join(',')`, x.ID))
		return strings.Split(got, ",")
	}
	for user, want := range map[string][]string{
		"qb-operator": {fmt.Sprintf("seat=hall&hall=%d", qingbo.ID)},
		"city-intake": {"seat=studio", fmt.Sprintf("seat=hall&hall=%d", qingbo.ID), fmt.Sprintf("seat=hall&hall=%d", hubin.ID),
			fmt.Sprintf("seat=unit&unit=%d", rsj.ID), "seat=observer"},
	} {
		p := a.login(t, user)
		got, server := offered(p), granted(p)
		slices.Sort(got)
		slices.Sort(server)
		slices.Sort(want)
		if !slices.Equal(got, server) {
			t.Errorf("%s: the picker offers %v, the server grants %v", user, got, server)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: offered %v, want %v", user, got, want)
		}
	}

	// A crafted link to another township's hall: refused with its reason, no toolbar, no call.
	p := a.login(t, "qb-operator")
	p.do("open a crafted link", chromedp.Navigate(fmt.Sprintf("%s/reception.html?session=%d&seat=hall&hall=%d", a.url, x.ID, hubin.ID)))
	p.wait("the refusal", `!document.getElementById("out").hidden`)
	if got := p.text(`document.getElementById("out-text").textContent`); !strings.Contains(got, "不能进入湖滨街道接访室的席位") || strings.Contains(got, "未知错误") {
		t.Errorf("refusal reads %q", got)
	}
	for _, id := range []string{"toolbar", "call", "banner"} {
		if !eval[bool](t, p.ctx, `document.getElementById("`+id+`").hidden`) {
			t.Errorf("#%s is on screen under the refusal", id)
		}
	}
	if got := p.text(`document.getElementById("out-pick").getAttribute("href")`); got != "reception.html" {
		t.Errorf("the way back is %q", got)
	}
	// In English, the page asks in English and the reason comes back in English.
	p.do("switch to English", chromedp.Click(chromedp.CSS(`#lang button[data-lang="en"]`)))
	p.do("reload", chromedp.Reload())
	p.wait("the refusal again", `document.body.dataset.ready === "true" && !document.getElementById("out").hidden`)
	if got := p.text(`document.getElementById("out-text").textContent`); !strings.Contains(got, "you do not belong to") || !strings.Contains(got, "湖滨街道接访室") {
		t.Errorf("English refusal reads %q", got)
	}
}

func quoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ",")
}
