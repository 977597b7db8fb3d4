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
	db, err := store.Open(ctx, cfg.LiveDB, store.Options{})
	if err != nil {
		return err
	}
	defer db.Close()
	if n, err := db.CloseStaleActive(ctx); err != nil {
		return err
	} else if n > 0 {
		log.Info("closed flows left active by the previous run", "flows", n)
	}

	pipe := newPipeline(db, cfg, log, true)
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
	wg.Add(1)
	go func() {
		defer wg.Done()
		srcErr = source.run(srcCtx)
		stopSource()
	}()
	log.Info("pakon running", "input", source.describe(), "db", cfg.LiveDB)
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
	s := pipe.Stats()
	log.Info("pakon stopped", "lines", s.LinesRead, "dropped", s.LinesDropped, "rejected", s.LinesRejected,
		"flows", s.Flow.Records)
	if srcErr != nil {
		return srcErr
	}
	return pipeErr
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
