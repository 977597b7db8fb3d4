package hardening

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pakon/pakon/src/ubus/ubustest"
	"github.com/pakon/pakon/tests/pakontest"
)

// status is the part of the ubus status reply the tests read.
type status struct {
	Lines struct {
		Read, Dropped, Rejected uint64
	} `json:"lines"`
	Flows struct {
		Open     int    `json:"open"`
		Recorded uint64 `json:"recorded"`
		Overflow uint64 `json:"overflow"`
	} `json:"flows"`
	LastCommit float64  `json:"last_commit"`
	Errors     []string `json:"errors"`
	Raw        map[string]any
}

// rig is a running daemon with a ubus broker.
type rig struct {
	pk     *pakontest.Instance
	daemon *pakontest.Daemon
	ubus   string
}

// start writes a config (pakontest.New options) and starts the daemon on
// a fresh ubus broker, returning once it answers there.
func start(t testing.TB, opts ...string) *rig {
	t.Helper()
	broker := ubustest.Start(t)
	opts = append(opts, fmt.Sprintf("config ubus 'ubus'\n\toption socket '%s'", broker.Path()))
	pk := pakontest.New(t, opts...)
	r := &rig{pk: pk, daemon: pk.StartDaemon(t), ubus: broker.Path()}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := r.call(t, "status", "{}"); err == nil {
			return r
		} else if time.Now().After(deadline) {
			t.Fatalf("pakon never answered on ubus: %v\n%s", err, r.daemon.Logs())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// call is `ubus call pakon METHOD ARGS`; it returns the reply as JSON.
func (r *rig) call(t testing.TB, method, args string) ([]byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	tab, err := ubustest.CallTable(ctx, r.ubus, "pakon", method, args)
	if err != nil {
		return nil, err
	}
	return json.Marshal(tab)
}

func (r *rig) status(t testing.TB) status {
	t.Helper()
	b, err := r.call(t, "status", "{}")
	if err != nil {
		t.Fatalf("status: %v", err)
	}
	var s status
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("status: %v in %s", err, b)
	}
	json.Unmarshal(b, &s.Raw)
	return s
}

// send writes lines to the daemon's EVE socket on one connection.
func (r *rig) send(t testing.TB, lines ...string) {
	t.Helper()
	c, err := net.Dial("unix", r.pk.Socket)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(strings.Join(lines, "\n") + "\n")); err != nil {
		t.Fatal(err)
	}
}

// rows is the number of flows pakon show lists (every time, no filter).
func (r *rig) rows(t testing.TB, args ...string) int {
	t.Helper()
	return r.pk.Show(t, append([]string{"--no-filter", "-s", "@0"}, args...)...).Total
}

// waitFor polls cond for up to d.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out after %v waiting for %s", d, what)
}

func ts(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000+0000") }

// flowLine is a completed TCP flow of device dev (0-based) that started
// at start: id makes its flow_id and source port.
func flowLine(id, dev int, start time.Time) string {
	return fmt.Sprintf(`{"timestamp":%q,"flow_id":%d,"event_type":"flow","src_ip":"192.168.1.%d","src_port":%d,"dest_ip":"198.51.100.%d","dest_port":443,"proto":"TCP","app_proto":"tls","flow":{"pkts_toserver":3,"pkts_toclient":4,"bytes_toserver":%d,"bytes_toclient":%d,"start":%q,"end":%q},"ether":{"src_macs":[%q],"dest_macs":["02:00:00:00:00:01"]}}`,
		ts(start.Add(3*time.Second)), 1000+id, 10+dev, 1024+id%60000, id%200, 300+id, 4000+id, ts(start), ts(start.Add(2*time.Second)), mac(dev))
}

// tlsLine is the TLS event that opens flow id (still running).
func tlsLine(id, dev int, at time.Time, sni string) string {
	return fmt.Sprintf(`{"timestamp":%q,"flow_id":%d,"event_type":"tls","src_ip":"192.168.1.%d","src_port":%d,"dest_ip":"198.51.100.%d","dest_port":443,"proto":"TCP","tls":{"sni":%q},"ether":{"src_mac":%q,"dest_mac":"02:00:00:00:00:01"}}`,
		ts(at), 1000+id, 10+dev, 1024+id%60000, id%200, sni, mac(dev))
}

func mac(dev int) string { return fmt.Sprintf("02:00:00:00:%02x:%02x", dev>>8, dev&0xff) }

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
}
