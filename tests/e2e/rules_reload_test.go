package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pakon/pakon/tests/netlab"
	"github.com/pakon/pakon/tests/pakontest"
)

// TestRulesUpdateReloadsLiveSuricata starts Suricata live with the rule
// file in rule-files of an included YAML file while it does not exist yet
// (as the init script and pakon-suricata.service do: a reload re-reads
// includes but forgets --set values), then `pakon rules update` (no suricata-update installed: the
// local file is merged) writes it and reloads Suricata over its
// unix-command socket: the next connection to the listed domain is an
// alert in the daemon, without a restart of Suricata.
func TestRulesUpdateReloadsLiveSuricata(t *testing.T) {
	lab := netlab.New(t, netlab.Config{
		Clients: []netlab.ClientConfig{{Name: "phone", MAC: "02:00:00:00:00:0b"}},
		Zone:    append(append([]string{}, netlab.DefaultZone...), "spy.example.test 60 A 203.0.113.66"),
	})
	dir := t.TempDir()
	rulesDir, local, sock := filepath.Join(dir, "rules"), filepath.Join(dir, "local.rules"), filepath.Join(dir, "command.socket")
	if err := os.WriteFile(local, []byte(stalkerRules), 0o644); err != nil {
		t.Fatal(err)
	}
	include := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(include, []byte("%YAML 1.1\n---\ndefault-rule-path: "+rulesDir+"\nrule-files:\n  - suricata.rules\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	pk := pakontest.New(t, "config rules 'rules'\n\toption directory '"+rulesDir+"'\n\tlist local '"+local+"'\n"+
		"\toption suricata_socket '"+sock+"'\n\toption suricata_pidfile '"+filepath.Join(dir, "none.pid")+"'")
	pk.StartDaemon(t)
	s := netlab.StartSuricataLive(t, lab.Router, netlab.LANIface, pk.Socket,
		"--include", include,
		"--set", "unix-command.enabled=yes", "--set", "unix-command.filename="+sock)
	waitFor(t, 20*time.Second, "the unix-command socket", func() bool { _, err := os.Stat(sock); return err == nil })
	if !strings.Contains(s.Output(), "No rule files match") {
		t.Errorf("suricata found a rule file before the first update:\n%s", s.Output())
	}

	// Without suricata-update (it may be installed here): the local file
	// is merged. The lab needs PATH back afterwards.
	path := os.Getenv("PATH")
	t.Setenv("PATH", filepath.Join(dir, "nobin"))
	out, errOut, code := pk.Run(t, "rules", "update", "-force")
	t.Setenv("PATH", path)
	if code != 0 || !strings.Contains(out, "3 rules") || !strings.Contains(out, "reloaded over "+sock) {
		t.Fatalf("pakon rules update: exit %d\n%s%s\nsuricata:\n%s", code, out, errOut, s.Output())
	}

	phone := lab.Clients[0].Run(t, "https://spy.example.test/bytes/1000")
	waitFor(t, 30*time.Second, "the alert", func() bool {
		return strings.Contains(mustRun(t, pk, "show", "--alerts", "-j", "-s", "-1d"), `"sid":9200002`)
	})
	res := showAlerts(t, pk, "-s", "-1d", "-H", "=spy.example.test")
	if res.Total == 0 || res.Rows[0].MAC != "02:00:00:00:00:0b" || phone[0].Error != "" {
		t.Errorf("alerts after the reload:\n%s", dumpAlerts(res))
	}
	st := mustRun(t, pk, "rules", "status", "-j")
	if !strings.Contains(st, `"ok": true`) || !strings.Contains(st, "reloaded over") {
		t.Errorf("rules status:\n%s", st)
	}
}

func mustRun(t *testing.T, pk *pakontest.Instance, args ...string) string {
	t.Helper()
	out, errOut, code := pk.Run(t, args...)
	if code != 0 {
		t.Fatalf("pakon %v: exit %d: %s", args, code, errOut)
	}
	return out
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("no %s after %v", what, d)
}
