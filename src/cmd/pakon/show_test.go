package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pakon/pakon/src/cli"
	"github.com/pakon/pakon/src/query"
)

// The fixture (src/query/testdata) is real Suricata 7 output: seven flows
// between 00:28:11.862 and 00:28:11.881 UTC on 22 November 2026, five of
// the laptop (02:00:00:00:00:0a, DHCP name "laptop"), two of
// 02:00:00:00:00:0b, which the config below names "Phone".
var fixtureNow = time.Date(2026, 11, 22, 1, 28, 11, 0, time.UTC)

type showEnv struct {
	cfg, dhcp, leases string
}

func newShowEnv(t *testing.T) *showEnv {
	t.Helper()
	dir := t.TempDir()
	env := &showEnv{cfg: filepath.Join(dir, "pakon"), dhcp: filepath.Join(dir, "dhcp"), leases: filepath.Join(dir, "dhcp.leases")}
	files := map[string]string{
		env.cfg: `config monitor 'monitor'
	option live_db '` + filepath.Join(dir, "pakon.db") + `'
	option state_dir '` + dir + `'

config archive 'archive'
	option path '` + filepath.Join(dir, "archive.db") + `'

config lists 'lists'
	list replace '` + filepath.Join(dir, "replace") + `'
	list ignore '` + filepath.Join(dir, "ignore") + `'

config device
	option mac '02:00:00:00:00:0B'
	option name 'Phone'
`,
		filepath.Join(dir, "replace"): "static.example.test  static-service.test\n",
		filepath.Join(dir, "ignore"):  "# hidden by default\nstream.test\n",
		env.dhcp:                      "config host\n\toption name 'dhcp-laptop'\n\toption mac '02:00:00:00:00:0a'\n",
		env.leases:                    "",
	}
	for path, body := range files {
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var out, errOut bytes.Buffer
	fixture := filepath.Join("..", "..", "query", "testdata", "lan-suricata7.json")
	if code := run(context.Background(), []string{"pakon", "import", "-c", env.cfg, fixture}, &out, &errOut); code != 0 {
		t.Fatalf("import: exit %d: %s", code, errOut.String())
	}
	return env
}

// show runs `pakon show` in-process with the clock at fixtureNow and UTC
// as local time, and returns stdout and the exit status run would give.
func (env *showEnv) show(t *testing.T, args ...string) (string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	c := &ShowCommand{stdout: &out, stderr: &errOut, now: func() time.Time { return fixtureNow }, loc: time.UTC, width: 200}
	full := append([]string{"-c", env.cfg, "--dhcp-config", env.dhcp, "--leases", env.leases}, args...)
	err := c.Run(context.Background(), full)
	var ue *usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return out.String(), 0
	case errors.As(err, &ue):
		return ue.msg, 2
	}
	return err.Error(), 1
}

func (env *showEnv) json(t *testing.T, args ...string) query.Result {
	t.Helper()
	out, code := env.show(t, append([]string{"-j"}, args...)...)
	if code != 0 {
		t.Fatalf("show -j %q: exit %d: %s", args, code, out)
	}
	var res query.Result
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("show -j %q: %v\n%s", args, err, out)
	}
	return res
}

