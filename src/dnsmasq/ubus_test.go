package dnsmasq_test

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pakon/pakon/src/dnsmasq"
	"github.com/pakon/pakon/src/leases"
	"github.com/pakon/pakon/src/ubus"
	"github.com/pakon/pakon/src/ubus/ubustest"
)

var _ dnsmasq.NameObserver = (*leases.Names)(nil)

// ackPayload and releasePayload are shaped like dnsmasq's
// ubus_event_bcast: string fields mac, ip, name, interface in this order,
// each left out when unknown (a release has no name).
func ackPayload(mac, ip, name, iface string) ubus.Table {
	t := ubus.Table{{Name: "mac", Value: ubus.String(mac)}, {Name: "ip", Value: ubus.String(ip)}}
	if name != "" {
		t = append(t, ubus.Field{Name: "name", Value: ubus.String(name)})
	}
	return append(t, ubus.Field{Name: "interface", Value: ubus.String(iface)})
}

func releasePayload(mac, ip, iface string) ubus.Table {
	return ackPayload(mac, ip, "", iface)
}

// fakeDnsmasq is a ubus client that registers a dnsmasq object, as
// dnsmasq --enable-ubus=NAME does, and sends its notifications.
type fakeDnsmasq struct {
	t *testing.T
	c *ubus.Client
	o *ubus.Object
}

func startDnsmasq(t *testing.T, socket, name string) *fakeDnsmasq {
	t.Helper()
	c := newClient(t, socket)
	o := &ubus.Object{Name: name, Methods: []ubus.Method{{Name: "metrics", Handler: func(context.Context, *ubus.Request) (any, error) {
		return map[string]any{"leases_allocated_4": 1}, nil
	}}}}
	if err := c.AddObject(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if err := c.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	return &fakeDnsmasq{t: t, c: c, o: o}
}

func (d *fakeDnsmasq) notify(typ string, data ubus.Table) {
	d.t.Helper()
	if err := d.c.Notify(context.Background(), d.o, typ, data); err != nil {
		d.t.Fatal(err)
	}
}

func (d *fakeDnsmasq) stop() {
	d.t.Helper()
	if err := d.c.Close(context.Background()); err != nil {
		d.t.Fatal(err)
	}
}

func newClient(t *testing.T, socket string) *ubus.Client {
	t.Helper()
	c := ubus.New(ubus.Options{Path: socket, Timeout: 5 * time.Second,
		ReconnectMin: 10 * time.Millisecond, ReconnectMax: 50 * time.Millisecond})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c.Close(ctx)
	})
	return c
}

// recorder collects events.
type recorder struct {
	mu     sync.Mutex
	events []dnsmasq.Event
	names  dnsmasq.Handler
}

func (r *recorder) handle(e dnsmasq.Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
	if r.names != nil {
		r.names(e)
	}
}

