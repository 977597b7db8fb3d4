package config_test

import (
	"errors"
	"net/netip"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pakon/pakon/src/config"
	"github.com/pakon/pakon/src/uci"
)

func fromText(t *testing.T, text string) (*config.Config, []config.Warning, error) {
	t.Helper()
	f, err := uci.Read(strings.NewReader(text), "pakon")
	if err != nil {
		t.Fatalf("uci: %v", err)
	}
	return config.FromUCI(f)
}

func TestDefault(t *testing.T) {
	c := config.Default()
	if c.EVESocket != "/var/run/pakon/eve.sock" || c.LiveDB != "/var/lib/pakon/pakon.db" ||
		c.StateDir != "/var/lib/pakon" || c.ArchivePath != "/srv/pakon/pakon-archive.db" {
		t.Errorf("paths: %+v", c)
	}
	if !c.SkipDNS || !c.SkipUnidirectional || c.QueueSize != 8192 || c.CommitInterval != time.Hour ||
		c.ArchiveKeep != 28*24*time.Hour || c.LiveDBLimit != 3000000 || c.ArchiveDBLimit != 10000000 {
		t.Errorf("values: %+v", c)
	}
	if len(c.ArchiveRules) != 4 || c.ArchiveRules[1] != (config.ArchiveRule{UpTo: 72 * time.Hour, Window: 15 * time.Minute, SizeThreshold: 8192}) {
		t.Errorf("rules: %+v", c.ArchiveRules)
	}
	for _, a := range []string{"10.1.2.3", "172.31.0.1", "192.168.1.1", "169.254.1.1", "fd00::1", "fe80::1", "::ffff:192.168.1.1"} {
		if !c.IsLocal(netip.MustParseAddr(a)) {
			t.Errorf("%s not local", a)
		}
	}
	for _, a := range []string{"8.8.8.8", "172.32.0.1", "2001:db8::1"} {
		if c.IsLocal(netip.MustParseAddr(a)) {
			t.Errorf("%s local", a)
		}
	}
	// Default returns fresh slices.
	c.ArchiveRules[0].UpTo = 0
	if config.Default().ArchiveRules[0].UpTo == 0 {
		t.Error("Default shares its slices")
	}
}

// TestShippedFile loads files/etc/config/pakon: it must match Default()
// but for the LAN interface, without warnings.
func TestShippedFile(t *testing.T) {
	path := filepath.Join("..", "..", "files", "etc", "config", "pakon")
	c, warns, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(warns) > 0 {
		t.Errorf("warnings: %v", warns)
	}
	want := config.Default()
	want.Path = path
	want.Interfaces = []string{"br-lan"}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("shipped file\n got %+v\nwant %+v", c, want)
	}
}

// TestPaKonFile loads the kind of file Turris PaKon ships.
func TestPaKonFile(t *testing.T) {
	c, warns, err := config.Load(filepath.Join("testdata", "pakon-turris"))
	if err != nil {
		t.Fatal(err)
	}
	if len(warns) > 0 {
		t.Errorf("warnings: %v", warns)
	}
	if !reflect.DeepEqual(c.Interfaces, []string{"br-lan", "br-guest_turris"}) {
		t.Errorf("interfaces %v", c.Interfaces)
	}
	if !c.NotifyNewDevices {
		t.Error("common.notify_new_devices 1 not applied")
	}
	if !reflect.DeepEqual(c.ArchiveRules, config.DefaultArchiveRules()) || c.ArchiveKeep != 4*config.Week {
		t.Errorf("archive %v %v", c.ArchiveRules, c.ArchiveKeep)
	}
}

func TestLoadMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pakon")
	c, warns, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	want := config.Default()
	want.Path = path
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got %+v", c)
	}
	if len(warns) != 1 || warns[0].String() != path+": file not found; using defaults" {
		t.Errorf("warnings %v", warns)
	}
}

func TestLoadSyntaxError(t *testing.T) {
	_, _, err := config.Load(filepath.Join("testdata", "syntax-error"))
	var pe *uci.ParseError
	if !errors.As(err, &pe) || pe.Line != 3 {
		t.Errorf("error %v, want a uci.ParseError at line 3", err)
	}
}

