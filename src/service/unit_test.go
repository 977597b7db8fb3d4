package service_test

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// unitDir holds the systemd units shipped for Debian.
var unitDir = filepath.Join("..", "..", "files", "systemd")

// readUnit returns the settings of a unit file as "Section.Key" → values
// in order (a key may repeat).
func readUnit(t *testing.T, name string) map[string][]string {
	t.Helper()
	f, err := os.Open(filepath.Join(unitDir, name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = strings.Trim(line, "[]")
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("%s: line %q is no setting", name, line)
			}
			out[section+"."+k] = append(out[section+"."+k], v)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestUnitSettings pins what the daemon's code relies on: Type=notify
// with a watchdog (Notifier), the socket's runtime directory, the config
// path, SIGHUP for reload.
func TestUnitSettings(t *testing.T) {
	u := readUnit(t, "pakon.service")
	want := map[string]string{
		"Service.Type":             "notify",
		"Service.WatchdogSec":      "30s",
		"Service.ExecStart":        "/usr/bin/pakon daemon -c /etc/pakon/pakon.conf",
		"Service.ExecReload":       "/bin/kill -HUP $MAINPID",
		"Service.RuntimeDirectory": "pakon",
		"Service.StateDirectory":   "pakon",
		"Service.Restart":          "on-failure",
		"Service.ProtectSystem":    "strict",
		"Service.PrivateTmp":       "yes",
		"Service.NoNewPrivileges":  "yes",
		"Service.User":             "pakon",
		"Install.WantedBy":         "multi-user.target",
	}
	for k, v := range want {
		if got := u[k]; len(got) != 1 || got[0] != v {
			t.Errorf("pakon.service %s = %q, want %q", k, got, v)
		}
	}
	s := readUnit(t, "pakon-suricata.service")
	if after := strings.Join(s["Unit.After"], " "); !strings.Contains(after, "pakon.service") {
		t.Errorf("pakon-suricata.service After=%q, want pakon.service in it", after)
	}
	if exec := strings.Join(s["Service.ExecStart"], " "); !strings.Contains(exec, "-c /etc/pakon/suricata.yaml") || !strings.Contains(exec, "$SURICATA_INTERFACES") {
		t.Errorf("pakon-suricata.service ExecStart=%q", exec)
	}
}

// TestUnitVerify runs systemd-analyze verify on the units, with the
// programs they start replaced by /bin/true (verify wants them to exist).
// Unknown or malformed settings make verify print warnings, which fail
// the test.
func TestUnitVerify(t *testing.T) {
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skip("systemd-analyze not found (Debian package systemd)")
	}
	dir := t.TempDir()
	for _, name := range []string{"pakon.service", "pakon-suricata.service"} {
		b, err := os.ReadFile(filepath.Join(unitDir, name))
		if err != nil {
			t.Fatal(err)
		}
		s := strings.NewReplacer("/usr/bin/pakon ", "/bin/true ", "/usr/bin/suricata ", "/bin/true ",
			"EnvironmentFile=/etc/default/pakon-suricata", "EnvironmentFile=-/etc/default/pakon-suricata").Replace(string(b))
		if s == string(b) {
			t.Fatalf("%s: nothing replaced", name)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("systemd-analyze", "verify", "./pakon.service", "./pakon-suricata.service")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	// Units it pulls in that this machine lacks are not ours to judge.
	var problems []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if line != "" && strings.Contains(line, "pakon") {
			problems = append(problems, line)
		}
	}
	if err != nil || len(problems) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}
