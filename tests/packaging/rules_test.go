package packaging_test

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestRulesCron runs uci-defaults/91-pakon-rules as OpenWrt does, twice:
// root's crontab gets one daily `pakon rules update` line, kept once.
func TestRulesCron(t *testing.T) {
	root := newRoot(t)
	writeFile(t, filepath.Join(root, "etc/crontabs/root"), "0 3 * * * /usr/bin/other-job\n", 0o600)
	for range 2 {
		copyFile(t, filepath.Join(repo, "uci-defaults/91-pakon-rules"), filepath.Join(root, "etc/uci-defaults/91-pakon-rules"), 0o755)
		out := mustChroot(t, root, "cd /etc/uci-defaults && ( . ./91-pakon-rules ) && rm -f 91-pakon-rules && echo exit-0")
		if !strings.Contains(out, "exit-0") {
			t.Fatalf("91-pakon-rules did not exit 0: %s", out)
		}
	}
	tab := readFile(t, filepath.Join(root, "etc/crontabs/root"))
	lines := strings.Split(strings.TrimSpace(tab), "\n")
	if len(lines) != 2 || lines[0] != "0 3 * * * /usr/bin/other-job" {
		t.Fatalf("crontab:\n%s", tab)
	}
	if !regexp.MustCompile(`^([0-9]|[1-5][0-9]) 4 \* \* \* /usr/bin/pakon rules update 2>&1 \| logger -t pakon-rules$`).MatchString(lines[1]) {
		t.Errorf("cron line %q", lines[1])
	}
}

// TestSuricataInitRulesInclude: the init script writes the include that
// loads rules.directory/suricata.rules, and real Suricata reads it.
func TestSuricataInitRulesInclude(t *testing.T) {
	root := newRoot(t)
	installInit(t, root, "config monitor 'monitor'\n\tlist interface 'br-lan'\n\nconfig rules 'rules'\n\toption directory '/tmp/my rules'\n")
	mustChroot(t, root, "/etc/init.d/pakon-suricata start")
	inc := readFile(t, filepath.Join(root, "var/run/pakon-suricata/rules.yaml"))
	want := "%YAML 1.1\n---\ndefault-rule-path: \"/tmp/my rules\"\nrule-files:\n  - suricata.rules\n"
	if inc != want {
		t.Fatalf("rules.yaml:\n%s\nwant:\n%s", inc, want)
	}
	if _, err := exec.LookPath("suricata"); err != nil {
		t.Skip("suricata not installed")
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "suricata.rules"), `alert ip any any -> 203.0.113.66 any (msg:"x"; sid:9300001; rev:1;)`+"\n", 0o644)
	own := filepath.Join(dir, "rules.yaml")
	writeFile(t, own, strings.Replace(inc, "/tmp/my rules", dir, 1), 0o644)
	for _, include := range []string{own, filepath.Join(repo, "files/systemd/suricata-rules.yaml")} {
		out, err := exec.Command("suricata", "-T", "-v", "-c", filepath.Join(repo, "files/etc/pakon/suricata.yaml"),
			"-l", t.TempDir(), "--include", include).CombinedOutput()
		switch {
		case include == own && (err != nil || !strings.Contains(string(out), "1 rules successfully loaded")):
			t.Errorf("suricata -T --include %s: %v\n%s", include, err, out)
		case include != own && !strings.Contains(string(out), "/srv/pakon/rules/suricata.rules"):
			t.Errorf("the shipped include does not name /srv/pakon/rules/suricata.rules:\n%s", out)
		}
	}
}
