package web

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"sanji/auth"
	"sanji/scheduler"
	"sanji/scheduler/api"
	"sanji/scheduler/calendar"
	"sanji/scheduler/casework"
	"sanji/scheduler/org"
	"sanji/scheduler/reception"
	"sanji/scheduler/sqlite"
	"sanji/scheduler/storetest"
)

// receptionApp is the real API on SQLite with the demo tree, serving these pages.
type receptionApp struct {
	t          *testing.T
	st         scheduler.Store
	url        string
	recordings string // the hearings' recordings directory
}

func receptionHash(pw string) (string, error) { return "test:" + pw, nil }

func receptionCheck(hash, pw string) error {
	if hash != "test:"+pw {
		return auth.ErrPasswordMismatch
	}
	return nil
}

// startReceptionApp serves the pages and the real API on a seeded store; opts change the API's
// configuration (the default asks nobody for a second factor).
func startReceptionApp(t *testing.T, opts ...func(*api.Config)) *receptionApp {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "e2e.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	n := 0
	gen := func() (string, error) { n++; return fmt.Sprintf("pw-%03d", n), nil }
	if _, err := scheduler.Bootstrap(ctx, st, receptionHash, gen); err != nil {
		t.Fatal(err)
	}
	if _, err := scheduler.SeedDemo(ctx, st, receptionHash, gen); err != nil {
		t.Fatal(err)
	}
	recordings := filepath.Join(t.TempDir(), "recordings")
	mux := http.NewServeMux()
	mux.Handle("/", Handler())
	cfg := api.Config{Store: st, Signer: auth.NewSigner([]byte(strings.Repeat("s", 32))),
		Hash: receptionHash, Check: receptionCheck, Recordings: recordings, TwoFactor: api.TwoFactor{Roles: []string{}}}
	for _, o := range opts {
		o(&cfg)
	}
	mux.Handle("/api/", api.New(cfg))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &receptionApp{t: t, st: st, url: srv.URL, recordings: recordings}
}

func (a *receptionApp) unit(code string) org.Unit {
	a.t.Helper()
	u, err := a.st.GetUnitByCode(context.Background(), code)
	if err != nil {
		a.t.Fatal(err)
	}
	return u
}

// hall finds a hall by name.
func (a *receptionApp) hall(name string) org.Hall {
	a.t.Helper()
	hs, err := a.st.ListHalls(context.Background(), "")
	if err != nil {
		a.t.Fatal(err)
	}
	for _, h := range hs {
		if h.Name == name {
			return h
		}
	}
	a.t.Fatalf("no hall %s", name)
	return org.Hall{}
}

// person creates a user with role at the unit of code; the password is the username.
func (a *receptionApp) person(username, name, role, code string) org.User {
	a.t.Helper()
	ctx := context.Background()
	u := org.User{Kind: org.UserPerson, Username: username, DisplayName: name, UnitID: a.unit(code).ID, PasswordHash: "test:" + username}
	if err := a.st.CreateUser(ctx, &u); err != nil {
		a.t.Fatal(err)
	}
	if err := a.st.AddGrant(ctx, &org.Grant{UserID: u.ID, Role: role, UnitID: u.UnitID}); err != nil {
		a.t.Fatal(err)
	}
	return u
}

// tab is one person's browser context.
type tab struct {
	t   *testing.T
	ctx context.Context
	url string
}

func (a *receptionApp) login(t *testing.T, username string) *tab {
	t.Helper()
	p := &tab{t: t, ctx: newBrowser(t), url: a.url}
	console := collectConsole(p.ctx)
	t.Cleanup(func() {
		for _, e := range console.errors() {
			// A 4xx answer the page shows in a banner is logged by the browser as a failed load.
			if !strings.Contains(e, "Failed to load resource") {
				t.Errorf("console (%s): %s", username, e)
			}
		}
	})
	p.do("open the login page", chromedp.Navigate(a.url+"/login.html"))
	p.wait("login form", `document.readyState === 'complete' && !!document.getElementById('username')`)
	p.do("log in", chromedp.SendKeys(chromedp.ID("username"), username), chromedp.SendKeys(chromedp.ID("password"), username),
		chromedp.Click(chromedp.ID("login-submit")))
	p.wait("logged in", `!location.pathname.endsWith('/login.html')`)
	return p
}

