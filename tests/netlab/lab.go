package netlab

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Fixed addresses of every lab. The LAN prefix depends on Config.Subnet.
const (
	LANIface      = "br-lan"            // the router's LAN bridge: capture and Suricata run here
	RouterMAC     = "02:00:00:00:00:01" // br-lan's address
	DNSServerV4   = "198.51.100.53"     // the authoritative trafficgen DNS server
	DNSServerV6   = "2001:db8:53::53"
	WANRouterV4   = "192.0.2.1" // router ↔ internet transfer net (TEST-NET-1)
	WANInternetV4 = "192.0.2.2"
	WANRouterV6   = "2001:db8:ffff::1"
	WANInternetV6 = "2001:db8:ffff::2"
	ClientIface   = "eth0" // the interface name inside every client namespace
)

// DefaultZone is the DNS zone used when Config.Zone is nil: a CDN CNAME
// chain of two links, dual-stack names, a v4-only name and short and long
// TTLs. Every A and AAAA address is served by the web server.
var DefaultZone = []string{
	"www.example.test 300 CNAME edge.cdn.test",
	"static.example.test 3600 CNAME assets.example.test",
	"assets.example.test 600 CNAME edge.cdn.test",
	"edge.cdn.test 60 A 203.0.113.10",
	"edge.cdn.test 60 AAAA 2001:db8:cd::10",
	"api.example.test 120 A 203.0.113.20",
	"api.example.test 120 AAAA 2001:db8:cd::20",
	"video.stream.test 30 A 203.0.113.30",
	"ntp.example.test 86400 A 198.51.100.123",
}

// ClientConfig describes one LAN device.
type ClientConfig struct {
	// Name is short (at most 8 characters), names the namespace and is the
	// host name the device sends in DHCP.
	Name string
	// MAC is the device's address, e.g. "02:00:00:00:00:0a".
	MAC string
	// Host is the last byte of its addresses (10.99.S.Host, fd99:S::Host);
	// zero means 10 plus the device's index.
	Host int
	// DHCP leaves IPv4 unconfigured until Client.DHCP gets a lease from
	// dnsmasq (Config.Dnsmasq must be set); the lease is still 10.99.S.Host.
	DHCP bool
}

// DefaultClient is the device used when Config.Clients is empty.
var DefaultClient = ClientConfig{Name: "laptop", MAC: "02:00:00:00:00:0a"}

// Config describes a lab. The zero value is one client, DefaultZone and no
// dnsmasq.
type Config struct {
	Clients []ClientConfig
	// Subnet picks the LAN prefixes 10.99.Subnet.0/24 and fd99:Subnet::/64;
	// zero means 1. Labs are isolated, so parallel labs may share it.
	Subnet int
	// Zone holds the DNS records as "NAME TTL TYPE DATA" lines.
	Zone []string
	// TLSMax caps the web server's TLS version: "1.2" shows certificates to
	// Suricata for every connection; the default "1.3" only when the client
	// asks for 1.2 (step option tls=1.2).
	TLSMax string
	// CertCN fixes the certificate subject CN; empty means the client's SNI.
	CertCN string
	// Dnsmasq runs dnsmasq on br-lan: DNS forwarder to DNSServerV4 (the
	// clients' resolver then is the router) and DHCP server.
	Dnsmasq bool
}

// Lab is a running set of namespaces: LAN clients, a router and the
// "internet". Everything is removed by t.Cleanup.
type Lab struct {
	Router   string // namespace names
	Internet string
	Clients  []*Client

	RouterIPv4 netip.Addr // on br-lan
	RouterIPv6 netip.Addr
	// Resolver is the DNS server Client.Run passes to trafficgen: the
	// router when dnsmasq runs, DNSServerV4 otherwise. Tests may change it.
	Resolver string
	// Dir is a per-lab temporary directory (zone file, leases, captures).
	Dir string

	DNS     *Process // trafficgen dns-server in Internet
	Web     *Process // trafficgen web-server in Internet
	Dnsmasq *Process // nil unless Config.Dnsmasq

	cfg       Config
	bin       string
	namespace []string
	procs     []*Process
}

// Client is one LAN device namespace with a single interface, ClientIface.
type Client struct {
	Name string
	NS   string
	MAC  net.HardwareAddr
	IPv4 netip.Addr // configured at start unless Config DHCP is set
	IPv6 netip.Addr

	lab       *Lab
	ipv4Ready bool
}

var labSeq atomic.Int64

