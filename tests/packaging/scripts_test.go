package packaging_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// shellScripts are every shell script the packages install.
func shellScripts(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, pattern := range []string{"files/etc/init.d/*", "uci-defaults/*", "luci-app-pakon/root/etc/uci-defaults/*",
		"tests/packaging/testdata/openwrt/lib/*.sh", "tests/packaging/testdata/openwrt/lib/functions/*.sh",
		"tests/packaging/testdata/openwrt/etc/rc.common"} {
		m, err := filepath.Glob(filepath.Join(repo, pattern))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m...)
	}
	if len(out) < 6 {
		t.Fatalf("found only %d scripts: %q", len(out), out)
	}
	return out
}

// TestScriptSyntax parses every script with sh -n, and with busybox ash
// (OpenWrt's shell) when it is installed.
func TestScriptSyntax(t *testing.T) {
	shells := [][]string{{"sh", "-n"}}
	for _, p := range []string{"/bin/busybox", "/usr/bin/busybox"} {
		if _, err := os.Stat(p); err == nil {
			shells = append(shells, []string{p, "sh", "-n"})
			break
		}
	}
	for _, s := range shellScripts(t) {
		for _, sh := range shells {
			out, err := exec.Command(sh[0], append(sh[1:], s)...).CombinedOutput()
			if err != nil {
				t.Errorf("%s %s: %v\n%s", strings.Join(sh, " "), s, err, out)
			}
		}
	}
}

// TestInitScriptsExecutable checks the mode and the rc.common interpreter
// line of the init scripts.
func TestInitScriptsExecutable(t *testing.T) {
	for _, name := range []string{"pakon", "pakon-suricata"} {
		p := filepath.Join(repo, "files/etc/init.d", name)
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm()&0o111 == 0 {
			t.Errorf("%s is not executable (%v)", p, fi.Mode())
		}
		if first := strings.SplitN(readFile(t, p), "\n", 2)[0]; first != "#!/bin/sh /etc/rc.common" {
			t.Errorf("%s starts with %q, want the rc.common interpreter line", p, first)
		}
	}
}

// installInit puts the init scripts, pakon's config and a stand-in
// suricata binary into root.
func installInit(t *testing.T, root, config string) {
	t.Helper()
	for _, name := range []string{"pakon", "pakon-suricata"} {
		copyFile(t, filepath.Join(repo, "files/etc/init.d", name), filepath.Join(root, "etc/init.d", name), 0o755)
	}
	if config != "" {
		writeFile(t, filepath.Join(root, "etc/config/pakon"), config, 0o600)
	}
	writeFile(t, filepath.Join(root, "usr/bin/suricata"), "#!/bin/sh\nexit 0\n", 0o755)
}

func shippedConfig(t *testing.T) string {
	return readFile(t, filepath.Join(repo, "files/etc/config/pakon"))
}

// only returns the single service in the log.
func only(t *testing.T, svcs []*service) *service {
	t.Helper()
	if len(svcs) != 1 {
		t.Fatalf("got %d procd messages, want 1: %+v", len(svcs), svcs)
	}
	return svcs[0]
}

func TestPakonInitStart(t *testing.T) {
	tests := []struct {
		name   string
		config string
		params map[string][]string
		dirs   []string
	}{
		{
			name:   "shipped config",
			config: "",
			params: map[string][]string{
				"command":       {"/usr/bin/pakon", "daemon", "-c", "/etc/config/pakon"},
				"file":          {"/etc/config/pakon", "/etc/config/dhcp", "/usr/share/pakon/domains_replace", "/usr/share/pakon/domains_ignore"},
				"reload_signal": {"HUP"},
				"respawn":       {},
				"term_timeout":  {"60"},
				"stdout":        {"1"},
				"stderr":        {"1"},
			},
			dirs: []string{"var/run/pakon", "var/lib/pakon"},
		},
		{
			name: "own paths and lists",
			config: "config monitor\n\toption eve_socket '/tmp/eve/s.sock'\n\toption live_db '/tmp/db/live.db'\n" +
				"\toption state_dir '/tmp/state'\n\nconfig lists 'lists'\n\tlist replace '/etc/pakon/mine'\n",
			params: map[string][]string{
				"command":       {"/usr/bin/pakon", "daemon", "-c", "/etc/config/pakon"},
				"file":          {"/etc/config/pakon", "/etc/config/dhcp", "/etc/pakon/mine", "/usr/share/pakon/domains_ignore"},
				"reload_signal": {"HUP"},
				"respawn":       {},
				"term_timeout":  {"60"},
				"stdout":        {"1"},
				"stderr":        {"1"},
			},
			dirs: []string{"tmp/eve", "tmp/db", "tmp/state"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := newRoot(t)
			cfg := tt.config
			if cfg == "" {
				cfg = shippedConfig(t)
			}
			installInit(t, root, cfg)
			mustChroot(t, root, "/etc/init.d/pakon start")
			svc := only(t, services(t, procdLog(t, root)))
			if svc.name != "pakon" || svc.script != "/etc/init.d/pakon" || svc.method != "set" {
				t.Errorf("service %q script %q method %q", svc.name, svc.script, svc.method)
			}
			if len(svc.instances) != 1 {
				t.Fatalf("%d instances, want 1", len(svc.instances))
			}
			if got := svc.instances[0].params; !reflect.DeepEqual(got, tt.params) {
				t.Errorf("instance params\n got %q\nwant %q", got, tt.params)
			}
			wantTriggers := [][]string{
				{"config.change", "pakon", "/etc/init.d/pakon", "reload"},
				{"config.change", "dhcp", "/etc/init.d/pakon", "reload"},
			}
			if !reflect.DeepEqual(svc.triggers, wantTriggers) {
				t.Errorf("triggers %q, want %q", svc.triggers, wantTriggers)
			}
			for _, d := range tt.dirs {
				if fi, err := os.Stat(filepath.Join(root, d)); err != nil || !fi.IsDir() {
					t.Errorf("start did not create /%s: %v", d, err)
				}
			}
		})
	}
}

