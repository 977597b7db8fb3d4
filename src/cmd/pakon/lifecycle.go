package main

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"syscall"
	"time"

	"github.com/mattn/go-sqlite3"

	"github.com/pakon/pakon/src/config"
	"github.com/pakon/pakon/src/flow"
	"github.com/pakon/pakon/src/ingest"
	"github.com/pakon/pakon/src/store"
)

// lifecycleStatus is the storage health the daemon reports in ubus
// status: a problem found at start (kept), and the last commit or
// maintenance failure (cleared once both succeed again).
type lifecycleStatus struct {
	mu      sync.Mutex
	startup string
	storage string
}

func (s *lifecycleStatus) set(msg string) {
	s.mu.Lock()
	s.startup = msg
	s.mu.Unlock()
}

func (s *lifecycleStatus) setStorage(msg string) {
	s.mu.Lock()
	s.storage = msg
	s.mu.Unlock()
}

// Errors returns the storage problems, none when all is well.
func (s *lifecycleStatus) Errors() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, e := range []string{s.startup, s.storage} {
		if e != "" {
			out = append(out, e)
		}
	}
	return out
}

// isFull tells whether err is the archive's file system running out of
// space, as the journal (ENOSPC, EDQUOT) or SQLite (SQLITE_FULL) says it.
func isFull(err error) bool {
	var se sqlite3.Error
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) ||
		(errors.As(err, &se) && se.Code == sqlite3.ErrFull)
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

	mu        sync.Mutex
	committed time.Time
	failing   bool // the last commit or maintenance failed
}

// lastCommit returns when flows last reached flash (or the snapshot was
// saved, without an archive).
func (lc *lifecycle) lastCommit() time.Time {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	return lc.committed
}

func (lc *lifecycle) archived() bool { return lc.cfg.ArchivePath != "" }

func (lc *lifecycle) policy() store.Policy {
	p := store.Policy{
		Keep:           lc.cfg.ArchiveKeep,
		LiveMaxRows:    int64(lc.cfg.LiveDBLimit),
		ArchiveMaxRows: int64(lc.cfg.ArchiveDBLimit),
		AlertKeep:      lc.cfg.Alerts.Keep,
		AlertMaxRows:   int64(lc.cfg.Alerts.Limit),
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
		if st.Flows+st.Devices+st.Damaged+st.Alerts > 0 {
			lc.log.Info("restored from the flash journal", "flows", st.Flows, "already_archived", st.Skipped,
				"devices", st.Devices, "alerts", st.Alerts, "damaged_chunks", st.Damaged)
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
		commitErr := lc.commit(ctx, func(take func(*flow.Correlator)) error { return lc.pipe.Sync(ctx, take) })
		if errors.Is(commitErr, errStopping) || ctx.Err() != nil {
			return // stopping: checkpoint commits what is left
		}
		if commitErr != nil {
			lc.fail("commit", commitErr)
		}
		if lc.maintain(ctx) && commitErr == nil {
			lc.recovered()
		}
	}
}

// checkpoint is the clean-stop flush: commit, snapshot and maintain. Run
// has returned, so the correlator is the caller's.
func (lc *lifecycle) checkpoint(ctx context.Context, c *flow.Correlator) error {
	err := lc.commit(ctx, func(take func(*flow.Correlator)) error { take(c); return nil })
	if err != nil {
		lc.fail("final commit", err)
	}
	lc.maintain(ctx)
	return err
}

// errStopping is commit's answer when the pipeline stopped before the
// commit could take its state.
var errStopping = errors.New("stopping")

// commit appends the flows completed so far to flash and then saves the
// correlator's snapshot. Only what must agree is taken while ingest
// waits (paused calls take at a quiet point of the pipeline): the
// correlator's state and the live database's pin, which fixes the flows
// this commit journals (store.PendingCommit). Reading, deflating and
// syncing them, and writing the snapshot, run while ingest goes on.
//
// The journal is synced before the snapshot is written, so a crash at
// any point leaves a journal at least as new as the snapshot: a flow the
// snapshot holds open was either still open at the pin or is in the
// journal of a later commit, never lost, and the journal holds each
// completed flow once per key, never counted twice.
func (lc *lifecycle) commit(ctx context.Context, paused func(take func(*flow.Correlator)) error) error {
	var pc *store.PendingCommit
	if lc.archived() {
		var err error
		if pc, err = lc.db.BeginCommit(ctx); err != nil {
			return err
		}
		defer pc.Close()
	}
	var state flow.State
	var pinErr error
	var taken, resumed time.Time
	err := paused(func(c *flow.Correlator) {
		taken = time.Now()
		defer func() { resumed = time.Now() }()
		state = c.Export()
		if pc != nil {
			pinErr = pc.Pin(ctx)
		}
	})
	if err != nil || taken.IsZero() {
		return errStopping
	}
	if pinErr != nil {
		return pinErr
	}
	if pc != nil {
		st, err := pc.Finish(ctx)
		if err != nil {
			return err
		}
		lc.log.Debug("committed to flash", "flows", st.Flows, "devices", st.Devices, "alerts", st.Alerts,
			"paused_s", resumed.Sub(taken).Seconds(), "duration_s", time.Since(taken).Seconds())
	}
	if err := ingest.SaveSnapshot(lc.snapshot, state); err != nil {
		return err
	}
	lc.mu.Lock()
	lc.committed = time.Now()
	lc.mu.Unlock()
	return nil
}

// maintain runs archive maintenance; it reports whether it succeeded.
func (lc *lifecycle) maintain(ctx context.Context) bool {
	if !lc.archived() {
		return true
	}
	start := time.Now()
	st, err := lc.db.Maintain(ctx, start, lc.policy())
	if err != nil {
		lc.fail("archive maintenance", err)
		return false
	}
	if st.ArchivedFlows+st.Aggregated+st.ExpiredDays+st.CappedDays+int(st.ExpiredAlerts) > 0 {
		lc.log.Info("archive maintained", "archived_flows", st.ArchivedFlows, "days_aggregated", st.Aggregated,
			"flows_dropped_small", st.DroppedFlows, "days_expired", st.ExpiredDays, "days_capped", st.CappedDays,
			"alerts_expired", st.ExpiredAlerts, "duration_s", time.Since(start).Seconds())
	}
	return true
}

// fail reports a failed storage step. A full archive file system is no
// loss yet: flows stay in the live database (RAM), uncommitted, and the
// next commit after space returns writes them all.
func (lc *lifecycle) fail(what string, err error) {
	msg := what + ": " + err.Error()
	if isFull(err) {
		msg = "archive storage full: flows are kept in RAM until space returns (" + msg + ")"
		lc.log.Error("archive storage full; flows are kept in RAM until space returns", "step", what, "err", err)
	} else {
		lc.log.Error(what, "err", err)
	}
	lc.mu.Lock()
	lc.failing = true
	lc.mu.Unlock()
	lc.status.setStorage(msg)
}

// recovered clears a storage failure once a commit and maintenance went
// through again.
func (lc *lifecycle) recovered() {
	lc.mu.Lock()
	was := lc.failing
	lc.failing = false
	lc.mu.Unlock()
	if was {
		lc.status.setStorage("")
		lc.log.Info("archive storage works again; flows kept in RAM are committed")
	}
}