// nsPrefix starts every namespace the lab creates; the owner's pid follows
// so stale ones can be found.
const nsPrefix = "pkl"

// Require skips the test unless it runs as root with the given programs in
// PATH.
func Require(tb testing.TB, programs ...string) {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skip("netlab: needs root (network namespaces); run the tests as root")
	}
	for _, p := range programs {
		if _, err := exec.LookPath(p); err != nil {
			tb.Skipf("netlab: %s not found in PATH (tests/setup-debian.sh installs it)", p)
		}
	}
}

// New builds a lab and starts its servers. It skips the test when not root
// or when ip, tcpdump (or dnsmasq, if asked for) are missing.
func New(tb testing.TB, cfg Config) *Lab {
	tb.Helper()
	progs := []string{"ip", "tcpdump"}
	if cfg.Dnsmasq {
		progs = append(progs, "dnsmasq")
	}
	Require(tb, progs...)
	bin, err := Trafficgen()
	if err != nil {
		tb.Fatal(err)
	}
	if cfg.Subnet == 0 {
		cfg.Subnet = 1
	}
	if cfg.Subnet < 1 || cfg.Subnet > 254 {
		tb.Fatalf("netlab: subnet %d out of 1..254", cfg.Subnet)
	}
	if len(cfg.Clients) == 0 {
		cfg.Clients = []ClientConfig{DefaultClient}
	}
	if cfg.Zone == nil {
		cfg.Zone = DefaultZone
	}
	sweepStale()

	base := fmt.Sprintf("%s%d-%d", nsPrefix, os.Getpid(), labSeq.Add(1))
	l := &Lab{
		Router:     base + "-r",
		Internet:   base + "-i",
		RouterIPv4: netip.MustParseAddr(fmt.Sprintf("10.99.%d.1", cfg.Subnet)),
		RouterIPv6: netip.MustParseAddr(fmt.Sprintf("fd99:%d::1", cfg.Subnet)),
		Resolver:   DNSServerV4,
		Dir:        tb.TempDir(),
		cfg:        cfg,
		bin:        bin,
	}
	tb.Cleanup(l.close)
	if err := l.build(base); err != nil {
		tb.Fatalf("netlab: %v", err)
	}
	if err := l.startServers(); err != nil {
		tb.Fatalf("netlab: %v", err)
	}
	return l
}

// ip runs the ip tool, in ns when set.
func ip(ns string, args ...string) error {
	if ns != "" {
		args = append([]string{"-n", ns}, args...)
	}
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Exec runs a command inside namespace ns and returns its combined output.
func (l *Lab) Exec(ns string, argv ...string) ([]byte, error) {
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns}, argv...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("in %s: %s: %w: %s", ns, strings.Join(argv, " "), err, strings.TrimSpace(string(out)))
	}
	return out, nil
}

func (l *Lab) addNamespace(name string) error {
	if err := ip("", "netns", "add", name); err != nil {
		return err
	}
	l.namespace = append(l.namespace, name)
	// Before any interface exists, so new interfaces inherit "default":
	// no DAD delay before addresses work, no router solicitations.
	_, err := l.Exec(name, "sysctl", "-q",
		"-w", "net.ipv6.conf.default.accept_dad=0",
		"-w", "net.ipv6.conf.default.router_solicitations=0",
		"-w", "net.ipv6.conf.default.accept_ra=0",
		"-w", "net.ipv6.conf.all.accept_ra=0")
	if err != nil {
		return err
	}
	return ip(name, "link", "set", "lo", "up")
}