func TestShowOptions(t *testing.T) {
	env := newShowEnv(t)
	for _, c := range []struct {
		args []string
		want int // rows; the ignore list hides the one stream.test flow
	}{
		{nil, 6},
		{[]string{"--no-filter"}, 7},
		{[]string{"-s", "now"}, 0},
		{[]string{"--start", "-30m"}, 0},
		{[]string{"-s", "-3599"}, 0},
		{[]string{"-s", "-3601"}, 6},
		{[]string{"-s", "-1h"}, 6},
		{[]string{"-s", "-61m"}, 6},
		{[]string{"-s", "-1d"}, 6},
		{[]string{"-s", "-1w"}, 6},
		{[]string{"-s", "22-11-2026"}, 6},
		{[]string{"-s", "23-11-2026"}, 0},
		{[]string{"-s", "2026-11-22"}, 6},
		{[]string{"-s", "22-11-2026T00:28:12"}, 0},
		{[]string{"-e", "22-11-2026T00:28:11"}, 0},
		{[]string{"-e", "21-11-2026"}, 0},
		{[]string{"--end", "now"}, 6},
		// Overlap: ends at or after the start, starts at or before the end.
		{[]string{"-s", "@1795307291.8685", "--no-filter"}, 5},
		{[]string{"-e", "@1795307291.8685", "--no-filter"}, 3},
		{[]string{"-s", "@1795307291.8685", "-e", "@1795307291.8685"}, 1},
		{[]string{"-m", "laptop"}, 4},
		{[]string{"-m", "dhcp-laptop"}, 4},
		{[]string{"--mac", "Phone"}, 2},
		{[]string{"-m", "02-00-00-00-00-0A", "--no-filter"}, 5},
		{[]string{"-m", "laptop", "-m", "phone"}, 6},
		{[]string{"-H", "example.test"}, 5},
		{[]string{"--hostname", "=api.example.test"}, 2},
		{[]string{"-H", "static-service.test"}, 1},
		{[]string{"-H", "203.0.113.20"}, 2},
		{[]string{"-H", "stream.test"}, 0},
		{[]string{"-H", "stream.test", "--no-filter"}, 1},
		{[]string{"-p", "https"}, 4},
		{[]string{"--port", "80"}, 2},
		{[]string{"-p", "5000", "-p", "80", "--no-filter"}, 3},
		{[]string{"--proto", "UDP", "--no-filter"}, 1},
		{[]string{"--app", "http"}, 2},
		{[]string{"--active"}, 0},
		{[]string{"-n", "2"}, 2},
		{[]string{"--limit", "2", "--offset", "5"}, 1},
		{[]string{"--offset", "6"}, 0},
	} {
		res := env.json(t, c.args...)
		if len(res.Rows) != c.want {
			t.Errorf("%q: %d rows, want %d: %q", c.args, len(res.Rows), c.want, hostsOf(res))
		}
	}
	res := env.json(t, "-n", "1")
	if res.Total != 6 {
		t.Errorf("-n 1: total %d, want 6", res.Total)
	}
	res = env.json(t, "--sort", "-bytes")
	for i := 1; i < len(res.Rows); i++ {
		if a, b := res.Rows[i-1], res.Rows[i]; a.BytesSent+a.BytesReceived < b.BytesSent+b.BytesReceived {
			t.Errorf("--sort -bytes: row %d larger than row %d", i, i-1)
		}
	}
	if res := env.json(t, "-m", "Phone"); *res.Rows[0].Device != "Phone" || res.Rows[0].DeviceSource != "user" {
		t.Errorf("user-named device: %+v", res.Rows[0])
	}
}

func hostsOf(res query.Result) []string {
	var out []string
	for _, r := range res.Rows {
		out = append(out, r.Hostname)
	}
	return out
}

