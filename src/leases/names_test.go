package leases_test

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pakon/pakon/src/leases"
)

// MustNames copies the testdata files to a temporary directory and
// returns a refreshed registry over the copies.
func MustNames(tb testing.TB) (n *leases.Names, dhcp, lease string) {
	tb.Helper()
	dir := tb.TempDir()
	dhcp, lease = filepath.Join(dir, "dhcp"), filepath.Join(dir, "dhcp.leases")
	for src, dst := range map[string]string{"dhcp": dhcp, "dhcp.leases": lease} {
		b, err := os.ReadFile(filepath.Join("testdata", src))
		if err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	n = leases.New(dhcp, lease)
	if err := n.Refresh(); err != nil {
		tb.Fatal(err)
	}
	return n, dhcp, lease
}

func TestNamePrecedence(t *testing.T) {
	n, _, _ := MustNames(t)
	n.SetUserNames(map[string]string{"AA-BB-CC-DD-EE-10": "Dad's laptop", "bogus": "x"})
	n.Observe("aa:bb:cc:dd:ee:01", "seen-in-dhcp")
	n.Observe("aa:bb:cc:dd:ee:30", "only-seen.lan.")
	tests := []struct {
		mac, name, source string
	}{
		{"aa:bb:cc:dd:ee:10", "Dad's laptop", leases.SourceUser},      // user over dhcp config
		{"aa:bb:cc:dd:ee:11", "laptop", leases.SourceDHCPConfig},      // second MAC of a host
		{"aa:bb:cc:dd:ee:01", "kids-tablet", leases.SourceDHCPConfig}, // config over lease and traffic
		{"AA:BB:CC:DD:EE:21", "printer", leases.SourceDHCPConfig},     // list-form MACs
		{"aa:bb:cc:dd:ee:03", "printer", leases.SourceLease},
		{"aa:bb:cc:dd:ee:04", "laptop", leases.SourceLease},       // from a DHCPv6 DUID-LLT
		{"aa:bb:cc:dd:ee:05", "phone", leases.SourceLease},        // from a DHCPv6 DUID-LL
		{"aa:bb:cc:dd:ee:30", "only-seen.lan", leases.SourceDHCP}, // cleaned
		{"aa:bb:cc:dd:ee:02", "", ""},                             // lease with '*'
		{"not a mac", "", ""},
	}
	for _, tt := range tests {
		name, src, ok := n.Name(tt.mac)
		if name != tt.name || src != tt.source || ok != (tt.name != "") {
			t.Errorf("Name(%s) = %q, %q, %v; want %q, %q", tt.mac, name, src, ok, tt.name, tt.source)
		}
	}
}

func TestMACsForName(t *testing.T) {
	n, _, _ := MustNames(t)
	n.SetUserNames(map[string]string{"aa:bb:cc:dd:ee:40": "Kids-Tablet"})
	n.Observe("aa:bb:cc:dd:ee:41", "kids-tablet")
	tests := []struct{ name, want string }{
		{"kids-tablet", "[aa:bb:cc:dd:ee:01 aa:bb:cc:dd:ee:40 aa:bb:cc:dd:ee:41]"},
		{"KIDS-TABLET", "[aa:bb:cc:dd:ee:01 aa:bb:cc:dd:ee:40 aa:bb:cc:dd:ee:41]"},
		{"laptop", "[aa:bb:cc:dd:ee:04 aa:bb:cc:dd:ee:10 aa:bb:cc:dd:ee:11]"},
		{"nobody", "[]"},
		{"", "[]"},
	}
	for _, tt := range tests {
		if got := fmt.Sprint(n.MACsForName(tt.name)); got != tt.want {
			t.Errorf("MACsForName(%q) = %s, want %s", tt.name, got, tt.want)
		}
	}
}

func TestNameForIP(t *testing.T) {
	n, _, _ := MustNames(t)
	n.SetUserNames(map[string]string{"aa:bb:cc:dd:ee:03": "Office printer"})
	tests := []struct{ ip, name, source, mac string }{
		{"192.168.1.100", "kids-tablet", leases.SourceDHCPConfig, "aa:bb:cc:dd:ee:01"}, // lease → MAC → config name
		{"192.168.1.102", "Office printer", leases.SourceUser, "aa:bb:cc:dd:ee:03"},
		{"::ffff:192.168.1.102", "Office printer", leases.SourceUser, "aa:bb:cc:dd:ee:03"},
		{"fd00::102", "nas", leases.SourceLease, ""},         // DHCPv6 without MAC
		{"192.168.1.30", "nas", leases.SourceDHCPConfig, ""}, // static IP only
		{"192.168.1.10", "kids-tablet", leases.SourceDHCPConfig, "aa:bb:cc:dd:ee:01"},
		{"192.168.1.101", "", "", "aa:bb:cc:dd:ee:02"}, // '*' lease, MAC known but no name
		{"10.9.9.9", "", "", ""},
	}
	for _, tt := range tests {
		ip := netip.MustParseAddr(tt.ip)
		name, src, ok := n.NameForIP(ip)
		if name != tt.name || src != tt.source || ok != (tt.name != "") {
			t.Errorf("NameForIP(%s) = %q, %q, %v; want %q, %q", tt.ip, name, src, ok, tt.name, tt.source)
		}
		mac, ok := n.MACForIP(ip)
		if mac != tt.mac || ok != (tt.mac != "") {
			t.Errorf("MACForIP(%s) = %q, %v; want %q", tt.ip, mac, ok, tt.mac)
		}
	}
}

func TestProblems(t *testing.T) {
	n, dhcp, lease := MustNames(t)
	var got []string
	for _, e := range n.Problems() {
		got = append(got, e.Error())
	}
	want := []string{dhcp + ":31: host broken", lease + ":4: 3 fields", lease + ":9: invalid address"}
	if len(got) != len(want) {
		t.Fatalf("problems %q, want %q", got, want)
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("problem %q, want prefix %q", got[i], want[i])
		}
	}
}

