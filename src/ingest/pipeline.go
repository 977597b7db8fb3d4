// Package ingest runs pakon's pipeline: EVE lines in, decoded, correlated
// into flow records and written to the store in batches.
//
// Reading and processing are decoupled by a bounded queue. Live sources
// (Suricata's socket) use Offer, which never waits: Suricata drops events
// when its reader stalls, so a slow database must cost counted lines here,
// not a blocked socket. Offline sources (files, imports) use Put and wait.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pakon/pakon/src/eve"
	"github.com/pakon/pakon/src/flow"
	"github.com/pakon/pakon/src/store"
)

// Defaults for Options fields left zero.
const (
	DefaultQueueSize     = 8192
	DefaultBatchSize     = 4096
	DefaultFlushInterval = time.Second
)

// ComponentKey is the slog attribute naming the component that logs.
const ComponentKey = "component"

// Options tune a Pipeline.
type Options struct {
	// QueueSize is how many lines wait between reading and processing.
	// Larger absorbs longer database stalls at the cost of memory.
	QueueSize int
	// BatchSize is how many lines are processed at most before the changes
	// they caused are handed to the writer; a larger one means fewer, larger
	// transactions. The final flush at the end of Run writes everything
	// still held in one transaction, whatever its size.
	BatchSize int
	// FlushInterval is how often pending changes are written when batches
	// do not fill up; it bounds how stale queries can be.
	FlushInterval time.Duration
	// Flow configures correlation.
	Flow   flow.Options
	Logger *slog.Logger
}

// Stats are the pipeline's counters. Once Run has returned, LinesRead =
// Events + LinesDropped + LinesRejected + blank lines.
type Stats struct {
	LinesRead     uint64    // lines handed to the pipeline, including dropped and rejected ones
	LinesDropped  uint64    // lines dropped because the queue was full
	LinesRejected uint64    // lines that were not valid EVE
	Events        uint64    // events decoded
	Batches       uint64    // transactions committed
	Changes       uint64    // flow and device changes written
	WriteErrors   uint64    // batches that failed to write
	BusyRetries   uint64    // writes tried again because the database stayed locked
	ActiveWritten uint64    // rows written for flows in progress
	LastError     string    // last rejected line or write error
	LastEvent     time.Time // wall time events were last processed; zero before the first
	InternResets  uint64    // times the decoder's name table filled up and was emptied
	Flow          flow.Stats
}

// Pipeline is one ingest pipeline. Create it with New, feed it with Offer
// or Put from any goroutine, and run it with Run.
type Pipeline struct {
	opts  Options
	db    *store.DB
	corr  *flow.Correlator
	log   *slog.Logger
	lines chan []byte
	syncs chan func() // run in Run's goroutine with writes settled (snapshot.go)
	spare chan []byte // processed lines' buffers, for reuse

	closeOnce sync.Once

	read, dropped, rejected, events atomic.Uint64
	batches, changes, writeErrors   atomic.Uint64
	busyRetries                     atomic.Uint64
	activeWritten                   atomic.Uint64
	lastEvent                       atomic.Int64

	mu           sync.Mutex
	lastError    string
	flowStats    flow.Stats
	internResets uint64
	rejectLog    rateLimiter
}

// New returns a pipeline writing to db.
func New(db *store.DB, opts Options) *Pipeline {
	if opts.QueueSize <= 0 {
		opts.QueueSize = DefaultQueueSize
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = DefaultBatchSize
	}
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = DefaultFlushInterval
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Pipeline{
		opts:  opts,
		db:    db,
		corr:  flow.New(opts.Flow),
		log:   opts.Logger.With(ComponentKey, "ingest"),
		lines: make(chan []byte, opts.QueueSize),
		syncs: make(chan func()),
		spare: make(chan []byte, min(opts.QueueSize, maxSpareLines)),
	}
}

// Correlator exposes the correlator, for snapshots taken while Run is not
// running (before it starts or after it returned).
func (p *Pipeline) Correlator() *flow.Correlator { return p.corr }

// Offer queues a copy of line without waiting. It returns false, and counts
// the line as read and dropped, when the queue is full.
func (p *Pipeline) Offer(line []byte) bool {
	p.read.Add(1)
	select {
	case p.lines <- p.copyLine(line):
		return true
	default:
		p.dropped.Add(1)
		return false
	}
}

