package eveinput_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pakon/pakon/src/eveinput"
)

// serving is a Socket running Serve in the background.
type serving struct {
	*eveinput.Socket
	sink   *fakeSink
	cancel context.CancelFunc
	done   chan error
}

func sockPath(t *testing.T) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "run", "eve.sock")
}

func serve(t *testing.T, path string, maxLine int) *serving {
	t.Helper()
	sink := &fakeSink{}
	s := &eveinput.Socket{Path: path, MaxLine: maxLine, Sink: sink, Logger: discardLogger()}
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv := &serving{Socket: s, sink: sink, cancel: cancel, done: make(chan error, 1)}
	go func() { srv.done <- s.Serve(ctx) }()
	t.Cleanup(func() { srv.stop(t) })
	return srv
}

// stop cancels Serve and waits for it; calling it twice is fine.
func (s *serving) stop(t *testing.T) {
	t.Helper()
	s.cancel()
	select {
	case err, ok := <-s.done:
		if ok && err != nil {
			t.Errorf("Serve: %v", err)
		}
		if ok {
			close(s.done)
		}
	case <-time.After(waitTimeout):
		t.Fatal("Serve did not return after cancellation")
	}
}

func dial(t *testing.T, path string) net.Conn {
	t.Helper()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func send(t *testing.T, c net.Conn, s string) {
	t.Helper()
	if _, err := c.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
}

func TestSocketListenCreatesPrivateSocket(t *testing.T) {
	path := sockPath(t)
	srv := serve(t, path, 0)
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Type() != os.ModeSocket {
		t.Fatalf("%s is %v, not a socket", path, fi.Mode())
	}
	if perm := fi.Mode().Perm(); perm&0o007 != 0 || perm&0o600 != 0o600 {
		t.Fatalf("socket mode %v: others may connect or the owner may not", perm)
	}
	c := dial(t, path)
	send(t, c, "{\"a\":1}\n")
	equalLines(t, srv.sink.waitLines(t, 1), []string{`{"a":1}`})
}

func TestSocketListenReplacesStaleSocket(t *testing.T) {
	path := sockPath(t)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	// A listener that died without removing its socket file.
	old, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	old.SetUnlinkOnClose(false)
	old.Close()
	if _, err := os.Lstat(path); err != nil {
		t.Fatalf("stale socket not left behind: %v", err)
	}
	srv := serve(t, path, 0)
	c := dial(t, path)
	send(t, c, "{\"a\":1}\n")
	equalLines(t, srv.sink.waitLines(t, 1), []string{`{"a":1}`})
}

func TestSocketListenRefuses(t *testing.T) {
	t.Run("live listener", func(t *testing.T) {
		path := sockPath(t)
		first := serve(t, path, 0)
		second := &eveinput.Socket{Path: path, Sink: &fakeSink{}, Logger: discardLogger()}
		err := second.Listen()
		if err == nil || !strings.Contains(err.Error(), path) {
			t.Fatalf("Listen on a live socket: %v, want an error naming it", err)
		}
		// The first listener still owns the path and works.
		c := dial(t, path)
		send(t, c, "{\"still\":1}\n")
		equalLines(t, first.sink.waitLines(t, 1), []string{`{"still":1}`})
	})
	t.Run("live listener with a full backlog", func(t *testing.T) {
		path := sockPath(t)
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		// A listener that accepts nothing and queues at most one or two.
		fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer syscall.Close(fd)
		if err := syscall.Bind(fd, &syscall.SockaddrUnix{Name: path}); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Listen(fd, 0); err != nil {
			t.Fatal(err)
		}
		for i := 0; ; i++ {
			c, err := net.Dial("unix", path)
			if err != nil {
				break
			}
			defer c.Close()
			if i > 100 {
				t.Skip("backlog does not fill up")
			}
		}
		s := &eveinput.Socket{Path: path, Sink: &fakeSink{}, Logger: discardLogger()}
		if err := s.Listen(); err == nil {
			t.Fatal("Listen took over a live socket whose backlog is full")
		}
		if _, err := os.Lstat(path); err != nil {
			t.Fatalf("live socket removed: %v", err)
		}
	})
	t.Run("regular file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "eve.sock")
		if err := os.WriteFile(path, []byte("precious"), 0o600); err != nil {
			t.Fatal(err)
		}
		s := &eveinput.Socket{Path: path, Sink: &fakeSink{}, Logger: discardLogger()}
		if err := s.Listen(); err == nil || !strings.Contains(err.Error(), "not a socket") {
			t.Fatalf("Listen on a regular file: %v", err)
		}
		if b, err := os.ReadFile(path); err != nil || string(b) != "precious" {
			t.Fatalf("file touched: %q %v", b, err)
		}
	})
	t.Run("symlink to a socket", func(t *testing.T) {
		target := sockPath(t)
		serve(t, target, 0)
		path := filepath.Join(t.TempDir(), "eve.sock")
		if err := os.Symlink(target, path); err != nil {
			t.Fatal(err)
		}
		s := &eveinput.Socket{Path: path, Sink: &fakeSink{}, Logger: discardLogger()}
		if err := s.Listen(); err == nil {
			t.Fatal("Listen replaced a symlink")
		}
	})
}