func (l *Lab) build(base string) error {
	for _, ns := range []string{l.Router, l.Internet} {
		if err := l.addNamespace(ns); err != nil {
			return err
		}
	}
	r, in := l.Router, l.Internet
	steps := [][]string{
		{r, "link", "add", LANIface, "address", RouterMAC, "type", "bridge", "forward_delay", "0", "stp_state", "0"},
		{r, "addr", "add", fmt.Sprintf("%s/24", l.RouterIPv4), "dev", LANIface},
		{r, "addr", "add", fmt.Sprintf("%s/64", l.RouterIPv6), "dev", LANIface, "nodad"},
		{"", "link", "add", "wan", "netns", r, "address", "02:00:00:00:ff:01", "type", "veth",
			"peer", "name", "eth0", "netns", in, "address", "02:00:00:00:ff:02"},
		{r, "addr", "add", WANRouterV4 + "/24", "dev", "wan"},
		{r, "addr", "add", WANRouterV6 + "/64", "dev", "wan", "nodad"},
		{in, "addr", "add", WANInternetV4 + "/24", "dev", "eth0"},
		{in, "addr", "add", WANInternetV6 + "/64", "dev", "eth0", "nodad"},
		{r, "link", "set", LANIface, "up"},
		{r, "link", "set", "wan", "up"},
		{in, "link", "set", "eth0", "up"},
		{r, "route", "add", "default", "via", WANInternetV4},
		{r, "-6", "route", "add", "default", "via", WANInternetV6},
		{in, "route", "add", "10.99.0.0/16", "via", WANRouterV4},
		{in, "-6", "route", "add", "fd99::/16", "via", WANRouterV6},
	}
	for _, st := range steps {
		if err := ip(st[0], st[1:]...); err != nil {
			return err
		}
	}
	if _, err := l.Exec(r, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1", "-w", "net.ipv6.conf.all.forwarding=1"); err != nil {
		return err
	}
	routerIfaces := []string{LANIface, "wan"}
	for i, cc := range l.cfg.Clients {
		c, err := l.addClient(base, i, cc)
		if err != nil {
			return err
		}
		routerIfaces = append(routerIfaces, fmt.Sprintf("lan%d", i))
		l.Clients = append(l.Clients, c)
	}
	// Server addresses live on the internet's loopback.
	addrs := map[string]bool{DNSServerV4: true, DNSServerV6: true}
	for _, line := range l.cfg.Zone {
		f := strings.Fields(line)
		if len(f) == 4 && (strings.EqualFold(f[2], "A") || strings.EqualFold(f[2], "AAAA")) {
			addrs[f[3]] = true
		}
	}
	for a := range addrs {
		ap, err := netip.ParseAddr(a)
		if err != nil {
			return fmt.Errorf("zone address %q: %w", a, err)
		}
		args := []string{"addr", "add", netip.PrefixFrom(ap, ap.BitLen()).String(), "dev", "lo"}
		if ap.Is6() {
			args = append(args, "nodad")
		}
		if err := ip(in, args...); err != nil {
			return err
		}
	}
	// Real checksums in captures: veth and bridges otherwise hand packets
	// on with the checksum left for an offload engine that never runs.
	if _, err := l.Exec(r, append([]string{l.bin, "txcsum-off"}, routerIfaces...)...); err != nil {
		return err
	}
	if _, err := l.Exec(in, l.bin, "txcsum-off", "eth0"); err != nil {
		return err
	}
	for _, c := range l.Clients {
		if _, err := l.Exec(c.NS, l.bin, "txcsum-off", ClientIface); err != nil {
			return err
		}
	}
	return nil
}

