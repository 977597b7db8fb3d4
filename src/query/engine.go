package query

import (
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/pakon/pakon/src/lists"
	"github.com/pakon/pakon/src/store"
)

// ComponentKey is the slog attribute naming the component that logs.
const ComponentKey = "component"

// Names gives device names from the configured sources; *leases.Names
// satisfies it. Host names seen in DHCP traffic come from the store's
// devices table as well, below every source of Names.
type Names interface {
	// Name returns the name of the device with MAC address mac and
	// where it came from ("user", "dhcp-config", "lease", "dhcp").
	Name(mac string) (name, source string, ok bool)
	// MACsForName returns the MAC addresses any source knows by name,
	// compared without case.
	MACsForName(name string) []string
}

// refresher is a Names whose files can change; the engine refreshes it
// before each query, so edits show without a restart.
type refresher interface {
	Refresh() error
}

// Options configure an Engine.
type Options struct {
	// Lists are the domain lists; nil applies none (every name shown
	// as observed, nothing ignored). SetLists replaces them later.
	Lists *lists.Lists
	// Names names devices; nil leaves only the host names seen in DHCP
	// traffic. If it has a Refresh() error method, every query calls
	// it first (give it a MinCheckInterval to bound the cost).
	Names Names
	// Logger receives Refresh errors; nil uses slog.Default.
	Logger *slog.Logger
	// Now is the clock for defaults such as a histogram's end; nil is
	// time.Now.
	Now func() time.Time
}

// Engine runs queries over one store. It is safe for concurrent use. A
// query may decode archived days on goroutines of its own (an aggregate
// with two cores, a page with three), all ended before it returns.
type Engine struct {
	db    *store.DB
	lists atomic.Pointer[lists.Lists]
	names Names
	log   *slog.Logger
	now   func() time.Time
}

// New returns an engine reading db.
func New(db *store.DB, opts Options) *Engine {
	e := &Engine{db: db, names: opts.Names, log: opts.Logger, now: opts.Now}
	if e.log == nil {
		e.log = slog.Default()
	}
	e.log = e.log.With(ComponentKey, "query")
	if e.now == nil {
		e.now = time.Now
	}
	e.lists.Store(opts.Lists)
	return e
}

// SetLists makes later queries use l; queries running keep the lists
// they started with.
func (e *Engine) SetLists(l *lists.Lists) { e.lists.Store(l) }

// Lists returns the domain lists in use.
func (e *Engine) Lists() *lists.Lists { return e.lists.Load() }

// refreshNames lets a file-backed Names notice changed files.
func (e *Engine) refreshNames() {
	if r, ok := e.names.(refresher); ok {
		if err := r.Refresh(); err != nil {
			e.log.Warn("refresh device names", "err", err)
		}
	}
}