// TestPakonInitReloadStop: reload resends the service (procd turns a
// changed file into SIGHUP), stop asks procd to kill it.
func TestPakonInitReloadStop(t *testing.T) {
	root := newRoot(t)
	installInit(t, root, shippedConfig(t))
	mustChroot(t, root, "/etc/init.d/pakon reload")
	svc := only(t, services(t, procdLog(t, root)))
	if svc.method != "set" || len(svc.instances) != 1 || svc.instances[0].params["reload_signal"][0] != "HUP" {
		t.Errorf("reload sent %+v", svc)
	}
	mustChroot(t, root, "/etc/init.d/pakon stop")
	if got := procdLog(t, root); !reflect.DeepEqual(got, []procdCall{{"kill", "pakon", ""}}) {
		t.Errorf("stop: procd calls %q", got)
	}
}

func TestInitEnableDisable(t *testing.T) {
	root := newRoot(t)
	installInit(t, root, shippedConfig(t))
	mustChroot(t, root, "/etc/init.d/pakon enable && /etc/init.d/pakon-suricata enable")
	links := map[string]string{
		"S80pakon": "../init.d/pakon", "K10pakon": "../init.d/pakon",
		"S81pakon-suricata": "../init.d/pakon-suricata", "K09pakon-suricata": "../init.d/pakon-suricata",
	}
	for name, target := range links {
		got, err := os.Readlink(filepath.Join(root, "etc/rc.d", name))
		if err != nil || got != target {
			t.Errorf("rc.d/%s -> %q (%v), want %q", name, got, err, target)
		}
	}
	mustChroot(t, root, "/etc/init.d/pakon disable && /etc/init.d/pakon-suricata disable")
	if ents, _ := os.ReadDir(filepath.Join(root, "etc/rc.d")); len(ents) != 0 {
		t.Errorf("rc.d not empty after disable: %v", ents)
	}
}

func TestSuricataInitStart(t *testing.T) {
	base := map[string][]string{
		"file":         {"/etc/pakon/suricata.yaml"},
		"respawn":      {},
		"term_timeout": {"15"},
		"stdout":       {"1"},
		"stderr":       {"1"},
	}
	with := func(kv ...any) map[string][]string {
		m := map[string][]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1].([]string)
		}
		return m
	}
	tests := []struct {
		name      string
		config    string
		noSuri    bool
		instances int
		params    map[string][]string
		log       string
	}{
		{
			name:      "shipped config",
			instances: 1,
			params: with("command", []string{"/usr/bin/suricata", "-c", "/etc/pakon/suricata.yaml", "--include", "/var/run/pakon-suricata/rules.yaml", "--af-packet=br-lan"},
				"netdev", []string{"br-lan"}),
		},
		{
			name: "interfaces from two sections, list and option, once each; own socket",
			config: "config monitor 'monitor'\n\tlist interface 'br-lan'\n\tlist interface 'br-guest'\n" +
				"\toption eve_socket '/tmp/p/e.sock'\n\nconfig monitor\n\toption interface 'br-guest wg0'\n",
			instances: 1,
			params: with("command", []string{"/usr/bin/suricata", "-c", "/etc/pakon/suricata.yaml", "--include", "/var/run/pakon-suricata/rules.yaml",
				"--af-packet=br-lan", "--af-packet=br-guest", "--af-packet=wg0",
				"--set", "outputs.0.eve-log.filename=/tmp/p/e.sock"},
				"netdev", []string{"br-lan", "br-guest", "wg0"}),
		},
		{
			name:      "no interface: the LAN bridge",
			config:    "config monitor 'monitor'\n\toption skip_dns '1'\n",
			instances: 1,
			params: with("command", []string{"/usr/bin/suricata", "-c", "/etc/pakon/suricata.yaml", "--include", "/var/run/pakon-suricata/rules.yaml", "--af-packet=br-lan"},
				"netdev", []string{"br-lan"}),
		},
		{
			name:   "eve_file: own Suricata, nothing started",
			config: "config monitor 'monitor'\n\tlist interface 'br-lan'\n\toption eve_file '/var/log/suricata/eve.json'\n",
		},
		{
			name:   "suricata not installed",
			noSuri: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := newRoot(t)
			cfg := tt.config
			if cfg == "" {
				cfg = shippedConfig(t)
			}
			installInit(t, root, cfg)
			if tt.noSuri {
				os.Remove(filepath.Join(root, "usr/bin/suricata"))
			}
			mustChroot(t, root, "/etc/init.d/pakon-suricata start")
			svc := only(t, services(t, procdLog(t, root)))
			if svc.name != "pakon-suricata" || svc.method != "set" {
				t.Errorf("service %q method %q", svc.name, svc.method)
			}
			if len(svc.instances) != tt.instances {
				t.Fatalf("%d instances, want %d: %+v", len(svc.instances), tt.instances, svc.instances)
			}
			if tt.instances > 0 && !reflect.DeepEqual(svc.instances[0].params, tt.params) {
				t.Errorf("instance params\n got %q\nwant %q", svc.instances[0].params, tt.params)
			}
			want := [][]string{{"config.change", "pakon", "/etc/init.d/pakon-suricata", "reload"}}
			if !reflect.DeepEqual(svc.triggers, want) {
				t.Errorf("triggers %q, want %q", svc.triggers, want)
			}
		})
	}
}