func (l *Lab) addClient(base string, i int, cc ClientConfig) (*Client, error) {
	if cc.Name == "" || len(cc.Name) > 8 {
		return nil, fmt.Errorf("client %d: name %q: want 1 to 8 characters", i, cc.Name)
	}
	mac, err := net.ParseMAC(cc.MAC)
	if err != nil {
		return nil, fmt.Errorf("client %s: %w", cc.Name, err)
	}
	host := cc.Host
	if host == 0 {
		host = 10 + i
	}
	if cc.DHCP && !l.cfg.Dnsmasq {
		return nil, fmt.Errorf("client %s: DHCP needs Config.Dnsmasq", cc.Name)
	}
	c := &Client{
		Name: cc.Name,
		NS:   fmt.Sprintf("%s-c%d", base, i),
		MAC:  mac,
		IPv4: netip.MustParseAddr(fmt.Sprintf("10.99.%d.%d", l.cfg.Subnet, host)),
		IPv6: netip.MustParseAddr(fmt.Sprintf("fd99:%d::%d", l.cfg.Subnet, host)),
		lab:  l,
	}
	if err := l.addNamespace(c.NS); err != nil {
		return nil, err
	}
	port := fmt.Sprintf("lan%d", i)
	steps := [][]string{
		{"", "link", "add", ClientIface, "netns", c.NS, "address", mac.String(), "type", "veth",
			"peer", "name", port, "netns", l.Router, "address", fmt.Sprintf("02:00:00:00:01:%02x", i)},
		{l.Router, "link", "set", port, "master", LANIface},
		{l.Router, "link", "set", port, "up"},
		{c.NS, "addr", "add", c.IPv6.String() + "/64", "dev", ClientIface, "nodad"},
		{c.NS, "link", "set", ClientIface, "up"},
		{c.NS, "-6", "route", "add", "default", "via", l.RouterIPv6.String()},
	}
	for _, st := range steps {
		if err := ip(st[0], st[1:]...); err != nil {
			return nil, err
		}
	}
	if !cc.DHCP {
		if err := c.configureIPv4(); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func (c *Client) configureIPv4() error {
	if err := ip(c.NS, "addr", "add", c.IPv4.String()+"/24", "dev", ClientIface); err != nil {
		return err
	}
	if err := ip(c.NS, "route", "add", "default", "via", c.lab.RouterIPv4.String()); err != nil {
		return err
	}
	c.ipv4Ready = true
	return nil
}

func isReady(line string) bool { return strings.Contains(line, `"event":"ready"`) }

func (l *Lab) startServers() error {
	zonePath := filepath.Join(l.Dir, "zone.txt")
	if err := os.WriteFile(zonePath, []byte(strings.Join(l.cfg.Zone, "\n")+"\n"), 0o644); err != nil {
		return fmt.Errorf("write zone: %w", err)
	}
	var err error
	l.DNS, err = l.Start("dns-server", l.Internet, []string{l.bin, "dns-server", "-zone", zonePath,
		"-listen", DNSServerV4 + ":53", "-listen", "[" + DNSServerV6 + "]:53"}, isReady)
	if err != nil {
		return err
	}
	tlsMax := l.cfg.TLSMax
	if tlsMax == "" {
		tlsMax = "1.3"
	}
	l.Web, err = l.Start("web-server", l.Internet, []string{l.bin, "web-server", "-cn", l.cfg.CertCN, "-tls-max", tlsMax}, isReady)
	if err != nil {
		return err
	}
	if l.cfg.Dnsmasq {
		if err := l.startDnsmasq(); err != nil {
			return err
		}
		l.Resolver = l.RouterIPv4.String()
	}
	return nil
}

func (l *Lab) startDnsmasq() error {
	s := l.cfg.Subnet
	args := []string{"dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--log-facility=-",
		"--user=root", "--group=root", "--pid-file=" + filepath.Join(l.Dir, "dnsmasq.pid"),
		"--no-resolv", "--no-hosts", "--server=" + DNSServerV4,
		"--interface=" + LANIface, "--bind-interfaces", "--except-interface=lo",
		"--dhcp-authoritative", "--dhcp-leasefile=" + filepath.Join(l.Dir, "dnsmasq.leases"),
		fmt.Sprintf("--dhcp-range=10.99.%d.100,10.99.%d.199,255.255.255.0,1h", s, s),
		"--log-dhcp",
	}
	for _, c := range l.Clients {
		args = append(args, fmt.Sprintf("--dhcp-host=%s,%s,%s", c.MAC, c.IPv4, c.Name))
	}
	var err error
	l.Dnsmasq, err = l.Start("dnsmasq", l.Router, args, func(line string) bool {
		return strings.Contains(line, "DHCP, IP range")
	})
	return err
}

// Start runs argv in namespace ns, waits for ready (nil: no wait) and stops
// the process when the lab closes.
func (l *Lab) Start(name, ns string, argv []string, ready func(string) bool) (*Process, error) {
	p, err := startProcess(name, ns, argv, ready, 20*time.Second)
	if err != nil {
		return nil, err
	}
	l.procs = append(l.procs, p)
	return p, nil
}

// close stops every process and deletes the namespaces.
func (l *Lab) close() {
	for i := len(l.procs) - 1; i >= 0; i-- {
		l.procs[i].Stop()
	}
	for i := len(l.namespace) - 1; i >= 0; i-- {
		deleteNamespace(l.namespace[i])
	}
}

// deleteNamespace kills whatever still runs inside ns, then removes it.
func deleteNamespace(ns string) {
	if out, err := exec.Command("ip", "netns", "pids", ns).Output(); err == nil {
		for _, f := range strings.Fields(string(out)) {
			if pid, err := strconv.Atoi(f); err == nil {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	ip("", "netns", "del", ns)
}

// sweepStale removes namespaces left by lab owners that died without
// cleaning up (a test binary killed by its timeout).
func sweepStale() {
	entries, err := os.ReadDir("/var/run/netns")
	if err != nil {
		return
	}
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), nsPrefix)
		if !ok {
			continue
		}
		pidStr, _, ok := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidStr)
		if !ok || err != nil {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			deleteNamespace(e.Name())
		}
	}
}
