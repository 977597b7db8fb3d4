package eveinput

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Socket is a unix stream socket server that Suricata's eve-log output
// (filetype: unix_stream) connects to as a client. Suricata reconnects after
// a restart; each connection is read until it closes.
//
// Lines go to the Sink with Offer: a full queue costs counted lines rather
// than a stalled reader, which would hold up Suricata's writes.
type Socket struct {
	// Path is where the socket is created (mode 0660, its directory 0750
	// when Listen creates it).
	Path string
	// MaxLine is the longest line accepted; zero means DefaultMaxLine. Each
	// connection holds a read buffer of this size.
	MaxLine int
	// Sink receives the lines and counts the rejected ones.
	Sink Sink
	// Logger logs connections; nil means slog.Default().
	Logger *slog.Logger

	ln          net.Listener
	connected   atomic.Int32
	connections atomic.Uint64
	lastConnect atomic.Int64

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// Listen creates the socket, replacing a stale one left by a crash. It
// refuses to replace a socket another process still listens on, or a file
// that is not a socket.
func (s *Socket) Listen() error {
	if s.Logger == nil {
		s.Logger = slog.Default()
	}
	if err := os.MkdirAll(filepath.Dir(s.Path), 0o750); err != nil {
		return fmt.Errorf("listen on %s: %w", s.Path, err)
	}
	if st, err := os.Lstat(s.Path); err == nil {
		if st.Mode().Type() != fs.ModeSocket {
			return fmt.Errorf("listen on %s: exists and is not a socket", s.Path)
		}
		c, err := net.DialTimeout("unix", s.Path, time.Second)
		if err == nil {
			c.Close()
			return fmt.Errorf("listen on %s: another process is listening there", s.Path)
		}
		// Only a refused connection proves that nobody listens; a full
		// backlog (EAGAIN) or a permission error does not.
		if !errors.Is(err, syscall.ECONNREFUSED) {
			return fmt.Errorf("listen on %s: cannot tell whether the socket is in use: %w", s.Path, err)
		}
		if err := os.Remove(s.Path); err != nil {
			return fmt.Errorf("remove stale socket %s: %w", s.Path, err)
		}
		s.Logger.Info("removed stale socket", "path", s.Path)
	}
	ln, err := listenPrivate(s.Path)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.Path, err)
	}
	s.ln = ln
	s.conns = make(map[net.Conn]struct{})
	return nil
}

// maxSocketPath is the longest path a unix socket can be bound to (Linux's
// sun_path holds 108 bytes with the terminating NUL).
const maxSocketPath = 107

// listenPrivate listens on path with mode 0660 from the first moment:
// Suricata may run as another user in the same group, and nobody else may
// inject events. A chmod after bind would leave a window in which anyone
// could connect (and stay connected), so the socket is bound in a fresh
// private directory, given its mode there and hard-linked into place; a
// link, unlike a rename, fails instead of replacing a socket that appeared
// meanwhile. Paths too long for that detour get bind and chmod.
func listenPrivate(path string) (*net.UnixListener, error) {
	dir, err := os.MkdirTemp(filepath.Dir(path), ".pakon")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	tmp := filepath.Join(dir, "s")
	if len(tmp) > maxSocketPath {
		tmp = path
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmp, Net: "unix"})
	if err != nil {
		return nil, err
	}
	// Serve removes the socket at path; the temporary name goes with dir.
	ln.SetUnlinkOnClose(false)
	if err := os.Chmod(tmp, 0o660); err != nil {
		ln.Close()
		os.Remove(tmp)
		return nil, err
	}
	if tmp != path {
		if err := os.Link(tmp, path); err != nil {
			ln.Close()
			return nil, err
		}
	}
	return ln, nil
}

// Connected returns how many clients (Suricata instances) are connected.
func (s *Socket) Connected() int { return int(s.connected.Load()) }

// Connections returns how many connections were accepted so far.
func (s *Socket) Connections() uint64 { return s.connections.Load() }

// LastConnect returns when the last client connected (zero if never).
func (s *Socket) LastConnect() time.Time {
	if t := s.lastConnect.Load(); t != 0 {
		return time.Unix(0, t)
	}
	return time.Time{}
}

// Serve accepts connections until ctx is done, then closes the listener and
// every connection, waits for their readers and removes the socket file.
// Call it once, after Listen.
func (s *Socket) Serve(ctx context.Context) error {
	if s.ln == nil {
		return fmt.Errorf("serve %s: not listening", s.Path)
	}
	var closed bool
	closeAll := func() {
		s.mu.Lock()
		closed = true
		s.ln.Close()
		for c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
	}
	stop := context.AfterFunc(ctx, closeAll)
	defer func() {
		stop()
		// On any return, not only cancellation: no reader may outlive Serve.
		closeAll()
		s.wg.Wait()
		os.Remove(s.Path)
	}()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, net.ErrClosed) {
				return fmt.Errorf("accept on %s: %w", s.Path, err)
			}
			s.Logger.Warn("accept", "path", s.Path, "err", err)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		s.mu.Lock()
		if closed {
			s.mu.Unlock()
			c.Close()
			return nil
		}
		s.conns[c] = struct{}{}
		s.connected.Add(1)
		s.wg.Add(1)
		s.mu.Unlock()
		s.connections.Add(1)
		s.lastConnect.Store(time.Now().UnixNano())
		s.Logger.Info("EVE client connected", "path", s.Path)
		go func() {
			defer s.wg.Done()
			s.read(c)
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
			c.Close()
			s.connected.Add(-1)
			s.Logger.Info("EVE client disconnected", "path", s.Path)
		}()
	}
}

func (s *Socket) read(c net.Conn) {
	lr := newLineReader(c, s.MaxLine)
	for {
		line, err := lr.next()
		var tooLong errTooLong
		switch {
		case err == nil:
			s.Sink.Offer(line)
		case errors.As(err, &tooLong):
			s.Sink.Reject(tooLong.Error())
		case errors.Is(err, errNoNewline):
			// Suricata went away mid-line: the rest of that line is lost.
			s.Sink.Reject(fmt.Sprintf("line cut off by disconnect after %d bytes", len(line)))
			return
		default:
			return
		}
	}
}
