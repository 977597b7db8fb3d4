package dnsmasq_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/pakon/pakon/src/dnsmasq"
	"github.com/pakon/pakon/src/dnsmasq/dbustest"
)

const dnsmasqPath = dbus.ObjectPath("/uk/org/thekelleys/dnsmasq")

// emitter sends signals as dnsmasq does: from its object path, with its
// name as the interface.
type emitter struct {
	t    *testing.T
	conn *dbus.Conn
}

func newEmitter(t *testing.T, addr string) *emitter {
	t.Helper()
	conn, err := dbus.Connect(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &emitter{t: t, conn: conn}
}

func (e *emitter) emit(path dbus.ObjectPath, member string, args ...any) {
	e.t.Helper()
	if err := e.conn.Emit(path, member, args...); err != nil {
		e.t.Fatal(err)
	}
}

func startDBus(t *testing.T, opts dnsmasq.DBusOptions) *dnsmasq.DBus {
	t.Helper()
	if opts.ReconnectMin == 0 {
		opts.ReconnectMin, opts.ReconnectMax = 10*time.Millisecond, 50*time.Millisecond
	}
	w := dnsmasq.NewDBus(opts)
	if err := w.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := w.Close(ctx); err != nil {
			t.Error(err)
		}
	})
	eventually(t, "D-Bus connection", w.Connected)
	return w
}

// TestDBusSignals: which signals become which events. A marker signal
// after each one shows that it was handled.
func TestDBusSignals(t *testing.T) {
	const iface = "uk.org.thekelleys.dnsmasq."
	tests := []struct {
		name   string
		path   dbus.ObjectPath
		member string
		args   []any
		want   *dnsmasq.Event // nil: no event
	}{
		{"added", dnsmasqPath, iface + "DhcpLeaseAdded", []any{"10.77.0.134", "02:11:22:33:44:55", "kids-tablet"},
			&dnsmasq.Event{Kind: dnsmasq.Granted, IP: netip.MustParseAddr("10.77.0.134"), MAC: "02:11:22:33:44:55", Hostname: "kids-tablet"}},
		{"updated", dnsmasqPath, iface + "DhcpLeaseUpdated", []any{"10.77.0.134", "02:11:22:33:44:55", "laptop"},
			&dnsmasq.Event{Kind: dnsmasq.Granted, IP: netip.MustParseAddr("10.77.0.134"), MAC: "02:11:22:33:44:55", Hostname: "laptop"}},
		{"deleted", dnsmasqPath, iface + "DhcpLeaseDeleted", []any{"10.77.0.134", "02:11:22:33:44:55", "laptop"},
			&dnsmasq.Event{Kind: dnsmasq.Released, IP: netip.MustParseAddr("10.77.0.134"), MAC: "02:11:22:33:44:55", Hostname: "laptop"}},
		{"no host name", dnsmasqPath, iface + "DhcpLeaseAdded", []any{"10.77.0.135", "02:11:22:33:44:56", ""},
			&dnsmasq.Event{Kind: dnsmasq.Granted, IP: netip.MustParseAddr("10.77.0.135"), MAC: "02:11:22:33:44:56"}},
		{"upper-case MAC", dnsmasqPath, iface + "DhcpLeaseAdded", []any{"10.77.0.136", "02:AA:BB:CC:DD:EE", "x"},
			&dnsmasq.Event{Kind: dnsmasq.Granted, IP: netip.MustParseAddr("10.77.0.136"), MAC: "02:aa:bb:cc:dd:ee", Hostname: "x"}},
		{"IPv6 lease with client id", dnsmasqPath, iface + "DhcpLeaseAdded", []any{"fd00::10", "00:01:00:01:2b:00:00:01:aa:bb:cc:dd:ee:04", "nas"},
			&dnsmasq.Event{Kind: dnsmasq.Granted, IP: netip.MustParseAddr("fd00::10"), Hostname: "nas"}},
		{"Up", dnsmasqPath, iface + "Up", nil, nil},
		{"other path", "/org/example/other", iface + "DhcpLeaseAdded", []any{"10.77.0.137", "02:11:22:33:44:57", "y"}, nil},
		{"other interface", dnsmasqPath, "org.example.dns2.DhcpLeaseAdded", []any{"10.77.0.138", "02:11:22:33:44:58", "z"}, nil},
		{"two arguments", dnsmasqPath, iface + "DhcpLeaseAdded", []any{"10.77.0.139", "02:11:22:33:44:59"}, nil},
		{"wrong type", dnsmasqPath, iface + "DhcpLeaseAdded", []any{"10.77.0.140", "02:11:22:33:44:60", uint32(1)}, nil},
	}
	bus := dbustest.Start(t)
	rec := &recorder{}
	startDBus(t, dnsmasq.DBusOptions{Address: bus.Address(), Handler: rec.handle})
	e := newEmitter(t, bus.Address())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := rec.count()
			e.emit(tt.path, tt.member, tt.args...)
			e.emit(dnsmasqPath, iface+"DhcpLeaseDeleted", "0.0.0.1", "00:00:00:00:00:01", "marker")
			n := 2
			if tt.want == nil {
				n = 1
			}
			got := rec.wait(t, before+n)[before:]
			if got[n-1].Hostname != "marker" {
				t.Fatalf("events %+v, want the marker last", got)
			}
			if tt.want != nil && got[0] != *tt.want {
				t.Errorf("got  %+v\nwant %+v", got[0], *tt.want)
			}
		})
	}
}