func TestSocketClientsOneAfterAnother(t *testing.T) {
	path := sockPath(t)
	srv := serve(t, path, 0)
	if srv.Connected() != 0 || srv.Connections() != 0 || !srv.LastConnect().IsZero() {
		t.Fatalf("before any client: connected %d connections %d last %v", srv.Connected(), srv.Connections(), srv.LastConnect())
	}
	var want []string
	for i := range 3 {
		// Suricata restarting: connect, write, disconnect.
		c := dial(t, path)
		waitFor(t, "connected client", func() bool { return srv.Connected() == 1 })
		lines := numbered(fmt.Sprintf("run%d", i), 0, 5)
		send(t, c, joinLines(lines))
		want = append(want, lines...)
		srv.sink.waitLines(t, len(want))
		c.Close()
		waitFor(t, "disconnect", func() bool { return srv.Connected() == 0 })
	}
	got, rejects := srv.sink.got()
	equalLines(t, got, want)
	if len(rejects) != 0 {
		t.Fatalf("rejects %q", rejects)
	}
	if n := srv.Connections(); n != 3 {
		t.Fatalf("Connections() = %d, want 3", n)
	}
	if srv.LastConnect().IsZero() {
		t.Fatal("LastConnect() is zero after connections")
	}
}

func TestSocketConcurrentClients(t *testing.T) {
	path := sockPath(t)
	srv := serve(t, path, 0)
	const clients, perClient = 4, 200
	var conns []net.Conn
	for range clients {
		conns = append(conns, dial(t, path))
	}
	waitFor(t, "all clients connected", func() bool { return srv.Connected() == clients })
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, l := range numbered(fmt.Sprintf("c%d", i), 0, perClient) {
				if _, err := c.Write([]byte(l + "\n")); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	got := srv.sink.waitLines(t, clients*perClient)
	// Each client's lines arrive whole and in its order.
	next := make(map[string]int)
	for _, l := range got {
		var prefix string
		var n int
		if _, err := fmt.Sscanf(l, `{"c%1s":%d}`, &prefix, &n); err != nil {
			t.Fatalf("mangled line %q: %v", l, err)
		}
		if n != next[prefix] {
			t.Fatalf("client %s: line %d after %d", prefix, n, next[prefix]-1)
		}
		next[prefix]++
	}
	if len(got) != clients*perClient {
		t.Fatalf("got %d lines, want %d", len(got), clients*perClient)
	}
	if srv.Connected() != clients || srv.Connections() != clients {
		t.Fatalf("connected %d connections %d, want %d", srv.Connected(), srv.Connections(), clients)
	}
}

func TestSocketLineSplitOverWrites(t *testing.T) {
	srv := serve(t, sockPath(t), 0)
	c := dial(t, srv.Path)
	for _, part := range []string{`{"event_type":`, `"flow","a"`, ":1}\n{\"b\"", ":2}\n"} {
		send(t, c, part)
		time.Sleep(5 * time.Millisecond) // let the reader see each part on its own
	}
	equalLines(t, srv.sink.waitLines(t, 2), []string{`{"event_type":"flow","a":1}`, `{"b":2}`})
}

func TestSocketDisconnectMidLine(t *testing.T) {
	srv := serve(t, sockPath(t), 0)
	c := dial(t, srv.Path)
	send(t, c, "{\"a\":1}\n{\"cut\":")
	c.Close()
	rejects := srv.sink.waitRejects(t, 1)
	if !strings.Contains(rejects[0], "cut off") {
		t.Fatalf("reject reason %q", rejects[0])
	}
	// The next connection starts clean: no rest of the cut line in front.
	c2 := dial(t, srv.Path)
	send(t, c2, "{\"b\":2}\n")
	equalLines(t, srv.sink.waitLines(t, 2), []string{`{"a":1}`, `{"b":2}`})
	if _, rejects := srv.sink.got(); len(rejects) != 1 {
		t.Fatalf("rejects %q, want exactly the cut-off line", rejects)
	}
}

func TestSocketTooLongLine(t *testing.T) {
	const max = 64
	exact := `{"x":"` + strings.Repeat("b", max-8) + `"}`
	tests := []struct {
		name string
		long string
	}{
		{"just over", `{"x":"` + strings.Repeat("a", max-7) + `"}`},
		{"many times the buffer", `{"x":"` + strings.Repeat("a", 50*max) + `"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := serve(t, sockPath(t), max)
			c := dial(t, srv.Path)
			send(t, c, "{\"a\":1}\n"+tt.long[:len(tt.long)/2])
			send(t, c, tt.long[len(tt.long)/2:]+"\n"+exact+"\n{\"a\":2}\n")
			equalLines(t, srv.sink.waitLines(t, 3), []string{`{"a":1}`, exact, `{"a":2}`})
			_, rejects := srv.sink.got()
			if len(rejects) != 1 || !strings.Contains(rejects[0], "too long") {
				t.Fatalf("rejects %q, want one too long line", rejects)
			}
		})
	}
}

func TestSocketOfferRefusedKeepsReading(t *testing.T) {
	srv := serve(t, sockPath(t), 0)
	srv.sink.mu.Lock()
	srv.sink.refuse = true
	srv.sink.mu.Unlock()
	c := dial(t, srv.Path)
	send(t, c, joinLines(numbered("dropped", 0, 100)))
	// A full queue must not stall the connection: once there is room again
	// the lines that follow arrive.
	srv.sink.mu.Lock()
	srv.sink.refuse = false
	srv.sink.mu.Unlock()
	send(t, c, "{\"after\":1}\n")
	waitFor(t, "the line after the refused ones", func() bool {
		l, _ := srv.sink.got()
		return len(l) > 0 && l[len(l)-1] == `{"after":1}`
	})
}

func TestSocketServeStopsWithClientsConnected(t *testing.T) {
	path := sockPath(t)
	srv := serve(t, path, 0)
	c1, c2 := dial(t, path), dial(t, path)
	send(t, c1, "{\"a\":1}\n")
	send(t, c2, "{\"half\":") // a reader blocked mid-line
	srv.sink.waitLines(t, 1)
	waitFor(t, "two clients", func() bool { return srv.Connected() == 2 })

	srv.stop(t)
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		t.Fatalf("socket file left after Serve returned: %v", err)
	}
	if n := srv.Connected(); n != 0 {
		t.Fatalf("Connected() = %d after Serve returned", n)
	}
	// The clients see the connection closed.
	c1.SetReadDeadline(time.Now().Add(waitTimeout))
	if _, err := c1.Read(make([]byte, 1)); err == nil {
		t.Fatal("client connection still open")
	}
	if _, err := net.Dial("unix", path); err == nil {
		t.Fatal("still accepting connections")
	}
}

func TestSocketServeCancelledBeforeAccept(t *testing.T) {
	path := sockPath(t)
	s := &eveinput.Socket{Path: path, Sink: &fakeSink{}, Logger: discardLogger()}
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Serve(ctx); err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		t.Fatalf("socket file left: %v", err)
	}
	// The path can be listened on again (a restart).
	serve(t, path, 0)
}

func TestSocketListenLeavesNothingElse(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		path string
	}{
		{"short path", filepath.Join(dir, "eve.sock")},
		// No room for the private directory Listen binds in first.
		{"long path", filepath.Join(dir, strings.Repeat("d", 100-len(dir)-10), "eve.sock")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if len(tt.path) > 107 {
				t.Skipf("temp dir too long for the test: %s", tt.path)
			}
			srv := serve(t, tt.path, 0)
			entries, err := os.ReadDir(filepath.Dir(tt.path))
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 1 || entries[0].Name() != "eve.sock" {
				var names []string
				for _, e := range entries {
					names = append(names, e.Name())
				}
				t.Fatalf("socket directory holds %q", names)
			}
			if fi, err := os.Lstat(tt.path); err != nil || fi.Mode().Perm()&0o007 != 0 {
				t.Fatalf("socket %v %v", fi.Mode(), err)
			}
			c := dial(t, tt.path)
			send(t, c, "{\"a\":1}\n")
			equalLines(t, srv.sink.waitLines(t, 1), []string{`{"a":1}`})
		})
	}
}

func TestSocketServeWithoutListen(t *testing.T) {
	s := &eveinput.Socket{Path: sockPath(t), Sink: &fakeSink{}}
	if err := s.Serve(context.Background()); err == nil {
		t.Fatal("Serve without Listen returned no error")
	}
}