// wait returns the first n events, failing after 5 s.
func (r *recorder) wait(t *testing.T, n int) []dnsmasq.Event {
	t.Helper()
	var got []dnsmasq.Event
	eventually(t, fmt.Sprintf("%d events", n), func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		got = slices.Clone(r.events)
		return len(got) >= n
	})
	return got[:n]
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.events)
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestUbusNames: the watcher starts before dnsmasq, follows it when it
// appears, turns an ack into a device name in leases.Names, keeps the
// name on release, ignores other notifications and follows dnsmasq across
// its restart and a ubusd restart.
func TestUbusNames(t *testing.T) {
	b := ubustest.Start(t)
	ctx := context.Background()
	c := newClient(t, b.Path())
	if err := c.Open(ctx); err != nil {
		t.Fatal(err)
	}
	names := leases.New("", "")
	rec := &recorder{names: dnsmasq.Names(names)}
	w := dnsmasq.NewUbus(c, rec.handle, nil)
	if err := w.Open(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close(context.Background()) })
	if w.Subscribed(dnsmasq.UbusObject) {
		t.Fatal("subscribed before dnsmasq exists")
	}

	d := startDnsmasq(t, b.Path(), "dnsmasq")
	eventually(t, "subscription to dnsmasq", func() bool { return w.Subscribed("dnsmasq") && d.o.HasSubscribers() })
	d.notify("dhcp.ack", ackPayload("02:00:00:00:00:0A", "192.168.1.100", "kids-tablet", "br-lan"))
	d.notify("connmark-allowlist.refused", ubus.Table{{Name: "mark", Value: ubus.Int32(1)}, {Name: "name", Value: ubus.String("x.test")}})
	d.notify("dhcp.release", releasePayload("02:00:00:00:00:0a", "192.168.1.100", "br-lan"))
	got := rec.wait(t, 2)
	want := []dnsmasq.Event{
		{Kind: dnsmasq.Granted, MAC: "02:00:00:00:00:0a", IP: netip.MustParseAddr("192.168.1.100"), Hostname: "kids-tablet", Interface: "br-lan"},
		{Kind: dnsmasq.Released, MAC: "02:00:00:00:00:0a", IP: netip.MustParseAddr("192.168.1.100"), Interface: "br-lan"},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("events\n got %+v\nwant %+v", got, want)
	}
	if name, src, ok := names.Name("02:00:00:00:00:0a"); !ok || name != "kids-tablet" || src != leases.SourceDHCP {
		t.Errorf("Name after ack and release = %q, %q, %v; want kids-tablet from %s", name, src, ok, leases.SourceDHCP)
	}

	// dnsmasq restarts: a new object id.
	d.stop()
	d = startDnsmasq(t, b.Path(), "dnsmasq")
	eventually(t, "resubscription after dnsmasq restart", func() bool { return w.Subscribed("dnsmasq") && d.o.HasSubscribers() })
	d.notify("dhcp.ack", ackPayload("02:00:00:00:00:0b", "192.168.1.101", "tv", "br-lan"))
	if e := rec.wait(t, 3)[2]; e.Hostname != "tv" {
		t.Errorf("event after dnsmasq restart: %+v", e)
	}

	// ubusd restarts: everyone reconnects.
	if err := b.Restart(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "resubscription after ubusd restart", func() bool {
		ok, id := subscribedTo(w, c, "dnsmasq")
		return ok && id == d.o.ID() && d.o.HasSubscribers()
	})
	d.notify("dhcp.ack", ackPayload("02:00:00:00:00:0c", "192.168.1.102", "phone", "br-lan"))
	if e := rec.wait(t, 4)[3]; e.Hostname != "phone" {
		t.Errorf("event after ubusd restart: %+v", e)
	}
	if name, _, _ := names.Name("02:00:00:00:00:0c"); name != "phone" {
		t.Errorf("Name after ubusd restart = %q, want phone", name)
	}

	// After Close, nothing more arrives.
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, "unsubscription", func() bool { return !d.o.HasSubscribers() })
	d.notify("dhcp.ack", ackPayload("02:00:00:00:00:0d", "192.168.1.103", "late", "br-lan"))
	time.Sleep(50 * time.Millisecond)
	if n := rec.count(); n != 4 {
		t.Errorf("%d events after Close, want 4", n)
	}
}

// subscribedTo reports whether the watcher follows path on the client's
// current connection (the object id comes from a fresh lookup).
func subscribedTo(w *dnsmasq.Ubus, c *ubus.Client, path string) (bool, uint32) {
	if !w.Subscribed(path) {
		return false, 0
	}
	objs, err := c.Lookup(context.Background(), path)
	if err != nil || len(objs) != 1 {
		return false, 0
	}
	return true, objs[0].ID
}

// TestUbusInstances: further dnsmasq instances ("dnsmasq.<section>") are
// followed whether they exist at Open or appear later; objects that only
// look alike are not.
func TestUbusInstances(t *testing.T) {
	b := ubustest.Start(t)
	ctx := context.Background()
	c := newClient(t, b.Path())
	if err := c.Open(ctx); err != nil {
		t.Fatal(err)
	}
	early := startDnsmasq(t, b.Path(), "dnsmasq.guest")
	rec := &recorder{}
	w := dnsmasq.NewUbus(c, rec.handle, nil)
	if err := w.Open(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close(context.Background()) })
	late := startDnsmasq(t, b.Path(), "dnsmasq.iot")
	other := startDnsmasq(t, b.Path(), "dnsmasqx")
	eventually(t, "both instances followed", func() bool {
		return early.o.HasSubscribers() && late.o.HasSubscribers()
	})
	if got, want := w.Objects(), []string{"dnsmasq", "dnsmasq.guest", "dnsmasq.iot"}; !slices.Equal(got, want) {
		t.Errorf("Objects() = %q, want %q", got, want)
	}
	if other.o.HasSubscribers() {
		t.Error("dnsmasqx is followed")
	}
	early.notify("dhcp.ack", ackPayload("02:00:00:00:01:01", "192.168.2.10", "guest-phone", "br-guest"))
	late.notify("dhcp.ack", ackPayload("02:00:00:00:02:01", "192.168.3.10", "plug", "br-iot"))
	got := rec.wait(t, 2)
	if got[0].Interface != "br-guest" || got[1].Interface != "br-iot" {
		t.Errorf("events %+v", got)
	}
}