// TestDBusName: dnsmasq --enable-dbus=NAME sends with NAME as interface.
func TestDBusName(t *testing.T) {
	bus := dbustest.Start(t)
	rec := &recorder{}
	startDBus(t, dnsmasq.DBusOptions{Address: bus.Address(), Name: "org.example.dns2", Handler: rec.handle})
	e := newEmitter(t, bus.Address())
	e.emit(dnsmasqPath, "uk.org.thekelleys.dnsmasq.DhcpLeaseAdded", "10.0.0.1", "02:00:00:00:00:01", "default-name")
	e.emit(dnsmasqPath, "org.example.dns2.DhcpLeaseAdded", "10.0.0.2", "02:00:00:00:00:02", "custom-name")
	if got := rec.wait(t, 1); got[0].Hostname != "custom-name" {
		t.Errorf("events %+v", got)
	}
	time.Sleep(20 * time.Millisecond)
	if n := rec.count(); n != 1 {
		t.Errorf("%d events, want 1", n)
	}
}

// TestDBusReconnect: the bus goes away and comes back; the watcher
// connects again and events flow again. A bus that is not there at Open
// is waited for. After Close, nothing arrives.
func TestDBusReconnect(t *testing.T) {
	bus := dbustest.Start(t)
	bus.Stop()
	var logs syncBuffer
	rec := &recorder{}
	w := dnsmasq.NewDBus(dnsmasq.DBusOptions{Address: bus.Address(), Handler: rec.handle,
		Logger:       slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		ReconnectMin: 10 * time.Millisecond, ReconnectMax: 50 * time.Millisecond})
	if err := w.Open(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "connection attempts", func() bool { return strings.Count(logs.String(), "cannot follow dnsmasq") >= 3 })
	if w.Connected() {
		t.Fatal("connected without a bus")
	}
	if n := strings.Count(logs.String(), "level=WARN"); n != 1 {
		t.Errorf("%d warnings while the bus is away, want 1:\n%s", n, logs.String())
	}
	if err := bus.Start(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "connection", w.Connected)
	e := newEmitter(t, bus.Address())
	e.emit(dnsmasqPath, "uk.org.thekelleys.dnsmasq.DhcpLeaseAdded", "10.0.0.1", "02:00:00:00:00:01", "first")
	rec.wait(t, 1)

	bus.Stop()
	eventually(t, "disconnection", func() bool { return !w.Connected() })
	if err := bus.Start(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "reconnection", w.Connected)
	e = newEmitter(t, bus.Address())
	e.emit(dnsmasqPath, "uk.org.thekelleys.dnsmasq.DhcpLeaseAdded", "10.0.0.2", "02:00:00:00:00:02", "second")
	if got := rec.wait(t, 2); got[1].Hostname != "second" {
		t.Errorf("event after reconnection: %+v", got[1])
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if w.Connected() {
		t.Error("connected after Close")
	}
	e.emit(dnsmasqPath, "uk.org.thekelleys.dnsmasq.DhcpLeaseAdded", "10.0.0.3", "02:00:00:00:00:03", "late")
	time.Sleep(20 * time.Millisecond)
	if n := rec.count(); n != 2 {
		t.Errorf("%d events after Close, want 2", n)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