func (p *tab) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, actions...); err != nil {
		p.t.Fatalf("%s: %v", what, err)
	}
}

func (p *tab) wait(what, expr string) {
	p.t.Helper()
	waitFor(p.t, p.ctx, what, expr, 20*time.Second)
}

func (p *tab) text(expr string) string {
	p.t.Helper()
	return eval[string](p.t, p.ctx, expr)
}

// js runs a statement in the page (to set a select and fire its change event, say).
func (p *tab) js(stmt string) {
	p.t.Helper()
	eval[bool](p.t, p.ctx, "(() => { "+stmt+"; return true; })()")
}

func (p *tab) open(page, ready string) {
	p.t.Helper()
	p.do("open "+page, chromedp.Navigate(p.url+"/"+page))
	p.wait(page, "window."+ready+" && window."+ready+".ready")
}

// TestE2EReceptionPages drives the reception pages in Chromium against the real API: scheduling
// staff create a weekly reception with two halls and a department on the roster and invite
// them; the calendar shows it; the department declines with a reason, which the staff see; a hall
// operator books a petitioner, the pre-check shows the case pending at the district and the
// guidance is recorded; the queue shows the number and the check's flag.
func TestE2EReceptionPages(t *testing.T) {
	a := startReceptionApp(t)
	ctx := context.Background()
	a.person("city-staff", "市排班员", org.RoleSchedulerStaff, "330100")
	leader := a.person("city-leader", "王五一", org.RoleLeader, "330100")
	a.person("sc-operator", "上城区接访员", org.RoleHallOperator, "330102")
	a.person("rsj-head", "上城区人社局负责人", org.RoleUnitHead, "330102-RSJ")
	studio, h1, h2 := a.hall("市领导视频接访室"), a.hall("上城区接访大厅"), a.hall("拱墅区接访大厅")
	rsj := a.unit("330102-RSJ")

	// The petitioner already has a case open at the district: below the city's reception.
	cats, _ := a.st.ListCategories(ctx)
	_, hash, _ := casework.NewQueryCode()
	idn := storetest.IDNumber("33010219800101123")
	pending := casework.Case{UnitID: a.unit("330102").ID, Territory: "330102", Form: casework.FormVisit, Type: casework.TypeClaim,
		CategoryID: cats[0].ID, Title: "拖欠工资", Content: "某建筑公司拖欠工资三个月", QueryCodeHash: hash,
		Petitioners: []casework.Petitioner{{Name: "赵六", IDNumber: idn, Role: casework.PetitionerSelf}}}
	if err := a.st.CreateCase(ctx, &pending, casework.CaseEvent{Actor: "intake", Reason: "登记"}); err != nil {
		t.Fatal(err)
	}

	// Next week's Wednesday, 09:00 in Beijing: past any lead time.
	now := time.Now().In(calendar.Shanghai)
	day := now.AddDate(0, 0, 7+(int(time.Wednesday)-int(now.Weekday())+7)%7)
	startLocal := day.Format("2006-01-02") + "T09:00"

	staff := a.login(t, "city-staff")
	staff.wait("the calendar after login", `location.pathname.endsWith('/sessions.html') && window.sanjiSessions && window.sanjiSessions.ready`)
	staff.wait("the roster picker", fmt.Sprintf(`!!document.querySelector('#roster input[data-kind="hall"][value="%d"]')`, h2.ID))
	staff.js(fmt.Sprintf(`
		const set = (id, v) => { const e = document.getElementById(id); e.value = v; e.dispatchEvent(new Event('change')); };
		set('s-kind', 'weekly'); set('s-unit', '%d'); set('s-leader', '%d'); set('s-studio', '%d');
		document.getElementById('s-leader-post').value = '副市长';
		document.getElementById('s-portfolio').value = '劳动社保、住房保障';
		document.getElementById('s-start').value = '%s';
		document.getElementById('s-weeks').value = '4';
		for (const [kind, id] of [['hall', %d], ['hall', %d], ['unit', %d]]) {
			document.querySelector('#roster input[data-kind="' + kind + '"][value="' + id + '"]').checked = true;
		}`, a.unit("330100").ID, leader.ID, studio.ID, startLocal, h1.ID, h2.ID, rsj.ID))
	if got := staff.text(`document.getElementById('s-leader-name').value`); got != "王五一" {
		t.Errorf("leader's published name from the picker: %q", got)
	}
	staff.do("create the weekly reception", chromedp.Click(chromedp.CSS(`#sess-form button[type=submit]`)))
	staff.wait("created", `!document.getElementById('sess-ok').hidden`)
	if got := staff.text(`document.getElementById('sess-ok').textContent`); !strings.Contains(got, "已生成") {
		t.Fatalf("schedule banner: %q (error: %q)", got, staff.text(`document.getElementById('sess-error').textContent`))
	}
	dayKey := day.Format("2006-01-02")
	staff.wait("the session in the calendar", `!!document.querySelector('.cal-day[data-date="`+dayKey+`"] .cal-item')`)
	if got := staff.text(`document.querySelector('.cal-day[data-date="` + dayKey + `"] .cal-item').textContent`); !strings.Contains(got, "09:00") || !strings.Contains(got, "副市长王五一视频接访") {
		t.Errorf("calendar item %q", got)
	}
	list, err := a.st.ListReceptionSessions(ctx, reception.SessionQuery{LeaderID: leader.ID})
	if err != nil || len(list) == 0 {
		t.Fatalf("sessions stored: %v %v", list, err)
	}
	sess := list[0]
	if len(sess.HallIDs) != 2 || sess.StudioID != studio.ID || sess.Start.In(calendar.Shanghai).Format("2006-01-02T15:04") != startLocal {
		t.Errorf("stored session %+v", sess)
	}
	// The month view shows it too.
	staff.do("month view", chromedp.Click(chromedp.ID("view-month")))
	staff.wait("month grid", `document.querySelectorAll('.cal-day').length === 42 && !!document.querySelector('.cal-day[data-date="`+dayKey+`"] .cal-item')`)

	// A clash is refused inline, naming the session, with the leader field focused.
	staff.js(fmt.Sprintf(`
		const set = (id, v) => { const e = document.getElementById(id); e.value = v; e.dispatchEvent(new Event('change')); };
		set('s-kind', 'once'); set('s-leader', '%d'); set('s-studio', '0');
		document.getElementById('s-title').value = '临时会商';
		document.getElementById('s-start').value = '%sT10:00';
		document.getElementById('s-minutes').value = '60';
		document.getElementById('s-max').value = '4';
		for (const i of document.querySelectorAll('#roster input')) i.checked = false;`, leader.ID, dayKey))
	staff.do("create a clashing session", chromedp.Click(chromedp.CSS(`#sess-form button[type=submit]`)))
	staff.wait("conflict banner", `!document.getElementById('sess-error').hidden`)
	if got := staff.text(`document.getElementById('sess-error').textContent`); !strings.Contains(got, fmt.Sprintf("会次 %d", sess.ID)) {
		t.Errorf("conflict banner %q", got)
	}
	if got := staff.text(`document.activeElement.id`); got != "s-leader" {
		t.Errorf("focus on %q after the clash, want s-leader", got)
	}

	// Invite the roster from the session's details.
	staff.do("open the session", chromedp.Click(chromedp.CSS(fmt.Sprintf(`.cal-item[data-id="%d"]`, sess.ID))))
	staff.wait("details", `!document.getElementById('detail').hidden && document.getElementById('d-halls').textContent.includes('拱墅区接访大厅')`)
	staff.do("invite", chromedp.SetValue(chromedp.ID("inv-note"), "请人社局派员参加"), chromedp.Click(chromedp.ID("inv-send")))
	staff.wait("invitations listed", `document.querySelectorAll('#inv-rows tr').length === 3`)

	// The department declines, with a reason.
	head := a.login(t, "rsj-head")
	head.open("invitations.html", "sanjiInvitations")
	head.wait("the department's invitation", `document.querySelectorAll('#my-inv tr').length === 1`)
	if got := head.text(`document.querySelector('#my-inv tr').textContent`); !strings.Contains(got, "请人社局派员参加") || !strings.Contains(got, "上城区人力资源和社会保障局") {
		t.Errorf("invitation row %q", got)
	}
	head.do("decline without a reason", chromedp.Click(chromedp.CSS(`#my-inv .inv-decline`)))
	head.wait("reason asked", `!document.getElementById('inv-error').hidden && document.activeElement.classList.contains('inv-reason')`)
	head.do("decline with a reason", chromedp.SendKeys(chromedp.CSS(`#my-inv .inv-reason`), "当天有省厅专项检查"),
		chromedp.Click(chromedp.CSS(`#my-inv .inv-decline`)))
	head.wait("declined", `document.querySelector('#my-inv tr').dataset.status === 'declined'`)
	staff.do("reopen the session", chromedp.Click(chromedp.CSS(fmt.Sprintf(`.cal-item[data-id="%d"]`, sess.ID))))
	staff.wait("the decline on the session", `[...document.querySelectorAll('#inv-rows tr')].some((tr) => tr.dataset.status === 'declined' && tr.textContent.includes('当天有省厅专项检查'))`)

	// The operator books the petitioner; the pre-check names the pending case.
	op := a.login(t, "sc-operator")
	op.open(fmt.Sprintf("book.html?session=%d", sess.ID), "sanjiBook")
	if got := op.text(`document.getElementById('b-hall').selectedOptions[0].textContent`); got != "上城区接访大厅" {
		t.Errorf("hall offered to the operator: %q", got)
	}
	op.do("fill the booking",
		chromedp.SendKeys(chromedp.ID("b-name"), "赵六"), chromedp.SendKeys(chromedp.ID("b-id"), idn),
		chromedp.SendKeys(chromedp.ID("b-phone"), "13912345678"), chromedp.SendKeys(chromedp.ID("b-matter"), "建筑公司拖欠工资三个月"),
		chromedp.Click(chromedp.ID("b-check")))
	op.wait("checks shown", `!!document.querySelector('#chk-notes li[data-code="pending_lower"]')`)
	if got := op.text(`document.getElementById('checks').textContent`); !strings.Contains(got, pending.Number) || !strings.Contains(got, "下级在办") {
		t.Errorf("checks panel %q", got)
	}
	op.do("record the guidance and book", chromedp.SendKeys(chromedp.ID("b-guidance"), "已告知区人社局正在办理，可等待处理结果"),
		chromedp.Click(chromedp.CSS(`#book-form button[type=submit]`)))
	op.wait("booked", `!document.getElementById('book-ok').hidden`)
	if got := op.text(`document.getElementById('book-ok').dataset.queueNo`); got != "1" {
		t.Errorf("queue number %q (banner %q)", got, op.text(`document.getElementById('book-ok').textContent`))
	}
	appts, _ := a.st.ListAppointments(ctx, sess.ID)
	if len(appts) != 1 || appts[0].Guidance != "已告知区人社局正在办理，可等待处理结果" || len(appts[0].Checks.PendingLower) != 1 {
		t.Errorf("stored appointment %+v", appts)
	}

	// The hall's queue for that day shows the number and the flag, the identity masked.
	op.open(fmt.Sprintf("queue.html?session=%d&date=%s", sess.ID, dayKey), "sanjiQueue")
	op.wait("queue row", fmt.Sprintf(`!!document.querySelector('section[data-session="%d"] tbody tr')`, sess.ID))
	row := op.text(fmt.Sprintf(`document.querySelector('section[data-session="%d"] tbody tr').textContent`, sess.ID))
	for _, want := range []string{"1", "赵*", "下级在办", "已预约"} {
		if !strings.Contains(row, want) {
			t.Errorf("queue row %q lacks %q", row, want)
		}
	}
	if strings.Contains(row, idn) {
		t.Errorf("queue row shows the ID number: %q", row)
	}
	op.do("check in", chromedp.Click(chromedp.CSS(fmt.Sprintf(`section[data-session="%d"] tbody tr button[data-status="checked_in"]`, sess.ID))))
	op.wait("checked in", fmt.Sprintf(`document.querySelector('section[data-session="%d"] tbody tr').dataset.status === 'checked_in'`, sess.ID))
}
