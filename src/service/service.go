// Package service tells systemd how the daemon is doing (sd_notify): when
// it is ready, what it is doing, when it reloads and stops, and that it is
// alive, with watchdog pings at half the unit's WatchdogSec. Without
// NOTIFY_SOCKET (OpenWrt's procd, a shell) every call does nothing.
package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// logComponentKey is the slog attribute that names the logging component.
const logComponentKey = "component"

// checkTimeoutFraction bounds a watchdog check to this part of the
// watchdog period, so that a hanging check cannot hide a hang elsewhere.
const checkTimeoutFraction = 4

// Options configure a Notifier.
type Options struct {
	// Logger receives failed watchdog checks and sd_notify errors; nil
	// logs nothing.
	Logger *slog.Logger
	// Check runs before every watchdog ping and must return within a
	// quarter of the watchdog period; an error skips the ping, so systemd
	// restarts the service when the checks keep failing for WatchdogSec.
	// Nil pings while the process runs, which catches only a process
	// that hangs as a whole.
	Check func(ctx context.Context) error
}

// Notifier sends state changes to systemd and keeps its watchdog fed.
// It reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID when created.
// Lifecycle: New → Open → Ready … Stopping → Close. Safe for concurrent
// use.
type Notifier struct {
	opts     Options
	log      *slog.Logger
	enabled  bool
	interval time.Duration // watchdog period (WATCHDOG_USEC); 0 when off

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// New reads the environment systemd set up. A malformed WATCHDOG_USEC
// turns the watchdog off and is logged.
func New(opts Options) *Notifier {
	n := &Notifier{opts: opts, log: slog.New(slog.DiscardHandler)}
	if opts.Logger != nil {
		n.log = opts.Logger.With(logComponentKey, "service")
	}
	n.enabled = notifySocket() != ""
	if !n.enabled {
		return n
	}
	d, err := daemon.SdWatchdogEnabled(false)
	if err != nil {
		n.log.Warn("watchdog off", "err", err)
	}
	n.interval = d
	return n
}

// Enabled reports whether systemd listens (NOTIFY_SOCKET is set).
func (n *Notifier) Enabled() bool { return n.enabled }

// WatchdogInterval returns the unit's watchdog period, or 0 when the
// watchdog is off for this process. Pings go out at half of it.
func (n *Notifier) WatchdogInterval() time.Duration { return n.interval }

// Open starts the watchdog goroutine when systemd asked for one. Call it
// early, before slow start-up work such as opening the database: the
// watchdog runs from the start of the service.
func (n *Notifier) Open() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.done != nil {
		return errors.New("service notifier: already opened")
	}
	n.done = make(chan struct{})
	if n.interval <= 0 {
		close(n.done)
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	go func() {
		defer close(n.done)
		n.watchdog(ctx)
	}()
	return nil
}

// Close stops the watchdog goroutine and waits for it until ctx expires.
// It sends nothing; call Stopping first.
func (n *Notifier) Close(ctx context.Context) error {
	n.mu.Lock()
	cancel, done := n.cancel, n.done
	n.mu.Unlock()
	if done == nil {
		return nil
	}
	if cancel != nil {
		cancel()
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("close service notifier: %w", ctx.Err())
	}
}

// Ready says start-up is done (READY=1) with a status line; send it once
// the EVE input listens and the database is open. After Reloading it
// ends the reload.
func (n *Notifier) Ready(status string) error {
	return n.notify(daemon.SdNotifyReady, status)
}

// Status sets the one-line status `systemctl status` shows.
func (n *Notifier) Status(status string) error {
	return n.notify("", status)
}

// Reloading says a reload started (RELOADING=1 with the monotonic time
// systemd 253 and later require); send Ready when it is done.
func (n *Notifier) Reloading(status string) error {
	return n.notify(daemon.SdNotifyReloading+"\nMONOTONIC_USEC="+strconv.FormatInt(monotonicUsec(), 10), status)
}

// Stopping says shutdown started (STOPPING=1), with what it is doing.
func (n *Notifier) Stopping(status string) error {
	return n.notify(daemon.SdNotifyStopping, status)
}

// notify sends state and STATUS=status (when not empty) in one datagram.
func (n *Notifier) notify(state, status string) error {
	if !n.enabled {
		return nil
	}
	var lines []string
	if state != "" {
		lines = append(lines, state)
	}
	if status != "" {
		// A status is one line.
		lines = append(lines, "STATUS="+strings.Join(strings.Fields(status), " "))
	}
	if len(lines) == 0 {
		return nil
	}
	msg := strings.Join(lines, "\n")
	if _, err := daemon.SdNotify(false, msg); err != nil {
		return fmt.Errorf("notify systemd %q: %w", firstLine(msg), err)
	}
	return nil
}

// watchdog pings at half the watchdog period while the check passes.
func (n *Notifier) watchdog(ctx context.Context) {
	t := time.NewTicker(n.interval / 2)
	defer t.Stop()
	failing := false
	for {
		err := n.check(ctx)
		if ctx.Err() != nil {
			return
		}
		switch {
		case err != nil:
			if !failing {
				n.log.Error("health check failed; not feeding the watchdog", "err", err)
			}
			failing = true
		default:
			if failing {
				n.log.Info("health check passes again")
			}
			failing = false
			if err := n.notify(daemon.SdNotifyWatchdog, ""); err != nil {
				n.log.Warn("watchdog ping", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (n *Notifier) check(ctx context.Context) error {
	if n.opts.Check == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, n.interval/checkTimeoutFraction)
	defer cancel()
	return n.opts.Check(ctx)
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
