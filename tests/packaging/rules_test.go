package packaging_test

import (
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