// TestReload changes both files under a running registry.
func TestReload(t *testing.T) {
	n, dhcp, lease := MustNames(t)
	if name, _, _ := n.Name("aa:bb:cc:dd:ee:03"); name != "printer" {
		t.Fatalf("before: %q", name)
	}
	// Same size, new content: the modification time tells.
	old, _ := os.ReadFile(lease)
	changed := strings.Replace(string(old), " printer ", " scanner ", 1)
	if len(changed) != len(old) {
		t.Fatal("test wants same-size content")
	}
	if err := os.WriteFile(lease, []byte(changed), 0o644); err != nil {
		t.Fatal(err)
	}
	future := time.Now().Add(time.Minute)
	if err := os.Chtimes(lease, future, future); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dhcp, []byte("config host\n\toption name 'renamed'\n\toption mac 'aa:bb:cc:dd:ee:01'\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := n.Refresh(); err != nil {
		t.Fatal(err)
	}
	if name, src, _ := n.Name("aa:bb:cc:dd:ee:03"); name != "scanner" || src != leases.SourceLease {
		t.Errorf("after lease change: %q %q", name, src)
	}
	if name, _, _ := n.Name("aa:bb:cc:dd:ee:01"); name != "renamed" {
		t.Errorf("after dhcp change: %q", name)
	}
	if name, _, ok := n.Name("aa:bb:cc:dd:ee:10"); ok {
		t.Errorf("host section removed but its MAC is still named %q", name)
	}
	if len(n.Problems()) != 2 {
		t.Errorf("problems after reload %v, want only the 2 lease lines", n.Problems())
	}

	// A file that no longer parses keeps the old names and reports once.
	if err := os.WriteFile(dhcp, []byte("config host\n\toption name 'x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := n.Refresh(); err == nil || !strings.Contains(err.Error(), "unterminated") {
		t.Errorf("Refresh of a broken dhcp file: %v", err)
	}
	if err := n.Refresh(); err != nil {
		t.Errorf("second Refresh reported again: %v", err)
	}
	if name, _, _ := n.Name("aa:bb:cc:dd:ee:01"); name != "renamed" {
		t.Errorf("broken file dropped the old names: %q", name)
	}

	// A removed lease file empties its source.
	if err := os.Remove(lease); err != nil {
		t.Fatal(err)
	}
	if err := n.Refresh(); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := n.Name("aa:bb:cc:dd:ee:03"); ok {
		t.Error("name kept after the lease file was removed")
	}
	if len(n.Problems()) != 0 {
		t.Errorf("problems %v after removal", n.Problems())
	}
}

func TestMinCheckInterval(t *testing.T) {
	n, _, lease := MustNames(t)
	n.MinCheckInterval = time.Hour
	if err := n.Refresh(); err != nil { // sets the check time
		t.Fatal(err)
	}
	if err := os.WriteFile(lease, []byte("0 aa:bb:cc:dd:ee:03 10.0.0.1 other *\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := n.Refresh(); err != nil {
		t.Fatal(err)
	}
	if name, _, _ := n.Name("aa:bb:cc:dd:ee:03"); name != "printer" {
		t.Errorf("Refresh within MinCheckInterval re-read the file: %q", name)
	}
}

func TestMissingFiles(t *testing.T) {
	dir := t.TempDir()
	n := leases.New(filepath.Join(dir, "dhcp"), filepath.Join(dir, "leases"))
	if err := n.Refresh(); err != nil {
		t.Fatalf("missing files are not an error: %v", err)
	}
	if _, _, ok := n.Name("aa:bb:cc:dd:ee:01"); ok {
		t.Error("name from nowhere")
	}
	// Sources can be left out.
	if err := leases.New("", "").Refresh(); err != nil {
		t.Error(err)
	}
}

func TestObserveBounded(t *testing.T) {
	n := leases.New("", "")
	for i := range leases.MaxObserved + 10 {
		n.Observe(fmt.Sprintf("02:00:00:00:%02x:%02x", i>>8, i&0xff), fmt.Sprintf("h%d", i))
	}
	if _, _, ok := n.Name("02:00:00:00:00:00"); ok {
		t.Error("oldest observed name not evicted")
	}
	last := leases.MaxObserved + 9
	if name, _, _ := n.Name(fmt.Sprintf("02:00:00:00:%02x:%02x", last>>8, last&0xff)); name != fmt.Sprintf("h%d", last) {
		t.Errorf("newest observed name = %q", name)
	}
	n.Observe("02:00:00:00:00:01", "")
	n.Observe("junk", "x")
	if got := n.MACsForName("x"); len(got) != 0 {
		t.Errorf("invalid MAC observed: %v", got)
	}
}

// TestConcurrent is for the race detector: lookups, observations and
// reloads at once.
func TestConcurrent(t *testing.T) {
	n, _, lease := MustNames(t)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				mac := fmt.Sprintf("aa:bb:cc:dd:%02x:%02x", g, i%256)
				n.Observe(mac, "h")
				n.Name(mac)
				n.MACsForName("h")
				n.NameForIP(netip.MustParseAddr("192.168.1.100"))
				n.Problems()
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range 20 {
			line := fmt.Sprintf("0 aa:bb:cc:dd:ee:%02x 10.0.0.%d h%d *\n", i, i+1, i)
			if err := os.WriteFile(lease, []byte(line), 0o644); err != nil {
				t.Error(err)
				return
			}
			if err := n.Refresh(); err != nil {
				t.Error(err)
			}
		}
	}()
	wg.Wait()
	if name, _, _ := n.Name("aa:bb:cc:dd:ee:13"); name != "h19" {
		t.Errorf("final lease name %q, want h19", name)
	}
}

// TestRacyRewrite rewrites the lease file in place with the same size and
// time stamp, as a fast dnsmasq on a coarse clock can: a file modified
// just before it was read must be read again.
func TestRacyRewrite(t *testing.T) {
	n, _, lease := MustNames(t)
	stamp := time.Now().Truncate(time.Second)
	write := func(name string) {
		t.Helper()
		if err := os.WriteFile(lease, []byte("0 aa:bb:cc:dd:ee:03 10.0.0.1 "+name+" *\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(lease, stamp, stamp); err != nil {
			t.Fatal(err)
		}
		if err := n.Refresh(); err != nil {
			t.Fatal(err)
		}
	}
	write("first")
	write("again")
	if name, _, _ := n.Name("aa:bb:cc:dd:ee:03"); name != "again" {
		t.Errorf("same-size, same-time rewrite missed: %q", name)
	}
}
