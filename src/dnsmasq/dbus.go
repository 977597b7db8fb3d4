package dnsmasq

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/godbus/dbus/v5"
)

// DBusName is dnsmasq's D-Bus name with --enable-dbus. A name given as
// --enable-dbus=NAME replaces it, also as the interface of the signals.
const DBusName = "uk.org.thekelleys.dnsmasq"

// dbusPath is the object path dnsmasq sends its signals from, whatever
// its name.
const dbusPath dbus.ObjectPath = "/uk/org/thekelleys/dnsmasq"

// The lease signals (dnsmasq's dbus.c emit_dbus_signal), each with the
// string arguments address, hardware address and host name ("" when
// none). Updated comes with every renewal, not only with a new name.
const (
	signalAdded   = "DhcpLeaseAdded"
	signalUpdated = "DhcpLeaseUpdated"
	signalDeleted = "DhcpLeaseDeleted"
)

// Defaults for DBusOptions.
const (
	DefaultDBusReconnectMin = 500 * time.Millisecond
	DefaultDBusReconnectMax = 30 * time.Second
)

// DBusOptions configure a DBus watcher.
type DBusOptions struct {
	// Address is the bus to connect to, as D-Bus writes addresses
	// ("unix:path=/run/dbus/system_bus_socket"). Empty means the system
	// bus: DBUS_SYSTEM_BUS_ADDRESS, else /var/run/dbus/system_bus_socket.
	Address string
	// Name is dnsmasq's D-Bus name (--enable-dbus=NAME); empty means
	// DBusName.
	Name string
	// Handler receives the events; required.
	Handler Handler
	// Logger receives connection losses and reconnections; nil logs
	// nothing.
	Logger *slog.Logger
	// ReconnectMin and ReconnectMax bound the exponential backoff between
	// connection attempts while the bus is away. A short minimum notices a
	// restarted bus sooner; each attempt costs a connect. Zero means the
	// defaults.
	ReconnectMin, ReconnectMax time.Duration
}

// DBus follows dnsmasq's lease signals on D-Bus. It connects in the
// background and connects again whenever the bus goes away, so dnsmasq
// and the bus may start and restart in any order; signals sent while it
// is disconnected are lost (the lease file still has those leases).
// Lifecycle: NewDBus → Open → Close.
type DBus struct {
	opts DBusOptions
	log  *slog.Logger

	mu        sync.Mutex
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	opened    bool
	connected atomic.Bool
}

// NewDBus returns a watcher with defaults applied. It does not connect.
func NewDBus(opts DBusOptions) *DBus {
	if opts.Name == "" {
		opts.Name = DBusName
	}
	if opts.ReconnectMin <= 0 {
		opts.ReconnectMin = DefaultDBusReconnectMin
	}
	if opts.ReconnectMax < opts.ReconnectMin {
		opts.ReconnectMax = max(DefaultDBusReconnectMax, opts.ReconnectMin)
	}
	return &DBus{opts: opts, log: componentLogger(opts.Logger, "dnsmasq")}
}

// Open starts the goroutine that connects and hands on signals. It does
// not wait for the bus: a bus that is not there yet is not an error.
func (d *DBus) Open() error {
	if d.opts.Handler == nil {
		return errors.New("dnsmasq dbus watcher: need a handler")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.opened {
		return errors.New("dnsmasq dbus watcher: already opened")
	}
	d.opened = true
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		d.run(ctx)
	}()
	return nil
}

// Connected reports whether the watcher is on the bus with its match
// rule in place, so that dnsmasq's signals reach it.
func (d *DBus) Connected() bool { return d.connected.Load() }

// Close disconnects and waits for the goroutine until ctx expires. No
// event is handed on after Close returns.
func (d *DBus) Close(ctx context.Context) error {
	d.mu.Lock()
	cancel := d.cancel
	d.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	done := make(chan struct{})
	go func() {
		d.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("close dnsmasq dbus watcher: %w", ctx.Err())
	}
}

// run connects, follows the signals until the connection ends, and
// starts over after a pause until ctx is cancelled.
func (d *DBus) run(ctx context.Context) {
	delay := d.opts.ReconnectMin
	failures := 0
	for {
		connected, err := d.session(ctx)
		if ctx.Err() != nil {
			return
		}
		if connected {
			delay, failures = d.opts.ReconnectMin, 0
			d.log.Warn("lost the D-Bus connection; reconnecting", "err", err)
		} else {
			failures++
			// Say it once; a bus that never comes is no news after that.
			level := slog.LevelDebug
			if failures == 1 {
				level = slog.LevelWarn
			}
			d.log.Log(ctx, level, "cannot follow dnsmasq on D-Bus; retrying", "err", err, "retry_s", delay.Seconds())
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		delay = min(2*delay, d.opts.ReconnectMax)
	}
}

// session runs one connection. connected says whether it got as far as
// the match rule, which resets the backoff.
func (d *DBus) session(ctx context.Context) (connected bool, err error) {
	opts := []dbus.ConnOption{
		dbus.WithContext(ctx), // closes the connection when ctx ends
		dbus.WithSignalHandler(dbus.NewSequentialSignalHandler()),
	}
	var conn *dbus.Conn
	if d.opts.Address != "" {
		conn, err = dbus.Connect(d.opts.Address, opts...)
	} else {
		conn, err = dbus.ConnectSystemBus(opts...)
	}
	if err != nil {
		return false, fmt.Errorf("connect: %w", err)
	}
	defer conn.Close()
	// Closed by the connection when it ends.
	ch := make(chan *dbus.Signal, 64)
	conn.Signal(ch)
	if err := conn.AddMatchSignalContext(ctx,
		dbus.WithMatchObjectPath(dbusPath),
		dbus.WithMatchInterface(d.opts.Name),
	); err != nil {
		return false, fmt.Errorf("add match rule: %w", err)
	}
	d.connected.Store(true)
	defer d.connected.Store(false)
	d.log.Info("following dnsmasq on D-Bus", "name", d.opts.Name)
	for sig := range ch {
		if ctx.Err() != nil {
			break
		}
		if e, ok := d.event(sig); ok {
			d.log.Debug("lease", "event", e.Kind.String(), "mac", e.MAC, "ip", e.IP, "name", e.Hostname)
			d.opts.Handler(e)
		}
	}
	if ctx.Err() != nil {
		return true, ctx.Err()
	}
	return true, errors.New("connection closed")
}

// event converts a lease signal; other signals (dnsmasq's Up, the bus's
// NameAcquired) give ok false.
func (d *DBus) event(sig *dbus.Signal) (e Event, ok bool) {
	if sig.Path != dbusPath {
		return e, false
	}
	switch sig.Name {
	case d.opts.Name + "." + signalAdded, d.opts.Name + "." + signalUpdated:
		e.Kind = Granted
	case d.opts.Name + "." + signalDeleted:
		e.Kind = Released
	default:
		return e, false
	}
	if len(sig.Body) != 3 {
		return e, false
	}
	var s [3]string
	for i, v := range sig.Body {
		if s[i], ok = v.(string); !ok {
			return e, false
		}
	}
	e.IP, e.MAC, e.Hostname = parseIP(s[0]), parseMAC(s[1]), s[2]
	return e, true
}
