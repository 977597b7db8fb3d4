package netlab

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fileOutput turns the shipped config's unix-socket EVE output (outputs.0)
// into a regular file; a relative name lands in the -l directory.
func fileOutput(name string) []string {
	return []string{
		"--set", "outputs.0.eve-log.filetype=regular",
		"--set", "outputs.0.eve-log.filename=" + name,
	}
}

// RunSuricataOnPcap runs Suricata with the shipped config on a capture and
// returns the path of the EVE file it wrote, outDir/eve.json. Extra
// arguments go to Suricata, e.g. "-S", rulesPath for alerts. It skips the
// test when suricata is not installed.
func RunSuricataOnPcap(tb testing.TB, pcap, outDir string, extra ...string) string {
	tb.Helper()
	Require(tb, "suricata")
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		tb.Fatalf("netlab: %v", err)
	}
	// single: one thread, so events come out in packet order, as they do
	// from the one af-packet worker live.
	args := []string{"-c", SuricataConfig(), "-r", pcap, "-l", outDir, "--runmode", "single"}
	args = append(args, fileOutput("eve.json")...)
	args = append(args, extra...)
	out, err := exec.Command("suricata", args...).CombinedOutput()
	if err != nil {
		tb.Fatalf("netlab: suricata %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	eve := filepath.Join(outDir, "eve.json")
	if _, err := os.Stat(eve); err != nil {
		tb.Fatalf("netlab: suricata wrote no EVE file: %v\n%s", err, out)
	}
	return eve
}

// stopSettle is how long Stop lets Suricata read packets that are already
// in its capture ring before it signals the shutdown.
const stopSettle = 500 * time.Millisecond

// Suricata is a live Suricata reading a namespace's interface with
// af-packet and writing EVE to a unix stream socket.
type Suricata struct {
	NS, Iface, Socket string

	tb    testing.TB
	dir   string
	extra []string

	mu sync.Mutex
	p  *Process
}

// StartSuricataLive starts Suricata with the shipped config on iface inside
// netns, with EVE going to the unix stream socket sockPath (Suricata
// connects to it as a client and keeps retrying until something listens).
// It returns once the engine has started; t.Cleanup stops it. Flow events
// appear when a flow times out (config: TCP closed 10 s, UDP 120 s) or when
// Suricata stops, which flushes every open flow.
func StartSuricataLive(tb testing.TB, netns, iface, sockPath string, extra ...string) *Suricata {
	tb.Helper()
	Require(tb, "suricata", "ip")
	s := &Suricata{NS: netns, Iface: iface, Socket: sockPath, tb: tb, dir: tb.TempDir(), extra: extra}
	if err := s.start(); err != nil {
		tb.Fatalf("netlab: %v", err)
	}
	tb.Cleanup(func() { s.Stop() })
	return s
}

func (s *Suricata) start() error {
	args := []string{"suricata", "-c", SuricataConfig(), "--af-packet=" + s.Iface,
		"-l", s.dir, "--pidfile", filepath.Join(s.dir, "suricata.pid"),
		"--set", "outputs.0.eve-log.filename=" + s.Socket}
	args = append(args, s.extra...)
	p, err := startProcess("suricata", s.NS, args, func(line string) bool {
		return strings.Contains(line, "Engine started")
	}, 60*time.Second)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.p = p
	s.mu.Unlock()
	return nil
}

// Stop shuts Suricata down (SIGTERM), which logs all open flows first.
func (s *Suricata) Stop() error {
	s.mu.Lock()
	p := s.p
	s.mu.Unlock()
	if p == nil {
		return nil
	}
	// Suricata removes its pid file on a clean exit; a stale one would
	// block the next start.
	defer os.Remove(filepath.Join(s.dir, "suricata.pid"))
	// On SIGTERM Suricata drops what still sits in the capture ring, and
	// tpacket-v3 hands packets over in blocks only when a block fills or its
	// timeout passes: give traffic that just happened time to be read.
	time.Sleep(stopSettle)
	return p.Stop()
}

// Restart stops Suricata and starts it again with the same arguments.
func (s *Suricata) Restart() error {
	if err := s.Stop(); err != nil {
		return err
	}
	return s.start()
}

// Output returns Suricata's console output so far.
func (s *Suricata) Output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.p == nil {
		return ""
	}
	return s.p.Output()
}

// Event is one decoded EVE line.
type Event map[string]any

// Type is the event_type.
func (e Event) Type() string { s, _ := e["event_type"].(string); return s }

// Str returns the string at a dotted path such as "dns.rrname", or "".
func (e Event) Str(path string) string {
	s, _ := e.Get(path).(string)
	return s
}

// Get returns the value at a dotted path, or nil.
func (e Event) Get(path string) any {
	var v any = map[string]any(e)
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// ReadEVE decodes an EVE file, failing the test on a bad line.
func ReadEVE(tb testing.TB, path string) []Event {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatalf("netlab: %v", err)
	}
	defer f.Close()
	var evs []Event
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for n := 1; sc.Scan(); n++ {
		var e Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			tb.Fatalf("netlab: %s:%d: %v", path, n, err)
		}
		evs = append(evs, e)
	}
	if err := sc.Err(); err != nil {
		tb.Fatalf("netlab: read %s: %v", path, err)
	}
	return evs
}

// Filter returns the events of one type.
func Filter(evs []Event, eventType string) []Event {
	var out []Event
	for _, e := range evs {
		if e.Type() == eventType {
			out = append(out, e)
		}
	}
	return out
}

// String formats an event for failure messages.
func (e Event) String() string {
	b, err := json.Marshal(map[string]any(e))
	if err != nil {
		return fmt.Sprint(map[string]any(e))
	}
	return string(b)
}
