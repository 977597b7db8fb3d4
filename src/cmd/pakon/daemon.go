package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"log/slog"

	"github.com/pakon/pakon/src/config"
	"github.com/pakon/pakon/src/eveinput"
	"github.com/pakon/pakon/src/flow"
	"github.com/pakon/pakon/src/ingest"
	"github.com/pakon/pakon/src/store"
)

// neighbourMaxAge is how stale the cached kernel neighbour table may get.
const neighbourMaxAge = 30 * time.Second

// DaemonCommand runs the monitor.
type DaemonCommand struct {
	stderr io.Writer
}

// Run reads EVE from Suricata's socket (or a followed file) into the live
// database until ctx is cancelled, then writes out everything it holds.
func (c *DaemonCommand) Run(ctx context.Context, args []string) error {
	fs := newFlagSet("daemon", c.stderr)
	cfgPath := fs.String("c", "/etc/config/pakon", "UCI config `file`")
	debug := fs.Bool("debug", false, "log debug messages")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	log := newLogger(c.stderr, *debug)
	cfg, err := loadConfig(*cfgPath, log)
	if err != nil {
		return err
	}
	status := &lifecycleStatus{}
	if cfg.ArchivePath != "" {
		// A damaged archive must not stop monitoring, and must not fail
		// every start again: it is moved aside and a fresh one begins.
		moved, problem := store.CheckArchive(ctx, cfg.ArchivePath, time.Now())
		if problem != nil {
			status.set(fmt.Sprintf("archive %s failed its integrity check (%v); moved to %s, starting a new one", cfg.ArchivePath, problem, moved))
			log.Error("archive damaged, moved aside", "path", cfg.ArchivePath, "moved_to", moved, "err", problem)
		}
	}
	db, err := store.Open(ctx, cfg.LiveDB, store.Options{ArchivePath: cfg.ArchivePath})
	if err != nil {
		return err
	}
	defer db.Close()
	pipe := newPipeline(db, cfg, log, true)
	lc := &lifecycle{db: db, cfg: cfg, log: log, status: status, pipe: pipe,
		snapshot: filepath.Join(cfg.StateDir, "snapshot.msgpack")}
	if err := lc.restore(ctx); err != nil {
		return err
	}

	source, err := newSource(cfg, pipe, log)
	if err != nil {
		return err
	}

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	// The pipeline outlives the source: once the source has stopped, it
	// drains the queue and writes everything out.
	pipeDone := make(chan error, 1)
	go func() { pipeDone <- pipe.Run(context.Background()) }()

	srcCtx, stopSource := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var srcErr error
	wg.Add(2)
	go func() {
		defer wg.Done()
		srcErr = source.run(srcCtx)
		stopSource()
	}()
	go func() {
		defer wg.Done()
		lc.run(srcCtx)
	}()
	log.Info("pakon running", "input", source.describe(), "db", cfg.LiveDB, "archive", cfg.ArchivePath,
		"commit_interval_s", cfg.CommitInterval.Seconds())
loop:
	for {
		select {
		case <-srcCtx.Done():
			break loop
		case <-hup:
			log.Info("SIGHUP: reopening inputs")
			source.reopen()
		}
	}
	wg.Wait()
	pipe.CloseInput()
	pipeErr := <-pipeDone
	// Run has returned: the correlator is ours. Clean stop: flush to flash.
	lcErr := lc.checkpoint(context.Background(), pipe.Correlator())
	s := pipe.Stats()
	log.Info("pakon stopped", "lines", s.LinesRead, "dropped", s.LinesDropped, "rejected", s.LinesRejected,
		"flows", s.Flow.Records)
	if srcErr != nil {
		return srcErr
	}
	if pipeErr != nil {
		return pipeErr
	}
	return lcErr
}

// source is where EVE lines come from.
type source struct {
	run      func(context.Context) error
	reopen   func()
	describe func() string
}

func newSource(cfg *config.Config, pipe *ingest.Pipeline, log *slog.Logger) (*source, error) {
	if cfg.EVEFile != "" {
		f := &eveinput.Follower{
			Path:       cfg.EVEFile,
			OffsetFile: filepath.Join(cfg.StateDir, "eve-offset.json"),
			Sink:       pipe,
			Logger:     log,
		}
		f.Init()
		return &source{run: f.Run, reopen: f.Reopen, describe: func() string { return "file " + cfg.EVEFile }}, nil
	}
	s := &eveinput.Socket{Path: cfg.EVESocket, Sink: pipe, Logger: log}
	if err := s.Listen(); err != nil {
		return nil, err
	}
	return &source{run: s.Serve, reopen: func() {}, describe: func() string { return fmt.Sprintf("socket %s", cfg.EVESocket) }}, nil
}

// lifecycleStatus is the storage health the daemon reports (logged now,
// ubus status later).
type lifecycleStatus struct {
	mu        sync.Mutex
	lastError string
}

