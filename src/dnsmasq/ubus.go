package dnsmasq

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pakon/pakon/src/ubus"
)

// UbusObject is the ubus object of OpenWrt's first dnsmasq instance
// (--enable-ubus=dnsmasq); further instances register UbusObject + "." +
// their section name.
const UbusObject = "dnsmasq"

// The notifications dnsmasq sends its ubus subscribers about leases
// (src/rfc2131.c log_packet, dnsmasq 2.80 and later), with the string
// fields "mac", "ip", "name" and "interface", each left out when unknown.
// dnsmasq sends them only while it logs DHCP: OpenWrt's dhcp option
// quietdhcp (--quiet-dhcp) silences them too.
const (
	notifyAck     = "dhcp.ack"
	notifyRelease = "dhcp.release"
)

// objectAddEvent is the event ubusd sends for every new object, with
// {"id": int32, "path": string}.
const objectAddEvent = "ubus.object.add"

// subscribeTimeout bounds subscribing to an instance that appeared.
const subscribeTimeout = 10 * time.Second

// Ubus follows the lease notifications of every dnsmasq instance on
// ubus: "dnsmasq" and "dnsmasq.*", those present at Open and those that
// appear later. The ubus client reconnects and subscribes again by
// itself, also when dnsmasq restarts. Lifecycle: NewUbus → Open → Close.
type Ubus struct {
	c   *ubus.Client
	fn  Handler
	log *slog.Logger

	// deliver is held while fn runs, so that Close can wait for it.
	deliver sync.Mutex

	mu       sync.Mutex
	ctx      context.Context // for subscriptions made from callbacks
	cancel   context.CancelFunc
	subs     map[string]*ubus.Subscription
	listener *ubus.Listener
	opened   bool
	closed   bool
}

// NewUbus returns a watcher that hands the events of dnsmasq's ubus
// objects to fn. c is the daemon's ubus client, opened before or after
// the watcher; log may be nil.
func NewUbus(c *ubus.Client, fn Handler, log *slog.Logger) *Ubus {
	return &Ubus{c: c, fn: fn, log: componentLogger(log, "dnsmasq"), subs: map[string]*ubus.Subscription{}}
}

// Open subscribes to UbusObject, whether or not it exists yet, and to the
// further instances ubusd lists now or announces later. It fails only
// when ubusd refuses a registration; call Close then.
func (u *Ubus) Open(ctx context.Context) error {
	if u.c == nil || u.fn == nil {
		return errors.New("dnsmasq ubus watcher: need a client and a handler")
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.opened || u.closed {
		return errors.New("dnsmasq ubus watcher: already opened")
	}
	u.opened = true
	u.ctx, u.cancel = context.WithCancel(context.Background())
	l, err := u.c.Listen(ctx, objectAddEvent, u.objectAdded)
	if err != nil {
		return fmt.Errorf("watch for dnsmasq instances: %w", err)
	}
	u.listener = l
	if err := u.subscribeLocked(ctx, UbusObject); err != nil {
		return err
	}
	// Instances already there announce nothing; ask for them. Without a
	// connection now, they are found when they next start.
	objs, err := u.c.Lookup(ctx, UbusObject+".*")
	if err != nil && !errors.Is(err, &ubus.Error{Status: ubus.StatusNotFound}) && !errors.Is(err, ubus.ErrDisconnected) {
		return fmt.Errorf("look up dnsmasq instances: %w", err)
	}
	for _, o := range objs {
		if err := u.subscribeLocked(ctx, o.Path); err != nil {
			return err
		}
	}
	return nil
}

// Objects returns the paths followed, sorted.
func (u *Ubus) Objects() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	out := make([]string, 0, len(u.subs))
	for p := range u.subs {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// Subscribed reports whether the subscription to path is active on ubusd
// now.
func (u *Ubus) Subscribed(path string) bool {
	u.mu.Lock()
	s := u.subs[path]
	u.mu.Unlock()
	if s == nil {
		return false
	}
	ok, _ := s.Subscribed()
	return ok
}

// Close ends the subscriptions and the listener; the ubus client stays
// open. No event is handed on after Close returns.
func (u *Ubus) Close(ctx context.Context) error {
	u.mu.Lock()
	if u.closed {
		u.mu.Unlock()
		return nil
	}
	u.closed = true
	if u.cancel != nil {
		u.cancel()
	}
	subs, l := u.subs, u.listener
	u.subs, u.listener = map[string]*ubus.Subscription{}, nil
	u.mu.Unlock()
	u.deliver.Lock() // wait for a handler that is running now
	u.deliver.Unlock()
	var errs []error
	if l != nil {
		if err := l.Close(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	for _, s := range subs {
		if err := s.Close(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close dnsmasq ubus watcher: %w", err)
	}
	return nil
}

// isInstance reports whether path names a dnsmasq instance's object.
func isInstance(path string) bool {
	return path == UbusObject || (strings.HasPrefix(path, UbusObject+".") && len(path) > len(UbusObject)+1)
}

// subscribeLocked follows path unless it is followed already; mu is held.
func (u *Ubus) subscribeLocked(ctx context.Context, path string) error {
	if _, ok := u.subs[path]; ok || !isInstance(path) {
		return nil
	}
	s, err := u.c.Subscribe(ctx, path, func(typ string, data ubus.Table) { u.notified(path, typ, data) })
	if err != nil {
		return fmt.Errorf("subscribe to %s: %w", path, err)
	}
	u.subs[path] = s
	u.log.Debug("following dnsmasq", "object", path)
	return nil
}

// objectAdded runs in the ubus client's dispatcher for every new object
// and follows new dnsmasq instances. UbusObject itself is followed from
// Open on; the client subscribes when it appears.
func (u *Ubus) objectAdded(_ string, data ubus.Table) {
	v, _ := data.Get("path")
	path, ok := v.(ubus.String)
	if !ok || !isInstance(string(path)) {
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.closed {
		return
	}
	ctx, cancel := context.WithTimeout(u.ctx, subscribeTimeout)
	defer cancel()
	if err := u.subscribeLocked(ctx, string(path)); err != nil {
		u.log.Warn("follow new dnsmasq instance", "object", string(path), "err", err)
	}
}

// notified runs in the ubus client's dispatcher for every notification
// of a followed instance.
func (u *Ubus) notified(path, typ string, data ubus.Table) {
	var kind Kind
	switch typ {
	case notifyAck:
		kind = Granted
	case notifyRelease:
		kind = Released
	default:
		return
	}
	str := func(name string) string {
		v, _ := data.Get(name)
		s, _ := v.(ubus.String)
		return string(s)
	}
	e := Event{
		Kind:      kind,
		MAC:       parseMAC(str("mac")),
		IP:        parseIP(str("ip")),
		Hostname:  str("name"),
		Interface: str("interface"),
	}
	u.deliver.Lock()
	defer u.deliver.Unlock()
	u.mu.Lock()
	closed := u.closed
	u.mu.Unlock()
	if closed {
		return
	}
	u.log.Debug("lease", "object", path, "event", kind.String(), "mac", e.MAC, "ip", e.IP, "name", e.Hostname)
	u.fn(e)
}