// TestUbusPayloads: how each notification becomes an event.
func TestUbusPayloads(t *testing.T) {
	tests := []struct {
		name string
		typ  string
		data ubus.Table
		want *dnsmasq.Event // nil: no event
	}{
		{"ack", "dhcp.ack", ackPayload("aa:bb:cc:dd:ee:01", "10.0.0.5", "nas", "br-lan"),
			&dnsmasq.Event{Kind: dnsmasq.Granted, MAC: "aa:bb:cc:dd:ee:01", IP: netip.MustParseAddr("10.0.0.5"), Hostname: "nas", Interface: "br-lan"}},
		{"ack without name", "dhcp.ack", ackPayload("aa:bb:cc:dd:ee:02", "10.0.0.6", "", "br-lan"),
			&dnsmasq.Event{Kind: dnsmasq.Granted, MAC: "aa:bb:cc:dd:ee:02", IP: netip.MustParseAddr("10.0.0.6"), Interface: "br-lan"}},
		{"release", "dhcp.release", releasePayload("aa:bb:cc:dd:ee:03", "10.0.0.7", "br-lan"),
			&dnsmasq.Event{Kind: dnsmasq.Released, MAC: "aa:bb:cc:dd:ee:03", IP: netip.MustParseAddr("10.0.0.7"), Interface: "br-lan"}},
		{"no address", "dhcp.ack", ubus.Table{{Name: "mac", Value: ubus.String("aa:bb:cc:dd:ee:04")}, {Name: "name", Value: ubus.String("x")}},
			&dnsmasq.Event{Kind: dnsmasq.Granted, MAC: "aa:bb:cc:dd:ee:04", Hostname: "x"}},
		{"infiniband address", "dhcp.ack", ackPayload("80:00:00:48:fe:80:00:00:00:00:00:00:00:02:c9:03:00:0a:0b:0c", "10.0.0.8", "ib", "ib0"),
			&dnsmasq.Event{Kind: dnsmasq.Granted, IP: netip.MustParseAddr("10.0.0.8"), Hostname: "ib", Interface: "ib0"}},
		{"empty mac", "dhcp.ack", ackPayload("", "10.0.0.9", "y", "br-lan"),
			&dnsmasq.Event{Kind: dnsmasq.Granted, IP: netip.MustParseAddr("10.0.0.9"), Hostname: "y", Interface: "br-lan"}},
		{"wrong types", "dhcp.ack", ubus.Table{{Name: "mac", Value: ubus.Int32(1)}, {Name: "ip", Value: ubus.Table{}}},
			&dnsmasq.Event{Kind: dnsmasq.Granted}},
		{"other notification", "connmark-allowlist.resolved", ackPayload("aa:bb:cc:dd:ee:05", "10.0.0.10", "z", "br-lan"), nil},
	}
	b := ubustest.Start(t)
	ctx := context.Background()
	c := newClient(t, b.Path())
	if err := c.Open(ctx); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	w := dnsmasq.NewUbus(c, rec.handle, nil)
	if err := w.Open(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close(context.Background()) })
	d := startDnsmasq(t, b.Path(), "dnsmasq")
	eventually(t, "subscription", func() bool { return d.o.HasSubscribers() })
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := rec.count()
			d.notify(tt.typ, tt.data)
			// A marker notification after it: once the marker is in, the
			// tested one was handled (the watcher keeps their order).
			d.notify("dhcp.release", releasePayload("00:00:00:00:00:01", "0.0.0.1", "marker"))
			n := 2
			if tt.want == nil {
				n = 1
			}
			got := rec.wait(t, before+n)[before:]
			if got[n-1].Interface != "marker" {
				t.Fatalf("events %+v, want the marker last", got)
			}
			if tt.want != nil && got[0] != *tt.want {
				t.Errorf("got  %+v\nwant %+v", got[0], *tt.want)
			}
		})
	}
}
