package luci_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pakon/pakon/src/ubus"
	"github.com/pakon/pakon/src/uci"
	"github.com/pakon/pakon/tests/luci"
	"github.com/pakon/pakon/tests/netlab"
	"github.com/pakon/pakon/tests/pakontest"
)

// need skips when a tool is missing, except in CI, where it fails.
func need(t *testing.T, programs ...string) {
	t.Helper()
	for _, p := range programs {
		if _, err := exec.LookPath(p); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s not found in PATH (tests/setup-debian.sh installs it)", p)
			}
			t.Skipf("%s not found in PATH (tests/setup-debian.sh installs it)", p)
		}
	}
}

// eveRange returns epoch seconds around the events of an EVE file.
func eveRange(t *testing.T, path string) (int64, int64) {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lo, hi time.Time
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var ev struct{ Timestamp string }
		if json.Unmarshal(sc.Bytes(), &ev) != nil {
			continue
		}
		ts, err := time.Parse("2006-01-02T15:04:05.999999-0700", ev.Timestamp)
		if err != nil {
			continue
		}
		if lo.IsZero() || ts.Before(lo) {
			lo = ts
		}
		if ts.After(hi) {
			hi = ts
		}
	}
	if lo.IsZero() {
		t.Fatalf("no timestamps in %s", path)
	}
	return lo.Unix() - 3600, hi.Unix() + 3600
}

// npmCI installs playwright-core from package-lock.json unless the
// locked version is installed already.
func npmCI(t *testing.T, dir string) {
	var lock struct {
		Packages map[string]struct{ Version string } `json:"packages"`
	}
	data, err := os.ReadFile(filepath.Join(dir, "package-lock.json"))
	if err != nil || json.Unmarshal(data, &lock) != nil {
		t.Fatalf("read package-lock.json: %v", err)
	}
	want := lock.Packages["node_modules/playwright-core"].Version
	var have struct{ Version string }
	if data, err := os.ReadFile(filepath.Join(dir, "node_modules/playwright-core/package.json")); err == nil {
		json.Unmarshal(data, &have)
	}
	if want != "" && have.Version == want {
		return
	}
	cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm ci: %v\n%s", err, out)
	}
}

// TestBrowser runs the web page in chromium against the real daemon fed by
// real Suricata output of tests/data/demo.pcap.
func TestBrowser(t *testing.T) {
	need(t, "suricata", "chromium", "node", "npm")
	root := luci.Root()
	bin := pakontest.Binary(t)
	dir := t.TempDir()

	// The lab's rules make alerts for the Alerts view (browser/alerts.test.mjs).
	labRules := filepath.Join(root, "tests/netlab/testdata/lab.rules")
	eve := netlab.RunSuricataOnPcap(t, filepath.Join(root, "tests/data/demo.pcap"), filepath.Join(dir, "suricata"), "-S", labRules)
	start, end := eveRange(t, eve)

	// The config the daemon and the uci stand-in share: the shipped one,
	// with paths in the temp dir and every flow kept so that there is
	// more than one page.
	confDir := filepath.Join(dir, "config")
	if err := os.Mkdir(confDir, 0o755); err != nil {
		t.Fatal(err)
	}
	conf, err := uci.Load(filepath.Join(root, "files/etc/config/pakon"))
	if err != nil {
		t.Fatal(err)
	}
	conf.Path = filepath.Join(confDir, "pakon")
	mon := conf.Section("monitor")
	mon.Set("eve_socket", filepath.Join(dir, "eve.sock"))
	mon.Set("live_db", filepath.Join(dir, "live.db"))
	mon.Set("state_dir", dir)
	mon.Set("skip_dns", "0")
	mon.Set("skip_unidirectional", "0")
	conf.Section("archive").Set("path", filepath.Join(dir, "archive.db"))
	conf.Add("ubus", "ubus").Set("socket", filepath.Join(dir, "ubus.sock"))
	rules := conf.Section("rules")
	rules.Set("directory", filepath.Join(dir, "rules"))
	rules.SetList("local", labRules)
	lists := conf.Section("lists")
	lists.SetList("replace", filepath.Join(root, "lists/domains_replace"))
	lists.SetList("ignore", filepath.Join(root, "lists/domains_ignore"))
	if err := conf.Save(); err != nil {
		t.Fatal(err)
	}

	if out, err := exec.Command(bin, "import", "-c", conf.Path, eve).CombinedOutput(); err != nil {
		t.Fatalf("pakon import: %v\n%s", err, out)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	h, err := luci.Start(ctx, luci.Options{Socket: filepath.Join(dir, "ubus.sock"), ConfigDir: confDir})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close(context.Background())

	daemon := exec.Command(bin, "daemon", "-c", conf.Path)
	logs := &strings.Builder{}
	daemon.Stdout, daemon.Stderr = logs, logs
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		daemon.Process.Signal(os.Interrupt)
		daemon.Wait()
		if t.Failed() {
			t.Logf("pakon daemon log:\n%s", logs.String())
		}
	}()
	waitObject(t, ctx, h.Client, "pakon")

	testDir := filepath.Join(root, "tests/luci")
	npmCI(t, testDir)
	artifacts := filepath.Join(root, "tests/artifacts/luci")
	// One file at a time: pakon.test.mjs clears the data at its end.
	node := exec.CommandContext(ctx, "node", "--test", "--test-concurrency=1", "--test-reporter=spec", "browser/")
	node.Dir = testDir
	node.Env = append(os.Environ(),
		"PAKON_URL="+h.URL(), "PAKON_CONFIG="+conf.Path, "PAKON_ARTIFACTS="+artifacts,
		fmt.Sprintf("PAKON_START=%d", start), fmt.Sprintf("PAKON_END=%d", end), "CHROMIUM=/usr/bin/chromium")
	out, err := node.CombinedOutput()
	t.Logf("node --test browser/:\n%s", out)
	if err != nil {
		t.Fatalf("browser tests: %v", err)
	}

	// What the page saved is in the file, in pakon's own reading.
	saved, err := uci.Load(conf.Path)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := saved.Section("monitor").Get("commit_interval"); v != "30m" {
		t.Errorf("commit_interval = %q after the settings page saved 30m", v)
	}
	named := false
	for _, s := range saved.SectionsOfType("device") {
		mac, _ := s.Get("mac")
		name, _ := s.Get("name")
		named = named || (mac == "02:00:00:00:00:0b" && name == "phone")
	}
	if !named {
		t.Errorf("no device section naming 02:00:00:00:00:0b phone:\n%s", mustRead(t, conf.Path))
	}
}

func waitObject(t *testing.T, ctx context.Context, c *ubus.Client, name string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		if objs, err := c.Lookup(ctx, name); err == nil && len(objs) > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q object on the ubus broker after 15 s: is the daemon registering it?", name)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func mustRead(t *testing.T, path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
