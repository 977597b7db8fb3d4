package service_test

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pakon/pakon/src/service"
)

// fakeSystemd is the datagram socket systemd passes as NOTIFY_SOCKET.
type fakeSystemd struct {
	conn *net.UnixConn
}

// listen creates the socket and points NOTIFY_SOCKET at it; the watchdog
// variables are cleared.
func listen(t *testing.T) *fakeSystemd {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	t.Setenv("WATCHDOG_USEC", "")
	t.Setenv("WATCHDOG_PID", "")
	return &fakeSystemd{conn: conn}
}

// read returns the next message, or ok false when none comes within wait.
func (f *fakeSystemd) read(t *testing.T, wait time.Duration) (string, bool) {
	t.Helper()
	buf := make([]byte, 4096)
	f.conn.SetReadDeadline(time.Now().Add(wait))
	n, _, err := f.conn.ReadFrom(buf)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "", false
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(buf[:n]), true
}

func (f *fakeSystemd) expect(t *testing.T, want string) {
	t.Helper()
	got, ok := f.read(t, 5*time.Second)
	if !ok {
		t.Fatalf("no message, want %q", want)
	}
	if got != want {
		t.Fatalf("message %q, want %q", got, want)
	}
}

// drain reads what is queued and returns how many watchdog pings it held.
func (f *fakeSystemd) drain(t *testing.T) (pings int) {
	t.Helper()
	for {
		m, ok := f.read(t, 10*time.Millisecond)
		if !ok {
			return pings
		}
		if m != "WATCHDOG=1" {
			t.Fatalf("unexpected message %q", m)
		}
		pings++
	}
}

func closeNotifier(t *testing.T, n *service.Notifier) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := n.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestNoSystemd: without NOTIFY_SOCKET (OpenWrt) nothing is sent and
// nothing fails.
func TestNoSystemd(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	t.Setenv("WATCHDOG_USEC", "1000")
	n := service.New(service.Options{})
	if n.Enabled() || n.WatchdogInterval() != 0 {
		t.Fatalf("Enabled %v, interval %v; want off", n.Enabled(), n.WatchdogInterval())
	}
	if err := n.Open(); err != nil {
		t.Fatal(err)
	}
	for _, err := range []error{n.Ready("x"), n.Status("x"), n.Reloading("x"), n.Stopping("x")} {
		if err != nil {
			t.Error(err)
		}
	}
	closeNotifier(t, n)
}

// TestMessages: each state change is one datagram in sd_notify's format.
func TestMessages(t *testing.T) {
	sd := listen(t)
	n := service.New(service.Options{})
	if !n.Enabled() || n.WatchdogInterval() != 0 {
		t.Fatalf("Enabled %v, interval %v", n.Enabled(), n.WatchdogInterval())
	}
	if err := n.Open(); err != nil {
		t.Fatal(err)
	}
	if err := n.Ready("reading EVE from /run/pakon/eve.sock"); err != nil {
		t.Fatal(err)
	}
	sd.expect(t, "READY=1\nSTATUS=reading EVE from /run/pakon/eve.sock")
	if err := n.Status("1520 events/s,\n 3 devices"); err != nil {
		t.Fatal(err)
	}
	sd.expect(t, "STATUS=1520 events/s, 3 devices")
	if err := n.Ready(""); err != nil {
		t.Fatal(err)
	}
	sd.expect(t, "READY=1")

	if err := n.Reloading("reloading configuration"); err != nil {
		t.Fatal(err)
	}
	m, _ := sd.read(t, 5*time.Second)
	re := regexp.MustCompile(`^RELOADING=1\nMONOTONIC_USEC=([0-9]+)\nSTATUS=reloading configuration$`)
	sub := re.FindStringSubmatch(m)
	if sub == nil {
		t.Fatalf("message %q does not match %s", m, re)
	}
	if usec, _ := strconv.ParseInt(sub[1], 10, 64); usec <= 0 {
		t.Errorf("MONOTONIC_USEC=%s", sub[1])
	}

	if err := n.Stopping("writing out flows"); err != nil {
		t.Fatal(err)
	}
	sd.expect(t, "STOPPING=1\nSTATUS=writing out flows")
	closeNotifier(t, n)
	if m, ok := sd.read(t, 20*time.Millisecond); ok {
		t.Errorf("unexpected message %q (no watchdog was asked for)", m)
	}
}

// TestNotifyError: a socket that is gone is an error for the caller.
func TestNotifyError(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", filepath.Join(t.TempDir(), "missing"))
	n := service.New(service.Options{})
	if err := n.Ready("x"); err == nil {
		t.Fatal("Ready to a missing socket succeeded")
	}
}

// TestWatchdog: pings come while the check passes, stop while it fails
// (and while it hangs past its deadline), come back when it passes again,
// and end with Close. The counts are what is asserted; the check's calls
// mark the passing periods, so no timing is measured.
func TestWatchdog(t *testing.T) {
	sd := listen(t)
	t.Setenv("WATCHDOG_USEC", "20000") // pings every 10 ms
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))
	const (
		pass = iota
		fail
		hang
	)
	var mode, checks atomic.Int64
	n := service.New(service.Options{Check: func(ctx context.Context) error {
		checks.Add(1)
		switch mode.Load() {
		case fail:
			return errors.New("pipeline stuck")
		case hang:
			<-ctx.Done()
			return ctx.Err()
		}
		return nil
	}})
	if got := n.WatchdogInterval(); got != 20*time.Millisecond {
		t.Fatalf("WatchdogInterval() = %v, want 20ms", got)
	}
	if err := n.Open(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		sd.expect(t, "WATCHDOG=1")
	}

	for _, m := range []int64{fail, hang} {
		mode.Store(m)
		// The first check in this mode ran after any ping of the passing
		// mode was sent; drain those, then let three checks run.
		start := checks.Load()
		waitFor(t, "a check", func() bool { return checks.Load() >= start+1 })
		sd.drain(t)
		start = checks.Load()
		waitFor(t, "three checks", func() bool { return checks.Load() >= start+3 })
		if p := sd.drain(t); p != 0 {
			t.Errorf("mode %d: %d pings while the check fails", m, p)
		}
	}

	mode.Store(pass)
	sd.expect(t, "WATCHDOG=1")
	closeNotifier(t, n)
	sd.drain(t)
	if m, ok := sd.read(t, 50*time.Millisecond); ok {
		t.Errorf("message after Close: %q", m)
	}
}

// TestWatchdogOff: systemd's watchdog variables for another process, or
// malformed ones, turn the watchdog off.
func TestWatchdogOff(t *testing.T) {
	tests := []struct{ name, usec, pid string }{
		{"other process", "20000", strconv.Itoa(os.Getpid() + 1)},
		{"malformed", "soon", ""},
		{"zero", "0", ""},
		{"unset", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sd := listen(t)
			t.Setenv("WATCHDOG_USEC", tt.usec)
			t.Setenv("WATCHDOG_PID", tt.pid)
			n := service.New(service.Options{})
			if got := n.WatchdogInterval(); got != 0 {
				t.Fatalf("WatchdogInterval() = %v, want 0", got)
			}
			if err := n.Open(); err != nil {
				t.Fatal(err)
			}
			if m, ok := sd.read(t, 50*time.Millisecond); ok {
				t.Errorf("unexpected message %q", m)
			}
			closeNotifier(t, n)
		})
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
