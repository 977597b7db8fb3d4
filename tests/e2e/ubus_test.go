package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pakon/pakon/src/ubus"
	"github.com/pakon/pakon/src/ubus/ubustest"
	"github.com/pakon/pakon/tests/netlab"
	"github.com/pakon/pakon/tests/pakontest"
)

// ubusCall is `ubus call pakon METHOD ARGS` against the test broker.
func ubusCall(t *testing.T, sock, method, args string, out any) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	tab, err := ubustest.CallTable(ctx, sock, "pakon", method, args)
	if err != nil {
		return err
	}
	if out != nil {
		data, _ := json.Marshal(tab)
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s: %v in %s", method, err, data)
		}
	}
	return nil
}

// waitUbus waits until the daemon's object answers.
func waitUbus(t *testing.T, sock string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if err := ubusCall(t, sock, "status", "{}", nil); err == nil {
			return
		} else if time.Now().After(deadline) {
			t.Fatalf("pakon never answered on ubus: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestDaemonOnUbus drives the real daemon through a ubus broker faithful
// to the captured ubusd: the signature listing, queries with filters and
// paging, bad arguments, a broker restart, concurrent calls and the write
// methods.
func TestDaemonOnUbus(t *testing.T) {
	// Real Suricata output of the shipped demo capture, followed as a file.
	eve := netlab.RunSuricataOnPcap(t, filepath.Join(netlab.RepoRoot(), "tests", "data", "demo.pcap"), t.TempDir())
	broker := ubustest.Start(t)
	pk := pakontest.New(t, fmt.Sprintf("option eve_file '%s'", eve),
		fmt.Sprintf("config ubus 'ubus'\n\toption socket '%s'", broker.Path()))
	daemon := pk.StartDaemonNoSocket(t)
	sock := broker.Path()
	waitUbus(t, sock)

	listing, err := ubustest.List(context.Background(), sock, "pakon")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{`"query"`, `"devices"`, `"top"`, `"histogram"`, `"status"`, `"set_device_name"`, `"clear"`, `"reload"`, `"limit":"Integer"`} {
		if !strings.Contains(listing, m) {
			t.Errorf("ubus -v list pakon lacks %s:\n%s", m, listing)
		}
	}

	type page struct {
		Rows  []pakontest.Row `json:"rows"`
		Total int             `json:"total"`
	}
	var all page
	deadline := time.Now().Add(30 * time.Second)
	for all.Total < 6 && time.Now().Before(deadline) {
		if err := ubusCall(t, sock, "query", `{"start":0,"limit":1000}`, &all); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if all.Total < 6 || len(all.Rows) != all.Total {
		t.Fatalf("query: total %d rows %d", all.Total, len(all.Rows))
	}
	// Paging covers every row exactly once.
	seen := map[string]bool{}
	for off := 0; off < all.Total; off += 3 {
		var p page
		if err := ubusCall(t, sock, "query", fmt.Sprintf(`{"start":0,"limit":3,"offset":%d,"sort":"start"}`, off), &p); err != nil {
			t.Fatal(err)
		}
		if p.Total != all.Total {
			t.Fatalf("page total %d, want %d", p.Total, all.Total)
		}
		for _, r := range p.Rows {
			k := fmt.Sprintf("%s:%d", r.SrcIP, r.SrcPort)
			if seen[k] {
				t.Errorf("row %s on two pages", k)
			}
			seen[k] = true
		}
	}
	if len(seen) != all.Total {
		t.Errorf("pages held %d rows, want %d", len(seen), all.Total)
	}
	// Filters: by hostname (with subdomains) and by device name from DHCP.
	var www page
	if err := ubusCall(t, sock, "query", `{"start":0,"hostnames":["example.test"],"devices":["laptop"]}`, &www); err != nil {
		t.Fatal(err)
	}
	if www.Total == 0 {
		t.Fatal("no laptop flows to example.test")
	}
	for _, r := range www.Rows {
		if r.Device == nil || *r.Device != "laptop" || !strings.HasSuffix(r.Hostname, "example.test") {
			t.Errorf("filtered row %+v", r)
		}
	}

	// Bad arguments change nothing and say what was wrong.
	for _, args := range []string{`{"limit":"x"}`, `{"start":"garbage"}`, `{"sort":"1; DROP TABLE flows"}`} {
		err := ubusCall(t, sock, "query", args, nil)
		var ue *ubus.Error
		if !errors.As(err, &ue) || ue.Status != ubus.StatusInvalidArgument {
			t.Errorf("query %s: %v, want INVALID_ARGUMENT", args, err)
		}
	}

	// Concurrent calls.
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var p page
			if err := ubusCall(t, sock, "query", `{"start":0,"limit":2}`, &p); err != nil || p.Total != all.Total {
				errs <- fmt.Errorf("concurrent query: %v total %d", err, p.Total)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	// ubusd restarts: the daemon registers again.
	if err := broker.Restart(); err != nil {
		t.Fatal(err)
	}
	waitUbus(t, sock)

	// Write methods: a user name wins over the DHCP name and is saved.
	if err := ubusCall(t, sock, "set_device_name", `{"mac":"02:00:00:00:00:0b","name":"kids tablet"}`, nil); err != nil {
		t.Fatal(err)
	}
	var named page
	if err := ubusCall(t, sock, "query", `{"start":0,"devices":["kids tablet"]}`, &named); err != nil || named.Total == 0 {
		t.Fatalf("query by new name: %v %+v", err, named)
	}
	if cfg, _ := os.ReadFile(pk.Config); !strings.Contains(string(cfg), "kids tablet") {
		t.Errorf("name not saved in the config:\n%s", cfg)
	}
	var st map[string]any
	if err := ubusCall(t, sock, "status", `{}`, &st); err != nil {
		t.Fatal(err)
	}
	if lines := st["lines"].(map[string]any); lines["read"].(float64) == 0 || lines["rejected"].(float64) != 0 {
		t.Errorf("status lines: %v", lines)
	}
	if al, ok := st["alerts"].(map[string]any); !ok || al["replayed"] == nil || al["replay_flows"] == nil {
		t.Errorf("status alerts lack the replay counters: %v", st["alerts"])
	}
	var cleared map[string]any
	if err := ubusCall(t, sock, "clear", `{"devices":["02:00:00:00:00:0b"]}`, &cleared); err != nil {
		t.Fatal(err)
	}
	var left page
	if err := ubusCall(t, sock, "query", `{"start":0,"devices":["02:00:00:00:00:0b"]}`, &left); err != nil || left.Total != 0 {
		t.Errorf("after clear: %v %+v (cleared %v)", err, left, cleared)
	}
	if err := daemon.Stop(); err != nil {
		t.Fatalf("stop: %v\n%s", err, daemon.Logs())
	}
}
