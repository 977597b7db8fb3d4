package main

import (
	"context"
	"fmt"
	"io"

	"github.com/pakon/pakon/src/eveinput"
	"github.com/pakon/pakon/src/store"
)

// ImportCommand ingests whole EVE files.
type ImportCommand struct {
	stdout, stderr io.Writer
}

// Run reads every file, writes everything out and prints a summary.
func (c *ImportCommand) Run(ctx context.Context, args []string) error {
	fs := newFlagSet("import", c.stderr)
	cfgPath := fs.String("c", "/etc/config/pakon", "UCI config `file`")
	dbPath := fs.String("db", "", "database `file` (default: the config's live_db)")
	debug := fs.Bool("debug", false, "log debug messages")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usagef("no EVE file given (usage: pakon import [-c FILE] [-db FILE] EVE.json...)")
	}
	log := newLogger(c.stderr, *debug)
	cfg, err := loadConfig(*cfgPath, log)
	if err != nil {
		return err
	}
	if *dbPath != "" {
		cfg.LiveDB = *dbPath
	}
	db, err := store.Open(ctx, cfg.LiveDB, store.Options{})
	if err != nil {
		return err
	}
	defer db.Close()

	before, err := db.CountFlows(ctx)
	if err != nil {
		return err
	}
	pipe := newPipeline(db, cfg, log, false)
	done := make(chan error, 1)
	go func() { done <- pipe.Run(context.Background()) }()
	var readErr error
	for _, path := range fs.Args() {
		if _, err := eveinput.ReadFile(ctx, path, 0, pipe); err != nil {
			readErr = err
			break
		}
	}
	pipe.CloseInput()
	if err := <-done; err != nil {
		return err
	}
	if readErr != nil {
		return readErr
	}
	after, err := db.CountFlows(ctx)
	if err != nil {
		return err
	}
	s := pipe.Stats()
	_, err = fmt.Fprintf(c.stdout, "read %d lines: %d events, %d rejected; %d flows, %d of them new (%d still active), in %s\n",
		s.LinesRead, s.Events, s.LinesRejected, s.Flow.Records+s.ActiveWritten, after-before, s.ActiveWritten, cfg.LiveDB)
	if s.LinesRejected > 0 {
		fmt.Fprintf(c.stderr, "pakon import: last rejected line: %s\n", s.LastError)
	}
	return err
}
