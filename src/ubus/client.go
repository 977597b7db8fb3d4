package ubus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultSocketPaths are tried in order when Options.Path is empty: the
// current OpenWrt location, then the one of older releases.
var DefaultSocketPaths = []string{"/var/run/ubus/ubus.sock", "/var/run/ubus.sock"}

// Defaults for Options.
const (
	DefaultConcurrency  = 4
	DefaultTimeout      = 30 * time.Second // the CLI's default -t
	DefaultReconnectMin = 100 * time.Millisecond
	DefaultReconnectMax = 5 * time.Second
)

// maxQueuedCalls is how many method calls may wait for a free handler slot
// before new ones are answered with StatusUnknownError at once.
const maxQueuedCalls = 64

// eventQueueLen is how many notifications and events may wait for their
// callbacks; beyond it they are dropped and logged, so a slow callback
// never stalls the socket.
const eventQueueLen = 1024

// logComponentKey is the slog attribute that names the logging component.
const logComponentKey = "component"

// Options configure a Client. The zero value works on OpenWrt.
type Options struct {
	// Path is the ubusd socket. Empty tries DefaultSocketPaths in order.
	Path string
	// Logger receives connection events and handler failures; nil logs
	// nothing.
	Logger *slog.Logger
	// Concurrency is how many method handlers run at once; more calls
	// wait in a short queue. Zero means DefaultConcurrency.
	Concurrency int
	// Timeout bounds Call, Lookup and the other requests when their
	// context has no deadline, and reading ubusd's HELLO. Zero means
	// DefaultTimeout.
	Timeout time.Duration
	// ReconnectMin and ReconnectMax bound the exponential backoff between
	// reconnection attempts after ubusd went away. A shorter minimum
	// re-registers sooner after a ubusd restart at the cost of more
	// attempts while it is down. Zero means the defaults.
	ReconnectMin, ReconnectMax time.Duration
}

// Client is a connection to ubusd that survives ubusd restarts: objects,
// subscriptions and event listeners are registered again on every new
// connection. Lifecycle: New → AddObject/Subscribe/Listen (before or after
// Open) → Open → Close.
type Client struct {
	opts Options
	log  *slog.Logger

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // read loops, manager, handlers, dispatcher

	// regMu serialises registration on a connection, so that re-
	// registration after a reconnect and concurrent AddObject or Subscribe
	// calls do not register anything twice. The read loop never takes it.
	regMu     sync.Mutex
	objects   []*Object
	subs      []*Subscription
	listeners []*Listener
	watch     *Listener // ubus.object.add, for subscriptions whose target is missing

	mu     sync.Mutex
	cn     *conn // nil while disconnected
	opened bool
	closed bool

	sem    chan struct{} // handler slots
	queued atomic.Int64  // method calls running or waiting for a slot
	events chan func()   // notification and event callbacks, in order
}

// New returns a Client with defaults applied. It does not connect.
func New(opts Options) *Client {
	if opts.Concurrency <= 0 {
		opts.Concurrency = DefaultConcurrency
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.ReconnectMin <= 0 {
		opts.ReconnectMin = DefaultReconnectMin
	}
	if opts.ReconnectMax < opts.ReconnectMin {
		opts.ReconnectMax = max(DefaultReconnectMax, opts.ReconnectMin)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Client{
		opts:   opts,
		log:    log.With(logComponentKey, "ubus"),
		sem:    make(chan struct{}, opts.Concurrency),
		events: make(chan func(), eventQueueLen),
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	return c
}

// Open connects to ubusd, registers everything added so far and starts
// the goroutines that answer calls and reconnect. It fails if ubusd cannot
// be reached now or refuses a registration (e.g. INVALID_ARGUMENT for an
// object name another client holds); it may then be called again. Later
// losses of the connection are repaired in the background.
func (c *Client) Open(ctx context.Context) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	if c.opened {
		c.mu.Unlock()
		return errors.New("ubus client already open")
	}
	c.opened = true
	// Open counts as a goroutine of the client until it returns, so that
	// a concurrent Close waits for it and every wg.Add below happens
	// while the count is above zero.
	c.wg.Add(1)
	c.mu.Unlock()
	defer c.wg.Done()

	cn, err := c.connect(ctx)
	if err != nil {
		c.mu.Lock()
		c.opened = false // Open may be tried again
		c.mu.Unlock()
		return err
	}
	c.wg.Add(2)
	go c.dispatchEvents()
	go c.manage(cn)
	return nil
}

// Close disconnects and waits for every goroutine of the client, including
// running method handlers (their context is cancelled), until ctx expires.
func (c *Client) Close(ctx context.Context) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	cn := c.cn
	c.cn = nil
	c.mu.Unlock()
	c.cancel()
	if cn != nil {
		cn.fail(ErrClosed)
	}
	done := make(chan struct{})
	go func() {
		c.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("close ubus client: %w", ctx.Err())
	}
}

// ID returns the client id ubusd gave the current connection, or 0 while
// disconnected.
func (c *Client) ID() uint32 {
	if cn := c.current(); cn != nil {
		return cn.id
	}
	return 0
}

func (c *Client) current() *conn {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cn
}

// currentConn returns the live connection or an error for callers.
func (c *Client) currentConn() (*conn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	if c.cn == nil {
		return nil, ErrDisconnected
	}
	return c.cn, nil
}

// withTimeout applies Options.Timeout to contexts without a deadline.
func (c *Client) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, c.opts.Timeout)
}