// Put queues a copy of line, waiting for room. It returns ctx's error,
// without queueing the line, when ctx is done.
func (p *Pipeline) Put(ctx context.Context, line []byte) error {
	// select picks at random among ready cases: without this check a done
	// ctx would still let lines in while there is room.
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case p.lines <- p.copyLine(line):
		p.read.Add(1)
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// maxPooledLine bounds the buffers kept for reuse; longer lines are rare
// and get buffers of their own. maxSpareLines bounds how many are kept:
// enough to cover a batch in flight, not a full queue's worth of memory.
const (
	maxPooledLine = 16 << 10
	maxSpareLines = 512
)

// copyLine copies line into a recycled buffer: at hundreds of thousands of
// lines a second, a fresh allocation per line is most of the garbage the
// pipeline makes.
func (p *Pipeline) copyLine(line []byte) []byte {
	select {
	case b := <-p.spare:
		if cap(b) >= len(line) {
			return append(b[:0], line...)
		}
	default:
	}
	return append(make([]byte, 0, max(len(line), 1024)), line...)
}

// recycle returns a processed line's buffer for reuse.
func (p *Pipeline) recycle(b []byte) {
	if cap(b) > maxPooledLine {
		return
	}
	select {
	case p.spare <- b:
	default:
	}
}

// Reject counts a line the reader could not hand over (too long, cut off
// by a disconnect), with the reason.
func (p *Pipeline) Reject(reason string) {
	p.read.Add(1)
	p.rejected.Add(1)
	p.noteReject(reason)
}

// CloseInput tells Run that no more lines will come: it processes what is
// queued, writes everything out and returns. Feeding after CloseInput panics.
func (p *Pipeline) CloseInput() { p.closeOnce.Do(func() { close(p.lines) }) }

// Stats returns the current counters.
func (p *Pipeline) Stats() Stats {
	s := Stats{
		LinesRead: p.read.Load(), LinesDropped: p.dropped.Load(), LinesRejected: p.rejected.Load(),
		Events: p.events.Load(), Batches: p.batches.Load(), Changes: p.changes.Load(),
		WriteErrors: p.writeErrors.Load(), ActiveWritten: p.activeWritten.Load(), BusyRetries: p.busyRetries.Load(),
	}
	if t := p.lastEvent.Load(); t != 0 {
		s.LastEvent = time.Unix(0, t)
	}
	p.mu.Lock()
	s.LastError, s.Flow, s.InternResets = p.lastError, p.flowStats, p.internResets
	p.mu.Unlock()
	return s
}

func (p *Pipeline) noteReject(reason string) {
	p.mu.Lock()
	p.lastError = reason
	allow, suppressed := p.rejectLog.allow(time.Now())
	p.mu.Unlock()
	if allow {
		p.log.Warn("rejected EVE line", "reason", reason, "suppressed", suppressed)
	}
}

// Run processes lines until CloseInput was called and the queue is empty,
// or ctx is cancelled (then it still processes the lines queued at that
// moment); either way it writes out everything it holds (open flows as
// active rows) before returning. A batch that fails to write is counted
// in WriteErrors and lost; Run goes on and returns the first such error
// at the end.
func (p *Pipeline) Run(ctx context.Context) error {
	batches := make(chan *store.Batch, 2)
	free := make(chan *store.Batch, 3)
	for range 3 {
		free <- &store.Batch{}
	}
	var writeErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for b := range batches {
			if err := p.write(b); err != nil && writeErr == nil {
				writeErr = err
			}
			b.Reset()
			free <- b
		}
	}()

	// The correlator copies what it keeps from an event before the next
	// one is decoded, so the decoder may reuse its objects.
	dec := eve.Decoder{Lean: true, Reuse: true}
	var ev eve.Event
	batch := <-free
	ticker := time.NewTicker(p.opts.FlushInterval)
	defer ticker.Stop()
	var seen uint64
	send := func(final bool) {
		if e := p.events.Load(); e != seen {
			seen = e
			p.lastEvent.Store(time.Now().UnixNano())
		}
		before := len(batch.Updates)
		batch.Updates = p.corr.Drain(batch.Updates, final)
		for _, u := range batch.Updates[before:] {
			if u.Record.Active && u.Op == flow.OpUpsert {
				p.activeWritten.Add(1)
			}
		}
		batch.Devices = append(batch.Devices, p.corr.TakeDevices()...)
		batch.Alerts = p.corr.DrainAlerts(batch.Alerts, final)
		p.mu.Lock()
		p.flowStats = p.corr.Stats()
		p.internResets = dec.InternResets
		p.mu.Unlock()
		if batch.Len() == 0 {
			return
		}
		batches <- batch
		batch = <-free
	}
	handle := func(line []byte) {
		if err := dec.Decode(line, &ev); err != nil {
			if errors.Is(err, eve.ErrEmpty) {
				return
			}
			p.rejected.Add(1)
			p.noteReject(fmt.Sprintf("%v in %s", err, excerpt(line)))
			return
		}
		p.events.Add(1)
		p.corr.Handle(&ev)
	}
	process := func(line []byte) {
		handle(line)
		p.recycle(line)
	}

	n := 0
loop:
	for {
		select {
		case line, ok := <-p.lines:
			if !ok {
				break loop
			}
			process(line)
			n++
			// Take what else is queued with plain receives, cheaper than
			// the select over every source a line each; the other cases
			// wait at most a batch.
		more:
			for n < p.opts.BatchSize {
				select {
				case line, ok := <-p.lines:
					if !ok {
						break loop
					}
					process(line)
					n++
				default:
					break more
				}
			}
			if n >= p.opts.BatchSize {
				n = 0
				send(false)
			}
		case <-ticker.C:
			n = 0
			send(false)
		case fn := <-p.syncs:
			n = 0
			send(false)
			settle(free, cap(free)-1)
			fn()
		case <-ctx.Done():
			// Take what is already queued, without waiting for more (and
			// without chasing a producer that keeps up).
			for range len(p.lines) {
				select {
				case line, ok := <-p.lines:
					if !ok {
						break loop
					}
					process(line)
				default:
					break loop
				}
			}
			break loop
		}
	}
	send(true)
	close(batches)
	wg.Wait()
	return writeErr
}

