package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/pakon/pakon/tests/netlab"
	"github.com/pakon/pakon/tests/pakontest"
)

// waitRow polls `pakon show -j` until a row satisfies ok.
func waitRow(t *testing.T, pk *pakontest.Instance, what string, timeout time.Duration, ok func(pakontest.Row) bool) pakontest.Row {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last pakontest.Result
	for time.Now().Before(deadline) {
		last = pk.Show(t, "--no-filter")
		for _, r := range last.Rows {
			if ok(r) {
				return r
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("no row %s within %v; rows:\n%s", what, timeout, dump(last))
	return pakontest.Row{}
}

// TestLiveDaemonSocket runs Suricata live on the router's LAN bridge,
// writing EVE to pakon daemon's unix socket: a download held open shows as
// an active flow, is completed in place when it ends, and the daemon keeps
// working across a Suricata restart.
func TestLiveDaemonSocket(t *testing.T) {
	lab := netlab.New(t, netlab.Config{})
	pk := pakontest.New(t)
	daemon := pk.StartDaemon(t)
	suricata := netlab.StartSuricataLive(t, lab.Router, netlab.LANIface, pk.Socket)
	daemon.WaitLog(t, "EVE client connected", 1, 60*time.Second)

	done := make(chan []netlab.StepResult, 1)
	go func() {
		res, _ := lab.Clients[0].TryRun("https://www.example.test/bytes/20000#hold=10s")
		done <- res
	}()
	active := waitRow(t, pk, "active www.example.test", 30*time.Second, func(r pakontest.Row) bool {
		return r.Active && r.DestPort == 443 && r.ObservedName == "www.example.test"
	})
	if active.MAC != "02:00:00:00:00:0a" || active.NameSource != "sni" || active.SrcIP != lab.Clients[0].IPv4.String() {
		t.Errorf("active row %+v", active)
	}
	held := <-done
	if len(held) != 1 || held[0].Error != "" {
		t.Fatalf("client: %+v", held)
	}
	final := waitRow(t, pk, "completed download", 60*time.Second, func(r pakontest.Row) bool {
		return r.SrcPort == held[0].LocalPort && !r.Active
	})
	checkBytes(t, "received", final.BytesReceived, held[0].BytesReceived)
	if final.Duration < 9 {
		t.Errorf("held connection lasted %.1fs, want ≥ 10s", final.Duration)
	}
	if res := pk.Show(t, "--no-filter"); countPort(res, held[0].LocalPort) != 1 {
		t.Errorf("download stored %d times:\n%s", countPort(res, held[0].LocalPort), dump(res))
	}

	// Suricata restarts (an update, a crash): it reconnects and pakon
	// carries on.
	if err := suricata.Restart(); err != nil {
		t.Fatal(err)
	}
	daemon.WaitLog(t, "EVE client connected", 2, 60*time.Second)
	after := lab.Clients[0].Run(t, "http://api.example.test/bytes/1000")
	if err := suricata.Stop(); err != nil { // flushes open flows
		t.Fatal(err)
	}
	row := waitRow(t, pk, "flow after restart", 30*time.Second, func(r pakontest.Row) bool {
		return r.SrcPort == after[0].LocalPort && !r.Active
	})
	if row.ObservedName != "api.example.test" || row.NameSource != "http" {
		t.Errorf("after restart: %+v", row)
	}
	if err := daemon.Stop(); err != nil {
		t.Fatalf("daemon stop: %v\n%s", err, daemon.Logs())
	}
	logs := daemon.Logs()
	if !strings.Contains(logs, "dropped=0") || !strings.Contains(logs, "rejected=0") {
		t.Errorf("daemon lost or rejected lines:\n%s", logs)
	}
}

func countPort(res pakontest.Result, port int) int {
	n := 0
	for _, r := range res.Rows {
		if r.SrcPort == port {
			n++
		}
	}
	return n
}