func (s *lifecycleStatus) set(msg string) {
	s.mu.Lock()
	s.lastError = msg
	s.mu.Unlock()
}

// Error returns the last storage problem, "" when there was none.
func (s *lifecycleStatus) Error() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastError
}

// lifecycle runs the storage steps of the daemon: every commit_interval a
// snapshot of the correlator plus a commit of completed flows to flash
// (taken together, so they agree), then archive maintenance.
type lifecycle struct {
	db       *store.DB
	cfg      *config.Config
	log      *slog.Logger
	status   *lifecycleStatus
	pipe     *ingest.Pipeline
	snapshot string
}

func (lc *lifecycle) archived() bool { return lc.cfg.ArchivePath != "" }

func (lc *lifecycle) policy() store.Policy {
	p := store.Policy{
		Keep:           lc.cfg.ArchiveKeep,
		LiveMaxRows:    int64(lc.cfg.LiveDBLimit),
		ArchiveMaxRows: int64(lc.cfg.ArchiveDBLimit),
	}
	for _, r := range lc.cfg.ArchiveRules {
		p.Rules = append(p.Rules, store.Rule{UpTo: r.UpTo, Window: r.Window, SizeThreshold: r.SizeThreshold})
	}
	return p
}

// restore brings back what the previous run left: journaled flows (after a
// reboot emptied the live database), the correlator's snapshot, and the
// active rows that snapshot still owns.
func (lc *lifecycle) restore(ctx context.Context) error {
	if lc.archived() {
		st, err := lc.db.Restore(ctx)
		if err != nil {
			return err
		}
		if st.Flows+st.Devices+st.Damaged > 0 {
			lc.log.Info("restored from the flash journal", "flows", st.Flows, "already_archived", st.Skipped,
				"devices", st.Devices, "damaged_chunks", st.Damaged)
		}
	}
	state, err := ingest.LoadSnapshot(lc.snapshot)
	if err != nil {
		// A bad snapshot costs names of flows open at the restart, no more.
		lc.log.Warn("ignoring snapshot", "err", err)
		state = flow.State{}
	}
	active, err := lc.db.ActiveFlowIDs(ctx)
	if err != nil {
		return err
	}
	keep := make(map[uint64]bool, len(state.Open))
	for i := range state.Open {
		id := state.Open[i].Record.FlowID
		// The database, not the snapshot, knows whether the row exists:
		// it may have been written after the snapshot, or lost with the
		// tmpfs in a reboot.
		state.Open[i].Written = active[id]
		keep[id] = true
	}
	lc.pipe.Correlator().Import(state)
	n, err := lc.db.CloseStaleActiveExcept(ctx, keep)
	if err != nil {
		return err
	}
	lc.log.Info("restored state", "open_flows", len(state.Open), "dns_answers", len(state.DNS), "stale_active_closed", n)
	return nil
}

// run commits every commit_interval until ctx is done.
func (lc *lifecycle) run(ctx context.Context) {
	t := time.NewTicker(lc.cfg.CommitInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := lc.pipe.Sync(ctx, func(c *flow.Correlator) {
			if err := lc.commit(ctx, c); err != nil {
				lc.fail("commit", err)
			}
		})
		if err != nil {
			return // stopping
		}
		lc.maintain(ctx)
	}
}

// checkpoint is the clean-stop flush: commit, snapshot and maintain.
func (lc *lifecycle) checkpoint(ctx context.Context, c *flow.Correlator) error {
	err := lc.commit(ctx, c)
	if err != nil {
		lc.fail("final commit", err)
	}
	lc.maintain(ctx)
	return err
}

// commit appends completed flows to flash and saves the snapshot; it runs
// where nothing changes the correlator or the live database underneath.
func (lc *lifecycle) commit(ctx context.Context, c *flow.Correlator) error {
	state := c.Export()
	if lc.archived() {
		st, err := lc.db.Commit(ctx)
		if err != nil {
			return err
		}
		lc.log.Debug("committed to flash", "flows", st.Flows, "devices", st.Devices)
	}
	return ingest.SaveSnapshot(lc.snapshot, state)
}

func (lc *lifecycle) maintain(ctx context.Context) {
	if !lc.archived() {
		return
	}
	start := time.Now()
	st, err := lc.db.Maintain(ctx, start, lc.policy())
	if err != nil {
		lc.fail("archive maintenance", err)
		return
	}
	if st.ArchivedFlows+st.Aggregated+st.ExpiredDays+st.CappedDays > 0 {
		lc.log.Info("archive maintained", "archived_flows", st.ArchivedFlows, "days_aggregated", st.Aggregated,
			"flows_dropped_small", st.DroppedFlows, "days_expired", st.ExpiredDays, "days_capped", st.CappedDays,
			"duration_s", time.Since(start).Seconds())
	}
}

func (lc *lifecycle) fail(what string, err error) {
	lc.status.set(what + ": " + err.Error())
	lc.log.Error(what, "err", err)
}
