package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/pakon/pakon/src/cli"
	"github.com/pakon/pakon/src/config"
	"github.com/pakon/pakon/src/store"
)

// ClearCommand deletes stored flows: everything, one device's, or those
// older than a date, from the live database, the flash journal and the
// archive. It replaces PaKon's stop/rm/start procedure and works while the
// daemon runs: both write through SQLite, the journal lock orders it
// against the daemon's commits, and the daemon tolerates deleted rows (a
// flow still in progress is stored again when it ends). The daemon's
// memory (DNS answers, open flows) is not cleared; it ages out.
type ClearCommand struct {
	stdout, stderr io.Writer
	now            func() time.Time
}

// Run parses the options and clears.
func (c *ClearCommand) Run(ctx context.Context, args []string) error {
	fs := newFlagSet("clear", c.stderr)
	cfgPath := fs.String("c", "/etc/config/pakon", "UCI config `file`")
	var mac, before string
	for _, n := range []string{"m", "mac"} {
		fs.StringVar(&mac, n, "", "clear only this device (`MAC`)")
	}
	fs.StringVar(&before, "before", "", "clear only flows that ended before `TIME` (dd-mm-yyyy[Thh:mm:ss], -N[mhdw], @EPOCH)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	now := time.Now
	if c.now != nil {
		now = c.now
	}
	var f store.ClearFilter
	if mac != "" {
		m, err := config.NormalizeMAC(mac)
		if err != nil {
			return usagef("-m: invalid MAC address %q", mac)
		}
		f.MAC = m
	}
	if before != "" {
		t, err := cli.ParseTime(before, now(), time.Local)
		if err != nil {
			return usagef("--before: %v", err)
		}
		f.Before = t
	}
	cfg, _, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	db, err := store.Open(ctx, cfg.LiveDB, store.Options{ArchivePath: cfg.ArchivePath})
	if err != nil {
		return err
	}
	defer db.Close()
	st, err := db.Clear(ctx, f)
	if err != nil && !errors.Is(err, store.ErrNoArchive) {
		return err
	}
	what := "all flows"
	if f.MAC != "" {
		what = "flows of " + f.MAC
	}
	if !f.Before.IsZero() {
		what += " that ended before " + f.Before.Format(time.RFC3339)
	}
	_, err = fmt.Fprintf(c.stdout, "cleared %s: %d live rows, %d archived rows, %d alert rows\n", what, st.LiveFlows, st.ArchivedRows, st.Alerts)
	return err
}
