package ubus_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/pakon/pakon/src/ubus"
	"github.com/pakon/pakon/src/ubus/ubustest"
)

// TestClientSubscribeNotify: notifications arrive in order; the
// subscription follows the object across its owner's restart and a ubusd
// restart, and starts when the object appears after Subscribe.
func TestClientSubscribeNotify(t *testing.T) {
	b := ubustest.Start(t)
	ctx := testCtx(t)
	got := make(chan string, 1000)
	sub, _ := newClient(t, b.Path(), ubus.Options{})
	mustOpen(t, sub)
	// dnsmasq is not there yet.
	s, err := sub.Subscribe(ctx, "dnsmasq", func(typ string, data ubus.Table) {
		j, _ := data.MarshalJSON()
		got <- typ + " " + string(j)
	})
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.Subscribed(); ok {
		t.Fatal("subscribed to a missing object")
	}

	startNotifier := func() (*ubus.Client, *ubus.Object) {
		n, _ := newClient(t, b.Path(), ubus.Options{})
		o := &ubus.Object{Name: "dnsmasq"}
		if err := n.AddObject(ctx, o); err != nil {
			t.Fatal(err)
		}
		// The broker drops the previous notifier's object when it sees
		// that connection close, which may come after this registration
		// on a slow machine (qemu): a refused name is tried again.
		deadline := time.Now().Add(5 * time.Second)
		for {
			err := n.Open(ctx)
			if err == nil {
				break
			}
			if ubus.StatusOf(err) != ubus.StatusInvalidArgument || time.Now().After(deadline) {
				t.Fatal(err)
			}
			time.Sleep(20 * time.Millisecond)
		}
		return n, o
	}
	expect := func(want ...string) {
		t.Helper()
		for _, w := range want {
			select {
			case g := <-got:
				if g != w {
					t.Fatalf("notification %q, want %q", g, w)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("no notification, want %q", w)
			}
		}
	}
	notify := func(n *ubus.Client, o *ubus.Object, from, to int) []string {
		t.Helper()
		var want []string
		for i := from; i < to; i++ {
			typ := "dhcp.ack"
			if i%2 == 1 {
				typ = "dhcp.release"
			}
			if err := n.Notify(ctx, o, typ, map[string]any{"seq": i, "mac": "aa:bb:cc:dd:ee:ff"}); err != nil {
				t.Fatal(err)
			}
			want = append(want, fmt.Sprintf(`%s {"mac":"aa:bb:cc:dd:ee:ff","seq":%d}`, typ, i))
		}
		return want
	}

	n1, o1 := startNotifier()
	eventually(t, "subscription to appear", func() bool { ok, _ := s.Subscribed(); return ok && o1.HasSubscribers() })
	expect(notify(n1, o1, 0, 100)...)

	// dnsmasq restarts: a new client and object id.
	if err := n1.Close(ctx); err != nil {
		t.Fatal(err)
	}
	n2, o2 := startNotifier()
	eventually(t, "resubscription", func() bool { _, id := s.Subscribed(); return id == o2.ID() && o2.HasSubscribers() })
	expect(notify(n2, o2, 100, 110)...)

	// ubusd restarts: both reconnect, the subscription is made again.
	oldSub, oldN2 := sub.ID(), n2.ID()
	if err := b.Restart(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "resubscription after ubusd restart", func() bool {
		ok, id := s.Subscribed()
		reconnected := sub.ID() != oldSub && sub.ID() != 0 && n2.ID() != oldN2 && n2.ID() != 0
		return reconnected && ok && id == o2.ID() && o2.HasSubscribers()
	})
	expect(notify(n2, o2, 110, 120)...)

	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, "ACTIVE 0", func() bool { return !o2.HasSubscribers() })
	notify(n2, o2, 120, 121)
	select {
	case g := <-got:
		t.Errorf("notification after Close: %s", g)
	case <-time.After(100 * time.Millisecond):
	}
}

// TestClientListenSend: pattern matching with "*", no loop-back of own
// events, and ubus.object.add from ubusd.
func TestClientListenSend(t *testing.T) {
	b := ubustest.Start(t)
	ctx := testCtx(t)
	got := make(chan string, 10)
	l, _ := newClient(t, b.Path(), ubus.Options{})
	mustOpen(t, l)
	for _, p := range []string{"pakon.*", "ubus.object.add"} {
		if _, err := l.Listen(ctx, p, func(ev string, data ubus.Table) {
			if ev == "ubus.object.add" {
				p, _ := data.Get("path")
				got <- ev + " " + string(p.(ubus.String))
				return
			}
			j, _ := data.MarshalJSON()
			got <- ev + " " + string(j)
		}); err != nil {
			t.Fatal(err)
		}
	}
	s, _ := newClient(t, b.Path(), ubus.Options{})
	mustOpen(t, s)
	for _, ev := range []string{"pakon.flow", "other", "pakon.dns"} {
		if err := s.Send(ctx, ev, map[string]any{"n": 1}); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Send(ctx, "pakon.self", nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Send(ctx, "ubus.fake", nil); ubus.StatusOf(err) != ubus.StatusPermissionDenied {
		t.Errorf("Send ubus.*: %v, want PERMISSION_DENIED", err)
	}
	if err := s.AddObject(ctx, &ubus.Object{Name: "newobj"}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`pakon.flow {"n":1}`, `pakon.dns {"n":1}`, "ubus.object.add newobj"} {
		select {
		case g := <-got:
			if g != want {
				t.Errorf("event %q, want %q", g, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no event, want %q", want)
		}
	}
	select {
	case g := <-got:
		t.Errorf("unexpected event %q", g)
	case <-time.After(100 * time.Millisecond):
	}
}
