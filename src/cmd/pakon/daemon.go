package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"sync"
	"syscall"
	"time"

	"github.com/pakon/pakon/src/config"
	"github.com/pakon/pakon/src/eveinput"
	"github.com/pakon/pakon/src/ingest"
	"github.com/pakon/pakon/src/leases"
	"github.com/pakon/pakon/src/query"
	"github.com/pakon/pakon/src/service"
	"github.com/pakon/pakon/src/store"
)

// neighbourMaxAge is how stale the cached kernel neighbour table may get.
const neighbourMaxAge = 30 * time.Second

// DaemonCommand runs the monitor.
type DaemonCommand struct {
	stderr io.Writer
}

// Run reads EVE from Suricata's socket (or a followed file) into the live
// database until ctx is cancelled, then writes out everything it holds. It
// answers ubus calls when ubusd is there, and tells systemd how it is.
func (c *DaemonCommand) Run(ctx context.Context, args []string) error {
	fs := newFlagSet("daemon", c.stderr)
	cfgPath := fs.String("c", "/etc/config/pakon", "UCI config `file`")
	debug := fs.Bool("debug", false, "log debug messages")
	dhcpPath := fs.String("dhcp-config", leases.DefaultDHCPConfig, "DHCP host names from this UCI `file` (\"\" for none)")
	leasePath := fs.String("leases", "", "dnsmasq lease `file` (default: found from the DHCP config)")
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
	tuneMemory(cfg)
	// The watchdog runs from here on: opening a large archive may take a
	// while, and systemd must not take that for a hang.
	notify := service.New(service.Options{Logger: log})
	if err := notify.Open(); err != nil {
		log.Warn("systemd notify", "err", err)
	}
	defer notify.Close(context.Background())

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

	d := &daemon{cfgPath: *cfgPath, cfg: cfg, log: log, started: time.Now(), db: db, pipe: pipe, lc: lc}
	d.names = newNames(cfg, *dhcpPath, *leasePath)
	d.engine = query.New(db, query.Options{Names: d.names, Logger: log})
	d.loadLists(cfg)

	source, err := newSource(cfg, pipe, log)
	if err != nil {
		return err
	}
	d.source = source

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	// The pipeline outlives the source: once the source has stopped, it
	// drains the queue and writes everything out.
	pipeDone := make(chan error, 1)
	go func() { pipeDone <- pipe.Run(context.Background()) }()

	srcCtx, stopSource := context.WithCancel(ctx)
	defer stopSource()
	var wg sync.WaitGroup
	var srcErr error
	wg.Add(3)
	go func() {
		defer wg.Done()
		srcErr = source.run(srcCtx)
		stopSource()
	}()
	go func() {
		defer wg.Done()
		lc.run(srcCtx)
	}()
	go func() {
		defer wg.Done()
		d.sample(srcCtx, notify)
	}()

	if n := newNotifier(cfg.Alerts, d.engine, log); n.enabled() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n.run(srcCtx)
		}()
	}

	bus := d.startUbus(srcCtx)
	watcher := d.watchDHCP(srcCtx, bus)

	log.Info("pakon running", "input", source.describe(), "db", cfg.LiveDB, "archive", cfg.ArchivePath,
		"commit_interval_s", cfg.CommitInterval.Seconds(), "ubus", bus != nil)
	notify.Ready("reading EVE from " + source.describe())
loop:
	for {
		select {
		case <-srcCtx.Done():
			break loop
		case <-hup:
			notify.Reloading("reloading configuration")
			log.Info("SIGHUP: reopening inputs, reloading lists and names")
			source.reopen()
			if err := d.Reload(srcCtx); err != nil {
				log.Error("reload", "err", err)
			}
			notify.Ready("reading EVE from " + source.describe())
		}
	}
	notify.Stopping("writing out flows")
	stopSource()
	if watcher != nil {
		watcher(context.Background())
	}
	if bus != nil {
		bus.Close(context.Background())
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

// tuneMemory trades CPU for RAM, as routers want: garbage is collected at
// half the default heap growth, and near the configured soft limit the
// runtime collects harder and returns memory to the system. GOGC and
// GOMEMLIMIT in the environment take precedence.
func tuneMemory(cfg *config.Config) {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(50)
	}
	if os.Getenv("GOMEMLIMIT") == "" && cfg.MemoryLimit > 0 {
		debug.SetMemoryLimit(cfg.MemoryLimit)
	}
}

// source is where EVE lines come from.
type source struct {
	run      func(context.Context) error
	reopen   func()
	describe func() string
	// socket is set when Suricata connects to pakon (not a followed file).
	socket *eveinput.Socket
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
	return &source{run: s.Serve, reopen: func() {}, describe: func() string { return fmt.Sprintf("socket %s", cfg.EVESocket) }, socket: s}, nil
}
