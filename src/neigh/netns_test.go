package neigh_test

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/pakon/pakon/src/neigh"
)

// childEnv marks the copy of this test binary that runs inside the
// network namespace.
const childEnv = "PAKON_NEIGH_NETNS_CHILD"

// TestNetns fills the neighbour table of a network namespace it creates
// and looks entries up from a copy of the test binary run inside it with
// "ip netns exec". Nothing leaves the namespace: the veth pair lives in it
// and no packet is sent.
func TestNetns(t *testing.T) {
	if os.Getenv(childEnv) != "" {
		netnsChild(t)
		return
	}
	if os.Geteuid() != 0 {
		t.Skip("skipped: creating a network namespace needs root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("skipped: the ip command (iproute2) is not installed")
	}
	ns := fmt.Sprintf("pakon-neigh-test-%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Skipf("skipped: cannot create network namespace: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
			t.Errorf("delete network namespace %s: %v: %s", ns, err, out)
		}
	})
	ip := func(args ...string) error {
		out, err := exec.Command("ip", append([]string{"-n", ns}, args...)...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	must := func(args ...string) {
		t.Helper()
		if err := ip(args...); err != nil {
			t.Fatal(err)
		}
	}
	must("link", "add", "veth0", "type", "veth", "peer", "name", "veth1")
	must("link", "set", "veth0", "up")
	must("link", "set", "veth1", "up")
	must("neigh", "add", "192.0.2.10", "lladdr", "02:00:00:00:00:0a", "dev", "veth0", "nud", "permanent")
	must("neigh", "add", "192.0.2.11", "lladdr", "02:00:00:00:00:0B", "dev", "veth0", "nud", "stale")
	must("neigh", "add", "192.0.2.13", "lladdr", "02:00:00:00:00:0d", "dev", "veth0", "nud", "noarp")
	must("neigh", "add", "192.0.2.14", "lladdr", "00:00:00:00:00:00", "dev", "veth0", "nud", "permanent")
	// The kernel may refuse to create these states by hand; the child
	// checks they are absent either way.
	for _, args := range [][]string{
		{"neigh", "add", "192.0.2.12", "dev", "veth0", "nud", "incomplete"},
		{"neigh", "add", "192.0.2.15", "lladdr", "02:00:00:00:00:0f", "dev", "veth0", "nud", "failed"},
	} {
		if err := ip(args...); err != nil {
			t.Logf("not created (fine): %v", err)
		}
	}
	v6 := "1"
	if err := ip("-6", "neigh", "add", "2001:db8::10", "lladdr", "02:00:00:00:00:10", "dev", "veth0", "nud", "permanent"); err != nil {
		t.Logf("IPv6 not available in the namespace, IPv6 lookup not checked: %v", err)
		v6 = ""
	}

	cmd := exec.Command("ip", "netns", "exec", ns, os.Args[0], "-test.run=^TestNetns$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"=1", childEnv+"_V6="+v6)
	out, err := cmd.CombinedOutput()
	t.Logf("child in %s:\n%s", ns, out)
	if err != nil {
		t.Fatalf("child test in namespace: %v", err)
	}
	if !strings.Contains(string(out), "--- PASS: TestNetns") {
		t.Fatal("child test did not report a pass")
	}
}

// netnsChild runs inside the namespace.
func netnsChild(t *testing.T) {
	tab := neigh.New(time.Minute)
	if err := tab.Refresh(); err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	tests := []struct {
		ip, mac string
		ok      bool
	}{
		{"192.0.2.10", "02:00:00:00:00:0a", true},
		{"192.0.2.11", "02:00:00:00:00:0b", true},
		{"::ffff:192.0.2.10", "02:00:00:00:00:0a", true},
		{"192.0.2.12", "", false}, // incomplete
		{"192.0.2.13", "", false}, // noarp
		{"192.0.2.14", "", false}, // all-zero MAC
		{"192.0.2.15", "", false}, // failed
		{"192.0.2.99", "", false}, // absent
	}
	if os.Getenv(childEnv+"_V6") != "" {
		tests = append(tests, struct {
			ip, mac string
			ok      bool
		}{"2001:db8::10", "02:00:00:00:00:10", true})
	}
	for _, tt := range tests {
		mac, ok := tab.Lookup(netip.MustParseAddr(tt.ip))
		if mac != tt.mac || ok != tt.ok {
			t.Errorf("Lookup(%s) = %q, %v; want %q, %v", tt.ip, mac, ok, tt.mac, tt.ok)
		}
	}

	// The IPv4 fallback sees the same usable entries.
	arp, err := neigh.ReadARP("/proc/net/arp")
	if err != nil {
		t.Fatalf("ReadARP: %v", err)
	}
	want := map[netip.Addr]string{
		netip.MustParseAddr("192.0.2.10"): "02:00:00:00:00:0a",
		netip.MustParseAddr("192.0.2.11"): "02:00:00:00:00:0b",
	}
	if len(arp) != len(want) {
		t.Errorf("/proc/net/arp: got %v, want %v", arp, want)
	}
	for ip, mac := range want {
		if arp[ip] != mac {
			t.Errorf("/proc/net/arp %s: got %q, want %q", ip, arp[ip], mac)
		}
	}
}