// busyRetry is how long write waits between tries when the database
// stays locked past SQLite's busy timeout.
const busyRetry = 200 * time.Millisecond

func (p *Pipeline) write(b *store.Batch) error {
	// The final flush runs after cancellation; it must still complete.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := p.db.Write(ctx, b)
	// A lock held longer than the busy timeout (a long archive move, pakon
	// clear) must not cost flows already correlated: try again while the
	// minute lasts. Meanwhile the queue fills and new lines are dropped,
	// counted, instead.
	for err != nil && store.IsBusy(err) && ctx.Err() == nil {
		p.busyRetries.Add(1)
		select {
		case <-ctx.Done():
		case <-time.After(busyRetry):
			err = p.db.Write(ctx, b)
		}
	}
	if err != nil {
		p.writeErrors.Add(1)
		p.mu.Lock()
		p.lastError = err.Error()
		p.mu.Unlock()
		p.log.Error("write batch", "changes", b.Len(), "err", err)
		return err
	}
	p.batches.Add(1)
	p.changes.Add(uint64(b.Len()))
	return nil
}

// excerpt shortens a line for a log message.
func excerpt(line []byte) string {
	const n = 120
	if len(line) <= n {
		return fmt.Sprintf("%q", line)
	}
	return fmt.Sprintf("%q… (%d bytes)", line[:n], len(line))
}

// Log rate limit for rejected lines: a burst, then one per interval.
const (
	logBurst    = 10
	logInterval = time.Minute
)

// rateLimiter lets the first logBurst log lines through, then one per
// logInterval, which reports how many were suppressed since the last one.
type rateLimiter struct {
	burst      int
	last       time.Time
	suppressed int
}

func (r *rateLimiter) allow(now time.Time) (bool, int) {
	if r.burst < logBurst {
		r.burst++
		r.last = now
		return true, 0
	}
	if now.Sub(r.last) >= logInterval {
		s := r.suppressed
		r.last, r.suppressed = now, 0
		return true, s
	}
	r.suppressed++
	return false, 0
}
