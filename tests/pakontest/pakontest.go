// Package pakontest runs the real pakon binary in end-to-end tests: it
// builds it once per test binary, writes UCI configs into temp dirs, runs
// the applets and parses `pakon show -j`.
package pakontest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// repoRoot is the module root, found from this file's location.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Binary builds ./src/cmd/pakon once and returns its path; $PAKON_BIN, when
// set, names a binary to test instead.
func Binary(tb testing.TB) string {
	tb.Helper()
	if p := os.Getenv("PAKON_BIN"); p != "" {
		return p
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "pakontest-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "pakon")
		cmd := exec.Command("go", "build", "-tags", "sqlite_omit_load_extension", "-o", binPath, "./src/cmd/pakon")
		cmd.Dir = repoRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		tb.Fatal(buildErr)
	}
	return binPath
}

// Instance is one pakon set-up in a temp dir: config, databases, socket.
type Instance struct {
	Dir    string
	Config string // path of the UCI file
	Socket string
	LiveDB string
	bin    string
}

// New writes a UCI config into a fresh temp dir. Each option is appended
// inside the monitor section (e.g. "option skip_unidirectional '0'"),
// except those starting with "config ", which are whole sections added at
// the end (e.g. "config ubus 'ubus'\n\toption socket '/tmp/x'").
func New(tb testing.TB, monitorOptions ...string) *Instance {
	tb.Helper()
	dir := tb.TempDir()
	in := &Instance{
		Dir: dir, Config: filepath.Join(dir, "pakon"), Socket: filepath.Join(dir, "eve.sock"),
		LiveDB: filepath.Join(dir, "pakon.db"), bin: Binary(tb),
	}
	var b strings.Builder
	fmt.Fprintf(&b, "config monitor 'monitor'\n\toption eve_socket '%s'\n\toption live_db '%s'\n\toption state_dir '%s'\n",
		in.Socket, in.LiveDB, dir)
	var sections []string
	for _, o := range monitorOptions {
		if strings.HasPrefix(o, "config ") {
			sections = append(sections, o)
			continue
		}
		fmt.Fprintf(&b, "\t%s\n", o)
	}
	fmt.Fprintf(&b, "\nconfig archive 'archive'\n\toption path '%s'\n", filepath.Join(dir, "archive.db"))
	for _, sec := range sections {
		fmt.Fprintf(&b, "\n%s\n", sec)
	}
	if err := os.WriteFile(in.Config, []byte(b.String()), 0o600); err != nil {
		tb.Fatal(err)
	}
	return in
}

// Run runs `pakon ARGS… -c CONFIG`-style commands: args[0] is the applet.
// It returns stdout, stderr and the exit status.
func (in *Instance) Run(tb testing.TB, args ...string) (string, string, int) {
	tb.Helper()
	full := append([]string{args[0], "-c", in.Config}, args[1:]...)
	cmd := exec.Command(in.bin, full...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		tb.Fatalf("run pakon %v: %v", full, err)
	}
	return stdout.String(), stderr.String(), code
}

// Row is one row of `pakon show -j`.
type Row struct {
	Start         float64 `json:"start"`
	End           float64 `json:"end"`
	Duration      float64 `json:"duration"`
	MAC           string  `json:"mac"`
	Device        *string `json:"device"`
	SrcIP         string  `json:"src_ip"`
	SrcPort       int     `json:"src_port"`
	DestIP        string  `json:"dest_ip"`
	DestPort      int     `json:"dest_port"`
	Proto         string  `json:"proto"`
	AppProto      string  `json:"app_proto"`
	Hostname      string  `json:"hostname"`
	ObservedName  string  `json:"observed_name"`
	NameSource    string  `json:"name_source"`
	BytesSent     int64   `json:"bytes_sent"`
	BytesReceived int64   `json:"bytes_received"`
	Active        bool    `json:"active"`
	Flows         int     `json:"flows"`
}