func TestOptions(t *testing.T) {
	pfx := func(ss ...string) []netip.Prefix {
		var out []netip.Prefix
		for _, s := range ss {
			out = append(out, netip.MustParsePrefix(s))
		}
		return out
	}
	tests := []struct {
		name string
		in   string
		got  func(*config.Config) any
		want any
	}{
		{"interface list", "config monitor 'monitor'\n list interface br-lan\n list interface wlan0\n",
			func(c *config.Config) any { return c.Interfaces }, []string{"br-lan", "wlan0"}},
		{"interface option with spaces", "config monitor\n option interface 'br-lan  br-guest'\n",
			func(c *config.Config) any { return c.Interfaces }, []string{"br-lan", "br-guest"}},
		{"mode", "config monitor\n option mode filter\n", func(c *config.Config) any { return c.Mode }, "filter"},
		{"notify", "config monitor\n option notify_new_devices yes\n", func(c *config.Config) any { return c.NotifyNewDevices }, true},
		{"live limit", "config monitor\n option database_limit 1000\n", func(c *config.Config) any { return c.LiveDBLimit }, 1000},
		{"eve socket", "config monitor\n option eve_socket /tmp/x/eve.sock\n", func(c *config.Config) any { return c.EVESocket }, "/tmp/x/eve.sock"},
		{"eve file cleaned", "config monitor\n option eve_file /var/log//suricata/./eve.json\n", func(c *config.Config) any { return c.EVEFile }, "/var/log/suricata/eve.json"},
		{"live db", "config monitor\n option live_db /tmp/live.db\n", func(c *config.Config) any { return c.LiveDB }, "/tmp/live.db"},
		{"state dir", "config monitor\n option state_dir /tmp/state\n", func(c *config.Config) any { return c.StateDir }, "/tmp/state"},
		{"local networks replace defaults", "config monitor\n list local_network 10.0.0.0/8\n list local_network 2001:db8::/32\n list local_network 192.0.2.7\n",
			func(c *config.Config) any { return c.LocalNetworks }, pfx("10.0.0.0/8", "2001:db8::/32", "192.0.2.7/32")},
		{"skip dns off", "config monitor\n option skip_dns 0\n", func(c *config.Config) any { return c.SkipDNS }, false},
		{"skip unidirectional off", "config monitor\n option skip_unidirectional off\n", func(c *config.Config) any { return c.SkipUnidirectional }, false},
		{"queue size", "config monitor\n option queue_size 100\n", func(c *config.Config) any { return c.QueueSize }, 100},
		{"commit interval", "config monitor\n option commit_interval 15m\n", func(c *config.Config) any { return c.CommitInterval }, 15 * time.Minute},
		{"commit interval seconds", "config monitor\n option commit_interval 600\n", func(c *config.Config) any { return c.CommitInterval }, 10 * time.Minute},
		{"ubus socket", "config ubus 'ubus'\n option socket /run/ubus.sock\n", func(c *config.Config) any { return c.UbusSocket }, "/run/ubus.sock"},
		{"ubus write group", "config ubus 'ubus'\n option write_group pakon\n", func(c *config.Config) any { return c.UbusWriteGroup }, "pakon"},
		{"archive path", "config archive 'archive'\n option path /mnt/a.db\n", func(c *config.Config) any { return c.ArchivePath }, "/mnt/a.db"},
		{"archive keep", "config archive\n option keep 86400\n", func(c *config.Config) any { return c.ArchiveKeep }, 24 * time.Hour},
		{"archive keep forever", "config archive\n option keep 0\n", func(c *config.Config) any { return c.ArchiveKeep }, time.Duration(0)},
		{"archive limit", "config archive\n option database_limit 5\n", func(c *config.Config) any { return c.ArchiveDBLimit }, 5},
		{"archive rules replace defaults", "config archive_rule\n option up_to 2h\n option window 1m\n option size_threshold 10\nconfig archive_rule\n option up_to 2d\n option window 3600\n",
			func(c *config.Config) any { return c.ArchiveRules },
			[]config.ArchiveRule{{UpTo: 2 * time.Hour, Window: time.Minute, SizeThreshold: 10}, {UpTo: 48 * time.Hour, Window: time.Hour}}},
		{"lists", "config lists 'lists'\n list replace /etc/pakon/r1\n list replace /etc/pakon/r2\n list ignore /etc/pakon/i\n",
			func(c *config.Config) any { return [][]string{c.ReplaceLists, c.IgnoreLists} },
			[][]string{{"/etc/pakon/r1", "/etc/pakon/r2"}, {"/etc/pakon/i"}}},
		{"devices", "config device\n option mac AA-BB-CC-DD-EE-FF\n option name 'Kids tablet'\nconfig device\n option mac 00:11:22:33:44:55\n option name tv\n",
			func(c *config.Config) any { return c.Devices },
			[]config.Device{{MAC: "aa:bb:cc:dd:ee:ff", Name: "Kids tablet"}, {MAC: "00:11:22:33:44:55", Name: "tv"}}},
		{"device name lookup", "config device\n option mac aa:bb:cc:dd:ee:ff\n option name x\n",
			func(c *config.Config) any { n, _ := c.DeviceName("AA:BB:CC:DD:EE:FF"); return n }, "x"},
		{"untouched defaults", "config monitor\n option mode filter\n",
			func(c *config.Config) any { return c.LocalNetworks }, config.DefaultLocalNetworks()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _, err := fromText(t, tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := tt.got(c); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string // each must appear in the error text
	}{
		{"bad duration", "config archive 'archive'\n\toption keep 4x\n",
			[]string{`pakon:2: option keep: invalid duration "4x" (want seconds or a number with s, m, h, d or w)`}},
		{"negative duration", "config archive\n option keep -1d\n", []string{`pakon:2: option keep: invalid duration "-1d"`}},
		{"huge duration", "config archive\n option keep 99999999999w\n", []string{"pakon:2: option keep: duration \"99999999999w\" is too long"}},
		{"commit interval zero", "config monitor\n option commit_interval 0\n", []string{"pakon:2: option commit_interval:"}},
		{"bad bool", "config monitor\n option skip_dns maybe\n", []string{`pakon:2: option skip_dns: invalid boolean "maybe"`}},
		{"bad cidr", "config monitor\n list local_network 10.0.0.0/8\n list local_network 10.0.0.0/33\n",
			[]string{`pakon:3: option local_network: invalid network "10.0.0.0/33"`}},
		{"bad mac", "config device\n option mac aa:bb:cc\n option name x\n", []string{`pakon:2: option mac: invalid MAC address "aa:bb:cc"`}},
		{"eui64 mac", "config device\n option mac 00:11:22:33:44:55:66:77\n option name x\n", []string{"pakon:2: option mac: invalid MAC"}},
		{"device without name", "config device\n option mac aa:bb:cc:dd:ee:ff\n", []string{"pakon:1: device without option name"}},
		{"device without mac", "\nconfig device\n option name x\n", []string{"pakon:2: device without option mac"}},
		{"device control chars", "config device\n option mac aa:bb:cc:dd:ee:ff\n option name 'a\nb'\n", []string{"pakon:3: option name: device name"}},
		{"negative size", "config archive_rule\n option up_to 1d\n option window 60\n option size_threshold -5\n",
			[]string{"pakon:4: option size_threshold: -5 out of range"}},
		{"zero limit", "config monitor\n option database_limit 0\n", []string{"pakon:2: option database_limit: 0 out of range"}},
		{"bad write group", "config ubus 'ubus'\n option write_group 'a b'\n", []string{`pakon:2: option write_group: invalid group name "a b"`}},
		{"bad queue", "config monitor\n option queue_size lots\n", []string{`pakon:2: option queue_size: invalid number "lots"`}},
		{"relative path", "config archive\n option path archive.db\n", []string{`pakon:2: option path: want an absolute path, got "archive.db"`}},
		{"relative list path", "config lists\n list ignore /ok\n list ignore rel\n", []string{`pakon:3: option ignore: want an absolute path, got "rel"`}},
		{"empty interface", "config monitor\n list interface br-lan\n list interface ''\n", []string{"pakon:3: option interface: empty interface name"}},
		{"long interface", "config monitor\n list interface abcdefghijklmnop\n", []string{"pakon:2: option interface: interface name \"abcdefghijklmnop\" is longer than 15 bytes"}},
		{"blank interface option", "config monitor\n option interface ' '\n", []string{"pakon:2: option interface: empty list"}},
		{"rule without up_to", "config archive_rule\n option window 60\n", []string{"pakon:1: archive_rule without option up_to"}},
		{"rule without window", "config archive_rule\n option up_to 1d\n", []string{"pakon:1: archive_rule without option window"}},
		{"rule zero up_to", "config archive_rule\n option up_to 0\n option window 1\n", []string{"pakon:1: archive_rule: up_to must be more than 0"}},
		{"rules out of order", "config archive_rule\n option up_to 3d\n option window 60\nconfig archive_rule\n option up_to 1d\n option window 60\n",
			[]string{"pakon:4: archive_rule: up_to 1d must be later than the previous rule's 3d"}},
		{"several errors", "config monitor\n option skip_dns x\n option queue_size y\n",
			[]string{"pakon:2: option skip_dns", "pakon:3: option queue_size"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _, err := fromText(t, tt.in)
			if err == nil {
				t.Fatalf("no error (config %+v)", c)
			}
			if c != nil {
				t.Error("config returned along with an error")
			}
			var ce *config.Error
			if !errors.As(err, &ce) {
				t.Errorf("error %T is not a *config.Error", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestWarnings(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"none", "config monitor 'monitor'\n list interface br-lan\n", nil},
		{"unknown option", "config monitor 'monitor'\n\toption colour blue\n", []string{"pakon:2: unknown option 'colour' in section monitor"}},
		{"unknown section", "\nconfig frobnicator\n", []string{`pakon:2: unknown section type "frobnicator"`}},
		{"unknown rule option", "config archive_rule\n option up_to 1d\n option window 1\n option wibble 2\n", []string{"pakon:4: unknown option 'wibble' in section archive_rule"}},
		{"unknown device option", "config device\n option mac aa:bb:cc:dd:ee:ff\n option name x\n option ip 1.2.3.4\n", []string{"pakon:4: unknown option 'ip' in section device"}},
		{"filter mode", "config monitor\n option mode filter\n", []string{"pakon:2: mode 'filter' (PaKon's conntrack flow source) is not supported"}},
		{"other mode", "config monitor\n option mode socket\n", []string{"pakon:2: unknown mode 'socket' ignored"}},
		{"host bits", "config monitor\n list local_network 192.168.1.1/24\n", []string{"pakon:2: option local_network: 192.168.1.1/24 has host bits set; using 192.168.1.0/24"}},
		{"second monitor", "config monitor\nconfig monitor\n", []string{"pakon:2: second monitor section"}},
		{"duplicate device", "config device\n option mac aa:bb:cc:dd:ee:ff\n option name a\nconfig device\n option mac AA:BB:CC:DD:EE:FF\n option name b\n",
			[]string{`pakon:4: second device section for aa:bb:cc:dd:ee:ff; using name "b"`}},
		{"keep shorter than rules", "config archive 'archive'\n option keep 7d\n", []string{"pakon:2: archive keep 1w is shorter than the last archive_rule up_to 2w"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, warns, err := fromText(t, tt.in)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, w := range warns {
				got = append(got, w.String())
			}
			if len(got) != len(tt.want) {
				t.Fatalf("warnings %q, want %q", got, tt.want)
			}
			for i, w := range tt.want {
				if !strings.HasPrefix(got[i], w) {
					t.Errorf("warning %q, want prefix %q", got[i], w)
				}
			}
		})
	}
}

func TestDuplicateDeviceLastWins(t *testing.T) {
	c, _, err := fromText(t, "config device\n option mac aa:bb:cc:dd:ee:ff\n option name a\nconfig device\n option mac aa-bb-cc-dd-ee-ff\n option name b\n")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Devices) != 1 || c.Devices[0].Name != "b" {
		t.Errorf("devices %v", c.Devices)
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"86400", 24 * time.Hour, true},
		{"0", 0, true},
		{"30s", 30 * time.Second, true},
		{"15m", 15 * time.Minute, true},
		{"1h", time.Hour, true},
		{"1d", 24 * time.Hour, true},
		{"4w", 28 * 24 * time.Hour, true},
		{"1D", 24 * time.Hour, true},
		{"2W", 14 * 24 * time.Hour, true},
		{"", 0, false},
		{"d", 0, false},
		{"4x", 0, false},
		{"1.5h", 0, false},
		{" 1h", 0, false},
		{"-1", 0, false},
		{"+1", 0, false},
		{"1h30m", 0, false},
		{"9223372036854775807", 0, false},
	}
	for _, tt := range tests {
		got, err := config.ParseDuration(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
	for _, d := range []time.Duration{0, 90 * time.Second, time.Minute, 2 * time.Hour, 3 * config.Day, 4 * config.Week} {
		back, err := config.ParseDuration(config.FormatDuration(d))
		if err != nil || back != d {
			t.Errorf("FormatDuration(%v) = %q does not parse back (%v, %v)", d, config.FormatDuration(d), back, err)
		}
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{
		"0": 0, "1024": 1024, "48M": 48 << 20, "48MiB": 48 << 20, "1g": 1 << 30, "512k": 512 << 10, "10 MB": 10 << 20, "7B": 7,
	} {
		if got, err := config.ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "M", "-1", "1.5M", "12X", "9999999999G"} {
		if _, err := config.ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) accepted", in)
		}
	}
	f, err := uci.Read(strings.NewReader("config monitor 'monitor'\n\toption memory_limit 'lots'\n"), "/etc/config/pakon")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := config.FromUCI(f); err == nil || !strings.Contains(err.Error(), "pakon:2:") {
		t.Errorf("bad memory_limit: %v", err)
	}
}
