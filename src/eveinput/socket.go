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
	"time"
)

// Socket is a unix stream socket server that Suricata's eve-log output
// (filetype: unix_stream) connects to as a client. Suricata reconnects after
// a restart; each connection is read until it closes.
type Socket struct {
	Path    string
	MaxLine int
	Sink    Sink
	Logger  *slog.Logger

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
		if c, err := net.DialTimeout("unix", s.Path, time.Second); err == nil {
			c.Close()
			return fmt.Errorf("listen on %s: another process is listening there", s.Path)
		}
		if err := os.Remove(s.Path); err != nil {
			return fmt.Errorf("remove stale socket %s: %w", s.Path, err)
		}
		s.Logger.Info("removed stale socket", "path", s.Path)
	}
	ln, err := net.Listen("unix", s.Path)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.Path, err)
	}
	// Suricata may run as another user in the same group; nobody else may
	// inject events.
	if err := os.Chmod(s.Path, 0o660); err != nil {
		ln.Close()
		return fmt.Errorf("listen on %s: %w", s.Path, err)
	}
	s.ln = ln
	s.conns = make(map[net.Conn]struct{})
	return nil
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
// every connection and waits for their readers.
func (s *Socket) Serve(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() {
		s.ln.Close()
		s.mu.Lock()
		for c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
	})
	defer stop()
	defer s.wg.Wait()
	defer os.Remove(s.Path)
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
			time.Sleep(100 * time.Millisecond)
			continue
		}
		s.mu.Lock()
		if ctx.Err() != nil {
			s.mu.Unlock()
			c.Close()
			return nil
		}
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.connected.Add(1)
		s.connections.Add(1)
		s.lastConnect.Store(time.Now().UnixNano())
		s.Logger.Info("EVE client connected", "path", s.Path)
		s.wg.Add(1)
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