// connect dials ubusd and registers objects, listeners and subscriptions
// on the new connection before publishing it.
func (c *Client) connect(ctx context.Context) (*conn, error) {
	paths := DefaultSocketPaths
	if c.opts.Path != "" {
		paths = []string{c.opts.Path}
	}
	var (
		cn   *conn
		errs []error
	)
	for _, p := range paths {
		var err error
		cn, err = dialConn(ctx, c, p)
		if err == nil {
			break
		}
		errs = append(errs, err)
	}
	if cn == nil {
		return nil, fmt.Errorf("connect to ubusd: %w", errors.Join(errs...))
	}
	rctx, cancel := c.withTimeout(ctx)
	defer cancel()
	c.regMu.Lock()
	defer c.regMu.Unlock()
	if err := c.restore(rctx, cn); err != nil {
		cn.fail(err)
		return nil, fmt.Errorf("register on ubusd: %w", err)
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		cn.fail(ErrClosed)
		return nil, ErrClosed
	}
	c.cn = cn
	c.mu.Unlock()
	return cn, nil
}

// restore registers everything on a fresh connection; regMu is held.
func (c *Client) restore(ctx context.Context, cn *conn) error {
	c.watch = nil
	for _, o := range c.objects {
		if err := o.register(ctx, cn); err != nil {
			return fmt.Errorf("object %s: %w", o.Name, err)
		}
	}
	// A listener or subscription that ubusd refuses (an ACL, say) would be
	// refused again after any number of reconnects: log it and go on.
	// Lost connections and timeouts fail the attempt, which is retried.
	var refused *Error
	for _, l := range c.listeners {
		if err := l.register(ctx, cn); errors.As(err, &refused) {
			cn.log.Warn("ubusd refused a listener", "pattern", l.pattern, "err", err)
		} else if err != nil {
			return fmt.Errorf("listen %s: %w", l.pattern, err)
		}
	}
	for _, s := range c.subs {
		if err := s.register(ctx, cn); errors.As(err, &refused) {
			cn.log.Warn("ubusd refused a subscription", "path", s.path, "err", err)
		} else if err != nil {
			return fmt.Errorf("subscribe %s: %w", s.path, err)
		}
	}
	return nil
}

// manage waits for the connection to end and reconnects with backoff
// until Close.
func (c *Client) manage(cn *conn) {
	defer c.wg.Done()
	for {
		select {
		case <-cn.done:
		case <-c.ctx.Done():
			cn.fail(ErrClosed)
			<-cn.done
			return
		}
		c.mu.Lock()
		if c.cn == cn {
			c.cn = nil
		}
		c.mu.Unlock()
		if c.ctx.Err() != nil {
			return
		}
		c.log.Warn("lost connection to ubusd", "err", cn.Err())
		backoff := c.opts.ReconnectMin
		for {
			t := time.NewTimer(backoff)
			select {
			case <-t.C:
			case <-c.ctx.Done():
				t.Stop()
				return
			}
			next, err := c.connect(c.ctx)
			if err == nil {
				cn = next
				c.log.Info("reconnected to ubusd", "client_id", fmt.Sprintf("%08x", cn.id))
				break
			}
			if c.ctx.Err() != nil {
				return
			}
			c.log.Debug("reconnect to ubusd", "err", err, "retry_in_seconds", backoff.Seconds())
			backoff = min(2*backoff, c.opts.ReconnectMax)
		}
	}
}

// enqueue hands a callback to the ordered event dispatcher without
// blocking the read loop.
func (c *Client) enqueue(what string, fn func()) {
	select {
	case c.events <- fn:
	default:
		c.log.Warn("drop "+what+": callback queue full", "queue", eventQueueLen)
	}
}

func (c *Client) dispatchEvents() {
	defer c.wg.Done()
	for {
		select {
		case fn := <-c.events:
			fn()
		case <-c.ctx.Done():
			return
		}
	}
}
