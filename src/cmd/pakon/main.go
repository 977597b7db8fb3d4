// Command pakon is pakon's single binary: the monitoring daemon, the import
// tool and the query CLI. Invoked as pakon-show (a link), it is `pakon show`.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/pakon/pakon/src/config"
	"github.com/pakon/pakon/src/service"
)

// command is one applet.
type command interface {
	Run(ctx context.Context, args []string) error
}

// usageError is a bad command line: exit status 2, one clear line.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

const usage = `usage: pakon <command> [options]

commands:
  daemon    run the monitor: read Suricata's EVE output into the database
  import    ingest EVE files (offline analysis) and exit
  show      query stored flows (also installed as pakon-show)
  clear     delete stored flows and alerts (all, one device -m MAC, or --before TIME)
  rules     update the Suricata rules behind alerts (rules update), or show their status
  version   print the version

Run 'pakon <command> -h' for a command's options.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args, os.Stdout, os.Stderr))
}

func run(ctx context.Context, argv []string, stdout, stderr io.Writer) int {
	name := filepath.Base(argv[0])
	args := argv[1:]
	if name == "pakon-show" {
		name = "show"
	} else {
		if len(args) == 0 {
			fmt.Fprint(stderr, usage)
			return 2
		}
		name, args = args[0], args[1:]
	}
	var cmd command
	switch name {
	case "daemon":
		cmd = &DaemonCommand{stderr: stderr}
	case "import":
		cmd = &ImportCommand{stdout: stdout, stderr: stderr}
	case "show":
		cmd = &ShowCommand{stdout: stdout, stderr: stderr}
	case "clear":
		cmd = &ClearCommand{stdout: stdout, stderr: stderr}
	case "rules":
		cmd = &RulesCommand{stdout: stdout, stderr: stderr}
	case "version", "--version", "-V":
		cmd = &VersionCommand{stdout: stdout}
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "pakon: unknown command %q\n%s", name, usage)
		return 2
	}
	err := cmd.Run(ctx, args)
	var ue *usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "pakon %s: %s\n", name, ue.msg)
		return 2
	default:
		fmt.Fprintf(stderr, "pakon %s: %s\n", name, err)
		return 1
	}
}

// newFlagSet returns a flag set that reports errors as usageErrors and
// prints its help to stderr.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parseFlags parses args and turns flag errors into usage errors, so they
// come out as one line with exit status 2.
func parseFlags(fs *flag.FlagSet, args []string) error {
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fs.SetOutput(os.Stdout)
		fs.Usage()
		return err
	}
	if err != nil {
		return &usageError{err.Error()}
	}
	return nil
}

// loadConfig loads the UCI config and logs its warnings.
func loadConfig(path string, log *slog.Logger) (*config.Config, error) {
	cfg, warns, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	for _, w := range warns {
		log.Warn("config", "warning", w.String())
	}
	return cfg, nil
}

// newLogger logs text to w; logread reads it well. Under systemd (stderr
// is the journal) lines carry their priority and no timestamp, which the
// journal adds itself.
func newLogger(w io.Writer, debug bool) *slog.Logger {
	level := slog.LevelInfo
	if debug {
		level = slog.LevelDebug
	}
	opts := &slog.HandlerOptions{Level: level}
	if f, ok := w.(*os.File); ok && service.Journal(f) {
		return slog.New(service.NewJournalHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error {
	*s = append(*s, v)
	return nil
}
