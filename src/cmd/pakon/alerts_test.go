package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/pakon/pakon/src/query"
)

// alertEnv imports Suricata 7's lab output (src/eve/testdata), whose
// alerts come from tests/netlab/testdata/lab.rules, with that file as the
// local rule file.
func alertEnv(t *testing.T) *showEnv {
	t.Helper()
	dir := t.TempDir()
	rulesFile, _ := filepath.Abs(filepath.Join("..", "..", "..", "tests", "netlab", "testdata", "lab.rules"))
	env := &showEnv{cfg: filepath.Join(dir, "pakon"), dhcp: filepath.Join(dir, "dhcp"), leases: filepath.Join(dir, "leases")}
	os.WriteFile(env.cfg, []byte(`config monitor 'monitor'
	option live_db '`+filepath.Join(dir, "pakon.db")+`'
	option state_dir '`+dir+`'
config archive 'archive'
	option path '`+filepath.Join(dir, "archive.db")+`'
config lists 'lists'
	list replace '`+filepath.Join(dir, "none")+`'
	list ignore '`+filepath.Join(dir, "none")+`'
config rules 'rules'
	option directory '`+filepath.Join(dir, "rules")+`'
	list local '`+rulesFile+`'
	list explain '`+filepath.Join(dir, "none")+`'
`), 0o644)
	os.WriteFile(filepath.Join(dir, "none"), nil, 0o644)
	os.WriteFile(env.dhcp, nil, 0o644)
	os.WriteFile(env.leases, nil, 0o644)
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"pakon", "import", "-c", env.cfg, filepath.Join("..", "..", "eve", "testdata", "suricata7.json")}, &out, &errOut); code != 0 {
		t.Fatalf("import: exit %d: %s", code, errOut.String())
	}
	return env
}

func TestShowAlerts(t *testing.T) {
	env := alertEnv(t)
	out, code := env.show(t, "--alerts", "-s", "-100w", "-j", "--sort", "sid")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	var res query.AlertResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	// One row per lab rule and device: 9000002 and 9000003 fired for both.
	if res.Total != 8 {
		t.Fatalf("%d alert rows, want 8: %s", res.Total, out)
	}
	find := func(sid uint32, mac string) query.AlertRow {
		for _, r := range res.Rows {
			if r.SID == sid && r.MAC == mac {
				return r
			}
		}
		t.Fatalf("no alert %d for %s", sid, mac)
		return query.AlertRow{}
	}
	dns := find(9000003, "02:00:00:00:00:0a")
	if dns.Count != 1 || dns.Hostname != "api.example.test" || dns.NameSource != "dns" || *dns.Device != "laptop" || dns.Inbound {
		t.Errorf("DNS alert %+v", dns)
	}
	// The certificate matched on the server's packet: still the laptop's,
	// named by the SNI of its flow.
	if cert := find(9000005, "02:00:00:00:00:0a"); cert.Hostname != "www.example.test" || cert.SrcIP != "10.99.1.10" || cert.DestPort != 443 {
		t.Errorf("certificate alert %+v", cert)
	}
	// Filters as for flows.
	out, _ = env.show(t, "--alerts", "-s", "-100w", "-H", "=www.example.test", "--csv")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 3 || !strings.Contains(out, ",9000005,") {
		t.Errorf("-H www.example.test:\n%s", out)
	}
	out, _ = env.show(t, "--alerts", "-s", "-100w", "--engine")
	if strings.TrimSpace(out) != "No records" && !strings.Contains(out, "o records") {
		t.Errorf("--engine shows threat alerts:\n%s", out)
	}
	out, code = env.show(t, "--alerts", "-s", "-100w", "--severity", "low", "-n", "1")
	if code != 0 || !strings.Contains(out, "low") || strings.Count(out, "\n") != 2 {
		t.Errorf("table:\n%s", out)
	}
	// Explain: the rule's text from the local rule file, and the flow.
	out, code = env.show(t, "--explain", strconv.FormatInt(dns.ID, 10))
	if code != 0 || !strings.Contains(out, "looked up api.example.test") || !strings.Contains(out, `dns.query; content:"api.example.test"`) ||
		!strings.Contains(out, "lab.rules:5") {
		t.Errorf("--explain:\n%s", out)
	}
	if _, code := env.show(t, "--explain", "1"); code != 2 {
		t.Errorf("unknown id: exit %d", code)
	}
	for _, bad := range [][]string{{"--alerts", "-A"}, {"--severity", "1"}, {"--alerts", "--severity", "huge"}, {"--alerts", "--sort", "bytes"}} {
		if out, code := env.show(t, bad...); code != 2 {
			t.Errorf("%q: exit %d: %s", bad, code, out)
		}
	}
	// pakon clear covers alerts.
	var o, e bytes.Buffer
	if code := run(context.Background(), []string{"pakon", "clear", "-c", env.cfg, "-m", "02:00:00:00:00:0a"}, &o, &e); code != 0 ||
		!strings.Contains(o.String(), "alert rows") {
		t.Fatalf("clear: %d %s %s", code, o.String(), e.String())
	}
	out, _ = env.show(t, "--alerts", "-s", "-100w", "-j")
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Total != 2 || res.Rows[0].MAC != "02:00:00:00:00:0b" {
		t.Errorf("after clearing the laptop, want the other device's 2 rows: %s", out)
	}
}

func TestRulesCommand(t *testing.T) {
	env := alertEnv(t)
	t.Setenv("PATH", t.TempDir()) // no suricata-update
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"pakon", "rules", "update", "-c", env.cfg}, &out, &errOut); code != 0 ||
		!strings.Contains(out.String(), "rule updates are off") {
		t.Fatalf("update while off: %d %s %s", code, out.String(), errOut.String())
	}
	out.Reset()
	if code := run(context.Background(), []string{"pakon", "rules", "update", "-force", "-c", env.cfg}, &out, &errOut); code != 0 ||
		!strings.Contains(out.String(), "suricata-update is not installed; merged 1 local rule files: 6 rules") {
		t.Fatalf("update: %d %q %s", code, out.String(), errOut.String())
	}
	out.Reset()
	if code := run(context.Background(), []string{"pakon", "rules", "status", "-c", env.cfg, "-j"}, &out, &errOut); code != 0 {
		t.Fatalf("status: %d %s", code, errOut.String())
	}
	var rs RulesStatus
	if err := json.Unmarshal(out.Bytes(), &rs); err != nil || !rs.Status.OK || rs.Status.Rules != 6 || len(rs.Files) < 2 || rs.Files[0].Rules != 6 {
		t.Errorf("status %+v %v", rs, err)
	}
	out.Reset()
	if code := run(context.Background(), []string{"pakon", "rules", "-c", env.cfg, "status"}, &out, &errOut); code != 0 ||
		!strings.Contains(out.String(), "6 rules") {
		t.Errorf("options before the subcommand: %d %s %s", code, out.String(), errOut.String())
	}
	if code := run(context.Background(), []string{"pakon", "rules", "frobnicate", "-c", env.cfg}, &out, &errOut); code != 2 {
		t.Errorf("unknown subcommand: exit %d", code)
	}
}