// Result is the parsed output of `pakon show -j`.
type Result struct {
	Rows  []Row `json:"rows"`
	Total int   `json:"total"`
}

// Show runs `pakon show -j ARGS…` and parses the reply; it fails the test
// when pakon fails or prints something that is not the JSON contract.
func (in *Instance) Show(tb testing.TB, args ...string) Result {
	tb.Helper()
	out, errOut, code := in.Run(tb, append([]string{"show", "-j"}, args...)...)
	if code != 0 {
		tb.Fatalf("pakon show -j %v: exit %d: %s", args, code, errOut)
	}
	var res Result
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&res); err != nil {
		// Unknown fields are allowed by the contract; retry leniently but
		// keep the error when the shape itself is wrong.
		res = Result{}
		if err2 := json.Unmarshal([]byte(out), &res); err2 != nil {
			tb.Fatalf("pakon show -j: %v\n%s", err2, out)
		}
	}
	return res
}

// Daemon is a running `pakon daemon`.
type Daemon struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	logs bytes.Buffer
	done chan struct{}
	err  error
}

type lockedWriter struct{ d *Daemon }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.d.mu.Lock()
	defer w.d.mu.Unlock()
	return w.d.logs.Write(p)
}

// start starts `pakon daemon`; it is stopped (SIGTERM) at cleanup.
func (in *Instance) start(tb testing.TB) *Daemon {
	tb.Helper()
	d := &Daemon{done: make(chan struct{})}
	d.cmd = exec.Command(in.bin, "daemon", "-c", in.Config)
	d.cmd.Stdout, d.cmd.Stderr = lockedWriter{d}, lockedWriter{d}
	if err := d.cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	go func() { d.err = d.cmd.Wait(); close(d.done) }()
	tb.Cleanup(func() {
		d.Stop()
		if tb.Failed() {
			tb.Logf("pakon daemon log:\n%s", d.Logs())
		}
	})
	return d
}

// StartDaemon starts `pakon daemon` and waits until its socket exists.
func (in *Instance) StartDaemon(tb testing.TB) *Daemon {
	tb.Helper()
	d := in.start(tb)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(in.Socket); err == nil {
			return d
		}
		select {
		case <-d.done:
			tb.Fatalf("pakon daemon exited: %v\n%s", d.err, d.Logs())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			tb.Fatalf("pakon daemon did not create %s\n%s", in.Socket, d.Logs())
		}
	}
}

// Logs returns what the daemon logged so far.
func (d *Daemon) Logs() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.logs.String()
}

// Stop sends SIGTERM and waits for a clean exit (killing it after 15 s).
func (d *Daemon) Stop() error {
	select {
	case <-d.done:
		return d.err
	default:
	}
	d.cmd.Process.Signal(os.Interrupt)
	select {
	case <-d.done:
	case <-time.After(15 * time.Second):
		d.cmd.Process.Kill()
		<-d.done
		return fmt.Errorf("pakon daemon did not stop within 15 s")
	}
	return d.err
}

// WaitLog waits until the daemon's log contains s n times.
func (d *Daemon) WaitLog(tb testing.TB, s string, n int, timeout time.Duration) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for strings.Count(d.Logs(), s) < n {
		if time.Now().After(deadline) {
			tb.Fatalf("daemon log has %q %d times, want %d:\n%s", s, strings.Count(d.Logs(), s), n, d.Logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// StartDaemonNoSocket starts `pakon daemon` for a config that follows an
// EVE file instead of listening on a socket; it returns once the daemon
// logs that it runs.
func (in *Instance) StartDaemonNoSocket(tb testing.TB) *Daemon {
	tb.Helper()
	d := in.start(tb)
	d.WaitLog(tb, "pakon running", 1, 30*time.Second)
	return d
}

// PID returns the daemon's process id (for /proc inspection).
func (d *Daemon) PID() int { return d.cmd.Process.Pid }
