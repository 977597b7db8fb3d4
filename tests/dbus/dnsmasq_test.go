// Package dbus_test drives Debian's real dnsmasq over a real dbus-daemon:
// dnsmasq serves DHCP in one network namespace, busybox's udhcpc asks for
// leases from another, and pakon's D-Bus watcher must turn dnsmasq's
// signals into device names.
//
// Run as root with dnsmasq, dbus-daemon, udhcpc and ip installed
// (tests/setup-debian.sh); otherwise the test skips.
package dbus_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pakon/pakon/src/dnsmasq"
	"github.com/pakon/pakon/src/dnsmasq/dbustest"
	"github.com/pakon/pakon/src/leases"
)

// The lab: 10.201.0.0/24 between the two namespaces, nothing else.
const (
	serverIP   = "10.201.0.1"
	rangeFirst = "10.201.0.100"
	rangeLast  = "10.201.0.150"
	clientMAC  = "02:00:00:c1:00:01"
	staticMAC  = "02:00:00:c1:00:02" // has a dhcp-host line with name and address
	staticIP   = "10.201.0.50"
	staticName = "living-room-tv"
)

// udhcpcScript configures the leased address so that a release, which
// udhcpc sends by unicast from that address, can leave. It never removes
// the address: a release still waiting for ARP would be dropped.
const udhcpcScript = `#!/bin/sh
case "$1" in
bound|renew) ip addr flush dev "$interface"; ip addr add "$ip/${mask:-24}" dev "$interface" ;;
esac
exit 0
`

func TestDnsmasqLeaseNames(t *testing.T) {
	requireTools(t, "ip", "dnsmasq", "udhcpc", "dbus-daemon")
	bus := dbustest.Start(t)
	lab := newLab(t)
	dm := lab.startDnsmasq(t, bus.Address())

	names := leases.New("", "") // no files: names can only come from the watcher
	rec := &recorder{names: dnsmasq.Names(names)}
	w := dnsmasq.NewDBus(dnsmasq.DBusOptions{Address: bus.Address(), Handler: rec.handle,
		ReconnectMin: 20 * time.Millisecond, ReconnectMax: 200 * time.Millisecond})
	if err := w.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		w.Close(ctx)
	})
	waitFor(t, "the watcher on the bus", w.Connected)

	// 1. A new lease with the client's host name: DhcpLeaseAdded.
	lab.dhcp(t, "-x", "hostname:kids-tablet")
	e := rec.next(t, dm, func(e dnsmasq.Event) bool { return e.MAC == clientMAC })
	if e.Kind != dnsmasq.Granted || e.Hostname != "kids-tablet" || !inRange(e.IP) {
		t.Fatalf("first lease: %+v", e)
	}
	leased := e.IP
	wantName(t, names, clientMAC, "kids-tablet")

	// 2. The client asks again under another name: DhcpLeaseUpdated.
	lab.dhcp(t, "-x", "hostname:laptop")
	e = rec.next(t, dm, func(e dnsmasq.Event) bool { return e.MAC == clientMAC && e.Hostname == "laptop" })
	if e.Kind != dnsmasq.Granted || e.IP != leased {
		t.Fatalf("renamed lease: %+v, want %s granted", e, leased)
	}
	wantName(t, names, clientMAC, "laptop")

	// 3. The client releases its lease: DhcpLeaseDeleted. The device keeps
	// its name.
	lab.dhcpRelease(t, "-x", "hostname:laptop")
	e = rec.next(t, dm, func(e dnsmasq.Event) bool { return e.Kind == dnsmasq.Released })
	if e.MAC != clientMAC || e.IP != leased {
		t.Fatalf("release: %+v, want %s %s", e, clientMAC, leased)
	}
	wantName(t, names, clientMAC, "laptop")

	// 4. A device that sends no name gets the one of its dhcp-host line.
	lab.setClientMAC(t, staticMAC)
	lab.dhcp(t)
	e = rec.next(t, dm, func(e dnsmasq.Event) bool { return e.MAC == staticMAC })
	if e.Kind != dnsmasq.Granted || e.Hostname != staticName || e.IP != netip.MustParseAddr(staticIP) {
		t.Fatalf("static lease: %+v", e)
	}
	wantName(t, names, staticMAC, staticName)
	rec.mu.Lock()
	t.Logf("events: %+v", rec.events)
	rec.mu.Unlock()
}

func requireTools(t *testing.T, tools ...string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces; run the tests as root")
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not found in PATH (tests/setup-debian.sh installs it)", tool)
		}
	}
}

func inRange(ip netip.Addr) bool {
	return ip.Compare(netip.MustParseAddr(rangeFirst)) >= 0 && ip.Compare(netip.MustParseAddr(rangeLast)) <= 0
}

