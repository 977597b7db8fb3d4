package rules_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pakon/pakon/src/rules"
)

// fakeUpdater installs a suricata-update stand-in on PATH that logs its
// arguments and, for the main run, writes the output file from its --local
// files plus one downloaded rule (or fails like a host without network).
func fakeUpdater(t *testing.T, offline bool) (logPath string) {
	t.Helper()
	bin := t.TempDir()
	logPath = filepath.Join(bin, "calls.log")
	fail := ""
	if offline {
		fail = `echo "Failed to fetch https://rules.example.test/x.rules: <urlopen error [Errno -3] Temporary failure in name resolution>" >&2; exit 1`
	}
	script := `#!/bin/sh
echo "$*" >> ` + logPath + `
data=""; out=""; locals=""
while [ $# -gt 0 ]; do
	case "$1" in
	-D) data="$2"; shift ;;
	-o) out="$2"; shift ;;
	--local) locals="$locals $2"; shift ;;
	enable-source|add-source) mkdir -p "$data/update/sources"; echo "$2" > "$data/update/sources/$2.yaml"; exit 0 ;;
	update-sources) exit 0 ;;
	esac
	shift
done
` + fail + `
{ echo 'alert dns any any -> any any (msg:"downloaded"; sid:2000001; rev:1;)'; for f in $locals; do cat "$f"; done; } > "$out/suricata.rules"
`
	if err := os.WriteFile(filepath.Join(bin, "suricata-update"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	return logPath
}

func TestUpdateWithSuricataUpdate(t *testing.T) {
	log := fakeUpdater(t, false)
	out := t.TempDir()
	data := filepath.Join(out, "suricata-update")
	// A source enabled by an earlier run and since removed from the config.
	os.MkdirAll(filepath.Join(data, "update", "sources"), 0o755)
	os.WriteFile(filepath.Join(data, "update", "sources", "old.yaml"), nil, 0o644)
	o := rules.UpdateOptions{
		Sources:        []string{"et/open"},
		URLs:           []rules.Source{{Name: "pts", URL: "https://rules.example.test/suricata.rules"}},
		LocalFiles:     []string{"testdata/local.rules"},
		OutputDir:      out,
		SuricataConfig: "/etc/pakon/suricata.yaml",
		PidFile:        filepath.Join(out, "none.pid"),
	}
	st, err := rules.Update(context.Background(), o)
	if err != nil {
		t.Fatalf("Update: %v (%+v)", err, st)
	}
	if !st.OK || st.Rules != 5 || !strings.HasSuffix(st.Tool, "suricata-update") || st.LastSuccess.IsZero() ||
		!strings.Contains(st.Reload, "not running") {
		t.Errorf("status %+v", st)
	}
	calls, _ := os.ReadFile(log)
	want := []string{
		"-D " + data + " update-sources",
		"-D " + data + " enable-source et/open",
		"-D " + data + " add-source pts https://rules.example.test/suricata.rules",
		"-D " + data + " --no-test --no-reload -o " + out + " --suricata-conf /etc/pakon/suricata.yaml --local testdata/local.rules",
	}
	if got := strings.Split(strings.TrimSpace(string(calls)), "\n"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("calls:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if _, err := os.Stat(filepath.Join(data, "update", "sources", "old.yaml")); err == nil {
		t.Error("a source no longer configured is still enabled")
	}
	saved, err := rules.LoadStatus(out)
	if err != nil || saved.Rules != st.Rules || !saved.OK {
		t.Errorf("saved status %+v %v", saved, err)
	}
}

func TestUpdateOffline(t *testing.T) {
	fakeUpdater(t, true)
	out := t.TempDir()
	prev := `alert ip any any -> any any (msg:"previous"; sid:1; rev:1;)` + "\n"
	os.WriteFile(filepath.Join(out, "suricata.rules"), []byte(prev), 0o644)
	st, err := rules.Update(context.Background(), rules.UpdateOptions{Sources: []string{"et/open"}, OutputDir: out})
	if err == nil || st.OK {
		t.Fatalf("offline update succeeded: %+v", st)
	}
	if !strings.HasPrefix(st.Message, "no network:") || st.Rules != 1 {
		t.Errorf("status %+v", st)
	}
	if b, _ := os.ReadFile(filepath.Join(out, "suricata.rules")); string(b) != prev {
		t.Error("the previous rules were not kept")
	}
}

func TestUpdateWithoutSuricataUpdate(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	out := t.TempDir()
	st, err := rules.Update(context.Background(), rules.UpdateOptions{
		Sources: []string{"et/open"}, LocalFiles: []string{"testdata/local.rules"}, OutputDir: out})
	if err == nil || st.OK {
		t.Fatalf("want a failure with sources and no tool: %+v", st)
	}
	if st.Message != "suricata-update is not installed: cannot fetch et/open; 1 local rule files in use" || st.Tool != "" || st.Rules != 4 {
		t.Errorf("status %+v", st)
	}
	// Local files alone need no tool.
	st, err = rules.Update(context.Background(), rules.UpdateOptions{LocalFiles: []string{"testdata/local.rules"}, OutputDir: out})
	if err != nil || !st.OK || st.Rules != 4 || !strings.Contains(st.Message, "not installed; merged 1 local rule files") {
		t.Errorf("local only: %+v %v", st, err)
	}
	if _, err := rules.Update(context.Background(), rules.UpdateOptions{OutputDir: out}); err == nil {
		t.Error("no sources at all is not an error")
	}
}

// TestReloadSocket answers like Suricata's unix-command socket.
func TestReloadSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "command.socket")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan []string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		var msgs []string
		dec := json.NewDecoder(bufio.NewReader(c))
		for range 2 {
			var m map[string]string
			if dec.Decode(&m) != nil {
				break
			}
			msgs = append(msgs, m["version"]+m["command"])
			c.Write([]byte(`{"return": "OK", "message": "done"}` + "\n"))
		}
		got <- msgs
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	how, err := rules.Reload(ctx, sock, "")
	if err != nil || !strings.Contains(how, sock) {
		t.Fatalf("Reload = %q, %v", how, err)
	}
	if m := <-got; strings.Join(m, ",") != "0.2,reload-rules" {
		t.Errorf("suricata got %v", m)
	}
	// No socket, a pid file of a process that is not Suricata.
	pid := filepath.Join(t.TempDir(), "suricata.pid")
	os.WriteFile(pid, []byte("1\n"), 0o644)
	if _, err := rules.Reload(ctx, filepath.Join(t.TempDir(), "none"), pid); err == nil {
		t.Error("pid 1 taken for suricata")
	}
	os.WriteFile(pid, []byte(`12345678`), 0o644)
	if _, err := rules.Reload(ctx, "", pid); !errors.Is(err, rules.ErrNotRunning) {
		t.Errorf("stale pid file: %v", err)
	}
}