func TestShowModes(t *testing.T) {
	env := newShowEnv(t)
	flows := env.json(t)
	agg := env.json(t, "-A")
	var fs, as int64
	n := 0
	for _, r := range flows.Rows {
		fs += r.BytesSent + r.BytesReceived
	}
	for _, r := range agg.Rows {
		as += r.BytesSent + r.BytesReceived
		n += r.Flows
	}
	if fs != as || n != flows.Total || agg.Total != 5 {
		t.Errorf("-A: %d groups, %d flows, %d bytes; timeline %d flows, %d bytes", agg.Total, n, as, flows.Total, fs)
	}

	out, code := env.show(t, "-D", "-j")
	var devs query.DeviceResult
	if code != 0 || json.Unmarshal([]byte(out), &devs) != nil || devs.Total != 2 {
		t.Errorf("-D -j: exit %d: %s", code, out)
	}
	out, code = env.show(t, "--top", "1", "--by", "device", "--metric", "time", "-j")
	var top query.TopResult
	if code != 0 || json.Unmarshal([]byte(out), &top) != nil || len(top.Rows) != 1 || top.Other == nil || top.Rows[0].Time <= 0 {
		t.Errorf("--top: exit %d: %s", code, out)
	}

	out, code = env.show(t, "--csv")
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if code != 0 || err != nil || len(recs) != 7 || !slices.Equal(recs[0], cli.CSVHeader) {
		t.Fatalf("--csv: exit %d, %v, %d records", code, err, len(recs))
	}
	for i, r := range flows.Rows {
		if recs[i+1][slices.Index(cli.CSVHeader, "hostname")] != r.Hostname ||
			recs[i+1][slices.Index(cli.CSVHeader, "src_ip")] != r.SrcIP {
			t.Errorf("CSV row %d %q, JSON %+v", i+1, recs[i+1], r)
		}
	}
	for _, args := range [][]string{{"-A", "--csv"}, {"-D", "--csv"}, {"--top", "3", "--csv"}} {
		out, code := env.show(t, args...)
		if recs, err := csv.NewReader(strings.NewReader(out)).ReadAll(); code != 0 || err != nil || len(recs) < 2 {
			t.Errorf("%q: exit %d, %v, %q", args, code, err, out)
		}
	}

	out, code = env.show(t)
	for _, want := range []string{"Start", "2026-11-22 00:28:11", "laptop", "Phone", "www.example.test", "https", "KiB"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	for _, args := range [][]string{{"-A"}, {"-D"}, {"--top", "2"}} {
		if out, code := env.show(t, args...); code != 0 || strings.Count(out, "\n") < 3 {
			t.Errorf("%q table: exit %d:\n%s", args, code, out)
		}
	}
	for _, args := range [][]string{{"-s", "now"}, {"-A", "-H", "nowhere.test"}, {"-D", "--active"}, {"--top", "5", "--active"}} {
		if out, code := env.show(t, args...); code != 0 || out != "no records to show\n" {
			t.Errorf("%q: exit %d, %q", args, code, out)
		}
	}
}

// TestShowErrors runs the applet as main does: a bad date, MAC or option
// gets one line on stderr and exit status 2.
func TestShowErrors(t *testing.T) {
	env := newShowEnv(t)
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"-s", "32-13-2026"}, 2, "-s: invalid time"},
		{[]string{"-e", "tomorrow"}, 2, "-e: invalid time"},
		{[]string{"-s", "-1h", "-e", "-2h"}, 2, "before start"},
		{[]string{"-m", "02:00:zz:00:00:0a"}, 2, "-m: invalid MAC address"},
		{[]string{"-m", "nobody"}, 2, `-m: no device is named "nobody"`},
		{[]string{"-H", "a b"}, 2, "-H: invalid host name"},
		{[]string{"--sort", "size"}, 2, "--sort: unknown sort key"},
		{[]string{"-n", "-1"}, 2, "-n: negative"},
		{[]string{"--offset", "-1"}, 2, "--offset: negative"},
		{[]string{"-p", "99999"}, 2, "-p: port 99999"},
		{[]string{"-p", "gopher"}, 2, "-p: unknown port"},
		{[]string{"--proto", "t;cp"}, 2, "--proto: invalid protocol"},
		{[]string{"--top", "3", "--by", "port"}, 2, "--by: unknown ranking"},
		{[]string{"--top", "3", "--metric", "size"}, 2, "--metric: unknown metric"},
		{[]string{"-A", "-D"}, 2, "exclude each other"},
		{[]string{"-j", "--csv"}, 2, "exclude each other"},
		{[]string{"--bogus"}, 2, "flag provided but not defined"},
		{[]string{"-n"}, 2, "flag needs an argument"},
		{[]string{"extra"}, 2, `unexpected argument "extra"`},
		{[]string{"-db", filepath.Join(t.TempDir(), "none.db")}, 1, "no database at"},
	} {
		var out, errOut bytes.Buffer
		argv := append([]string{"pakon", "show", "-c", env.cfg, "--dhcp-config", env.dhcp, "--leases", env.leases}, c.args...)
		code := run(context.Background(), argv, &out, &errOut)
		msg := errOut.String()
		if code != c.code || !strings.Contains(msg, c.want) || strings.Count(msg, "\n") != 1 || out.Len() != 0 {
			t.Errorf("%q: exit %d, stderr %q, stdout %q; want exit %d and one line with %q", c.args, code, msg, out.String(), c.code, c.want)
		}
	}
	// Invoked as pakon-show, the applet is implied.
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"/usr/bin/pakon-show", "-c", env.cfg, "--dhcp-config", "", "-j", "--no-filter"}, &out, &errOut); code != 0 {
		t.Fatalf("pakon-show: exit %d: %s", code, errOut.String())
	}
	var res query.Result
	if err := json.Unmarshal(out.Bytes(), &res); err != nil || res.Total != 7 {
		t.Errorf("pakon-show -j: %v %+v", err, res)
	}
}