func wantName(t *testing.T, names *leases.Names, mac, want string) {
	t.Helper()
	name, src, ok := names.Name(mac)
	if !ok || name != want || src != leases.SourceDHCP {
		t.Errorf("Name(%s) = %q, %q, %v; want %q from %s", mac, name, src, ok, want, leases.SourceDHCP)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// recorder keeps the events in order and feeds the names handler.
type recorder struct {
	mu     sync.Mutex
	events []dnsmasq.Event
	seen   int // events consumed by next
	names  dnsmasq.Handler
}

func (r *recorder) handle(e dnsmasq.Event) {
	r.names(e)
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

// next returns the first event after the ones already returned that
// matches, skipping others (renewals repeat DhcpLeaseUpdated).
func (r *recorder) next(t *testing.T, dm *process, match func(dnsmasq.Event) bool) dnsmasq.Event {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		r.mu.Lock()
		for r.seen < len(r.events) {
			e := r.events[r.seen]
			r.seen++
			if match(e) {
				r.mu.Unlock()
				return e
			}
		}
		all := slices.Clone(r.events)
		r.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("no matching event; events so far %+v\ndnsmasq:\n%s", all, dm.output())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// lab is a DHCP server namespace and a client namespace joined by a
// veth pair.
type lab struct {
	dir            string
	server, client string
}

var labSeq atomic.Int64

func newLab(t *testing.T) *lab {
	t.Helper()
	base := fmt.Sprintf("pdb%d-%d", os.Getpid(), labSeq.Add(1))
	l := &lab{dir: t.TempDir(), server: base + "-s", client: base + "-c"}
	for _, ns := range []string{l.server, l.client} {
		run(t, "ip", "netns", "add", ns)
		t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
		run(t, "ip", "-n", ns, "link", "set", "lo", "up")
	}
	run(t, "ip", "link", "add", "veth-s", "netns", l.server, "type", "veth",
		"peer", "name", "veth-c", "netns", l.client, "address", clientMAC)
	run(t, "ip", "-n", l.server, "addr", "add", serverIP+"/24", "dev", "veth-s")
	run(t, "ip", "-n", l.server, "link", "set", "veth-s", "up")
	run(t, "ip", "-n", l.client, "link", "set", "veth-c", "up")
	if err := os.WriteFile(filepath.Join(l.dir, "udhcpc.sh"), []byte(udhcpcScript), 0o755); err != nil {
		t.Fatal(err)
	}
	return l
}

// startDnsmasq runs Debian's dnsmasq as a DHCP server only (port=0), with
// D-Bus, on the given bus as its system bus.
func (l *lab) startDnsmasq(t *testing.T, busAddr string) *process {
	t.Helper()
	args := []string{"dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--log-facility=-",
		"--user=root", "--group=root", "--pid-file=" + filepath.Join(l.dir, "dnsmasq.pid"),
		"--port=0", "--interface=veth-s", "--bind-interfaces", "--dhcp-authoritative", "--no-ping",
		"--dhcp-leasefile=" + filepath.Join(l.dir, "dnsmasq.leases"),
		"--dhcp-range=" + rangeFirst + "," + rangeLast + ",255.255.255.0,1h",
		"--dhcp-host=" + staticMAC + "," + staticIP + "," + staticName,
		"--enable-dbus", "--log-dhcp",
	}
	p := start(t, l.server, []string{"DBUS_SYSTEM_BUS_ADDRESS=" + busAddr}, args...)
	waitFor(t, "dnsmasq on D-Bus", func() bool {
		out := p.output()
		if p.exited() {
			t.Fatalf("dnsmasq exited:\n%s", out)
		}
		return strings.Contains(out, "DBus support enabled: connected to system bus") &&
			strings.Contains(out, "DHCP, IP range")
	})
	return p
}

// dhcp gets a lease and exits, keeping it.
func (l *lab) dhcp(t *testing.T, opts ...string) {
	t.Helper()
	args := append([]string{"ip", "netns", "exec", l.client, "udhcpc", "-f", "-q", "-n", "-i", "veth-c",
		"-t", "10", "-T", "1", "-s", filepath.Join(l.dir, "udhcpc.sh")}, opts...)
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "obtained") {
		t.Fatalf("udhcpc: %v\n%s", err, out)
	}
}

// dhcpRelease gets a lease and releases it (udhcpc releases on SIGUSR2
// only while it runs).
func (l *lab) dhcpRelease(t *testing.T, opts ...string) {
	t.Helper()
	p := start(t, l.client, nil, append([]string{"udhcpc", "-f", "-n", "-i", "veth-c",
		"-t", "10", "-T", "1", "-s", filepath.Join(l.dir, "udhcpc.sh")}, opts...)...)
	waitFor(t, "udhcpc lease", func() bool { return strings.Contains(p.output(), "obtained") })
	p.signal(t, syscall.SIGUSR2)
	waitFor(t, "udhcpc release", func() bool { return strings.Contains(p.output(), "sending release") })
	p.stop()
}

func (l *lab) setClientMAC(t *testing.T, mac string) {
	t.Helper()
	run(t, "ip", "-n", l.client, "link", "set", "veth-c", "down")
	run(t, "ip", "-n", l.client, "addr", "flush", "dev", "veth-c")
	run(t, "ip", "-n", l.client, "link", "set", "veth-c", "address", mac)
	run(t, "ip", "-n", l.client, "link", "set", "veth-c", "up")
}

func run(t *testing.T, argv ...string) {
	t.Helper()
	if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
	}
}

// process is a program running in a namespace, its output collected.
type process struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  strings.Builder
	done chan struct{}
}

func start(t *testing.T, ns string, env []string, argv ...string) *process {
	t.Helper()
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns}, argv...)...)
	cmd.Env = append(os.Environ(), env...)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	p := &process{cmd: cmd, done: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", argv[0], err)
	}
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			p.mu.Lock()
			p.out.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
		}
	}()
	go func() {
		cmd.Wait()
		pw.Close()
		close(p.done)
	}()
	t.Cleanup(p.stop)
	return p
}

func (p *process) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *process) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v: %v", sig, err)
	}
}

// stop ends the process with SIGTERM, or SIGKILL after 5 s.
func (p *process) stop() {
	if p.exited() {
		return
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}