// runDefaults runs uci-defaults/90-pakon the way OpenWrt does (sourced in
// a subshell from /etc/uci-defaults, deleted when it exits 0) and returns
// "uci show pakon" afterwards.
func runDefaults(t *testing.T, root string) string {
	t.Helper()
	copyFile(t, filepath.Join(repo, "uci-defaults/90-pakon"), filepath.Join(root, "etc/uci-defaults/90-pakon"), 0o755)
	out := mustChroot(t, root, "cd /etc/uci-defaults && ( . ./90-pakon ) && rm -f 90-pakon && echo exit-0")
	if !strings.Contains(out, "exit-0") {
		t.Fatalf("90-pakon did not exit 0: %s", out)
	}
	if _, err := os.Stat(filepath.Join(root, "etc/uci-defaults/90-pakon")); !os.IsNotExist(err) {
		t.Fatalf("90-pakon was kept: %v", err)
	}
	if ents, _ := os.ReadDir(filepath.Join(root, "tmp/.uci")); len(ents) != 0 {
		t.Errorf("uncommitted changes left in /tmp/.uci: %v", ents)
	}
	return mustChroot(t, root, "uci show pakon")
}

func TestUCIDefaults(t *testing.T) {
	turris := readFile(t, filepath.Join(repo, "tests/packaging/testdata/pakon-turris"))
	tests := []struct {
		name   string
		config *string
		check  func(t *testing.T, before, after string)
	}{
		{
			name:   "shipped config unchanged",
			config: nil,
			check: func(t *testing.T, before, after string) {
				if before != after {
					t.Errorf("changed the shipped config:\n%s\n---\n%s", before, after)
				}
			},
		},
		{
			name:   "Turris PaKon common section folded into monitor",
			config: &turris,
			check: func(t *testing.T, before, after string) {
				if strings.Contains(after, "=common") || strings.Contains(after, ".common.") {
					t.Errorf("common section left:\n%s", after)
				}
				if !strings.Contains(after, "pakon.monitor.notify_new_devices='1'\n") {
					t.Errorf("notify_new_devices not moved to monitor:\n%s", after)
				}
				for _, l := range strings.Split(before, "\n") {
					if !strings.Contains(l, "common") && !strings.Contains(l, "notify_new_devices") && !strings.Contains(after, l) {
						t.Errorf("lost %q", l)
					}
				}
			},
		},
		{
			name:   "empty file gets a monitor section",
			config: new(string),
			check: func(t *testing.T, before, after string) {
				want := "pakon.monitor=monitor\npakon.monitor.interface='br-lan'\n"
				if after != want {
					t.Errorf("got\n%s\nwant\n%s", after, want)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := newRoot(t)
			cfg := shippedConfig(t)
			if tt.config != nil {
				cfg = *tt.config
			}
			writeFile(t, filepath.Join(root, "etc/config/pakon"), cfg, 0o600)
			before, _ := chroot(t, root, "uci show pakon")
			first := runDefaults(t, root)
			tt.check(t, before, first)
			file := readFile(t, filepath.Join(root, "etc/config/pakon"))
			if second := runDefaults(t, root); second != first {
				t.Errorf("second run changed the config:\n%s\n---\n%s", first, second)
			}
			if again := readFile(t, filepath.Join(root, "etc/config/pakon")); again != file {
				t.Errorf("second run rewrote the file differently")
			}
		})
	}
}

// TestUCIDefaultsNoFile: without /etc/config/pakon (deleted by hand), the
// script creates it.
func TestUCIDefaultsNoFile(t *testing.T) {
	root := newRoot(t)
	if got, want := runDefaults(t, root), "pakon.monitor=monitor\npakon.monitor.interface='br-lan'\n"; got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}
