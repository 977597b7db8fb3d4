package netlab_test

import (
	"bufio"
	"net"
	"net/netip"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pakon/pakon/tests/netlab"
)

// eveTime is Suricata's timestamp layout: microseconds and a ±hhmm offset.
const eveTime = "2006-01-02T15:04:05.999999-0700"

func find(evs []netlab.Event, match func(netlab.Event) bool) (netlab.Event, bool) {
	for _, e := range evs {
		if match(e) {
			return e, true
		}
	}
	return nil, false
}

func mustFind(t *testing.T, evs []netlab.Event, what string, match func(netlab.Event) bool) netlab.Event {
	t.Helper()
	e, ok := find(evs, match)
	if !ok {
		t.Fatalf("no %s event among %d", what, len(evs))
	}
	return e
}

// sameIP compares Suricata's address text (IPv6 written out in full) with
// an address in any form.
func sameIP(eve, want string) bool {
	a, err1 := netip.ParseAddr(eve)
	b, err2 := netip.ParseAddr(want)
	return err1 == nil && err2 == nil && a == b
}

func num(e netlab.Event, path string) float64 {
	f, _ := e.Get(path).(float64)
	return f
}

func strs(v any) []string {
	l, _ := v.([]any)
	var out []string
	for _, x := range l {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// TestLabPcap is the lab's self-test: traffic from one client, captured on
// br-lan, through Suricata with the shipped config, gives flow, dns, tls and
// http events that carry the client's MAC and match what the client did.
func TestLabPcap(t *testing.T) {
	l := netlab.New(t, netlab.Config{})
	c := l.Clients[0]
	capture := l.StartCapture(t)
	res := c.Run(t,
		"https://www.example.test/bytes/5000#tls=1.2",
		"http://api.example.test/bytes/2000",
	)
	evs := netlab.ReadEVE(t, netlab.RunSuricataOnPcap(t, capture.Stop(t), t.TempDir()))
	mac := c.MAC.String()

	for _, typ := range []string{"flow", "dns", "tls", "http"} {
		e := mustFind(t, evs, typ, func(e netlab.Event) bool {
			return e.Type() == typ && (e.Str("ether.src_mac") == mac || slices.Contains(strs(e.Get("ether.src_macs")), mac))
		})
		if _, err := time.Parse(eveTime, e.Str("timestamp")); err != nil {
			t.Errorf("%s timestamp: %v", typ, err)
		}
	}

	tlsRes := res[0]
	tlsEv := mustFind(t, evs, "tls", func(e netlab.Event) bool { return e.Type() == "tls" })
	if got := tlsEv.Str("tls.sni"); got != "www.example.test" {
		t.Errorf("tls.sni = %q", got)
	}
	if got := tlsEv.Str("tls.subject"); !strings.Contains(got, "CN=www.example.test") {
		t.Errorf("tls.subject = %q", got)
	}
	if got := int(num(tlsEv, "src_port")); got != tlsRes.LocalPort {
		t.Errorf("tls src_port = %d, client used %d", got, tlsRes.LocalPort)
	}

	ans := mustFind(t, evs, "dns answer", func(e netlab.Event) bool {
		return e.Type() == "dns" && e.Str("dns.type") == "answer" && e.Str("dns.rrname") == "www.example.test"
	})
	answers, _ := ans.Get("dns.answers").([]any)
	want := tlsRes.DNS[0].Answers
	if len(answers) != len(want) {
		t.Fatalf("dns answers = %v, client got %v", answers, want)
	}
	for i, a := range answers {
		m := netlab.Event(a.(map[string]any))
		if m.Str("rrname") != want[i].Name || m.Str("rrtype") != want[i].Type ||
			uint32(num(m, "ttl")) != want[i].TTL || m.Str("rdata") != want[i].Data {
			t.Errorf("answer %d = %v, client got %+v", i, m, want[i])
		}
	}

	httpRes := res[1]
	httpEv := mustFind(t, evs, "http", func(e netlab.Event) bool { return e.Type() == "http" })
	if httpEv.Str("http.hostname") != "api.example.test" || httpEv.Str("http.url") != "/bytes/2000" ||
		int64(num(httpEv, "http.length")) != httpRes.BodyReceived {
		t.Errorf("http event %v does not match client %+v", httpEv, httpRes)
	}

	flow := mustFind(t, evs, "http flow", func(e netlab.Event) bool {
		return e.Type() == "flow" && int(num(e, "src_port")) == httpRes.LocalPort
	})
	if !sameIP(flow.Str("src_ip"), c.IPv4.String()) || !sameIP(flow.Str("dest_ip"), httpRes.IP) ||
		flow.Str("app_proto") != "http" {
		t.Errorf("flow %v: want %s → %s app_proto http", flow, c.IPv4, httpRes.IP)
	}
	// Flow bytes count whole frames; the client counted TCP payload only.
	if got := int64(num(flow, "flow.bytes_toclient")); got <= httpRes.BytesReceived {
		t.Errorf("flow.bytes_toclient = %d, want more than the %d payload bytes", got, httpRes.BytesReceived)
	}
	if got := int64(num(flow, "flow.bytes_toserver")); got <= httpRes.BytesSent {
		t.Errorf("flow.bytes_toserver = %d, want more than the %d payload bytes", got, httpRes.BytesSent)
	}
}

// TestEVEFacts pins the facts pakon's correlation relies on (see the
// package documentation): which side src_ip and the MACs name for each
// event type. It fails if a Suricata update changes them.
func TestEVEFacts(t *testing.T) {
	l := netlab.New(t, netlab.Config{Dnsmasq: true, Clients: []netlab.ClientConfig{
		{Name: "laptop", MAC: "02:00:00:00:00:0a", DHCP: true},
	}})
	c := l.Clients[0]
	capture := l.StartCapture(t)
	lease := c.DHCP(t)
	res := c.Run(t,
		"https://www.example.test/bytes/300#tls=1.2",
		"http://static.example.test/bytes/100",
		"https://api.example.test/bytes/100#af=6",
		"udp://video.stream.test:5000#send=100&recv=300",
		"quic://www.example.test",
	)
	rules := filepath.Join(netlab.RepoRoot(), "tests", "netlab", "testdata", "lab.rules")
	evs := netlab.ReadEVE(t, netlab.RunSuricataOnPcap(t, capture.Stop(t), t.TempDir(), "-S", rules))
	mac, router := c.MAC.String(), netlab.RouterMAC
	client := c.IPv4.String()

	// Transaction events: src is the flow's initiator (the client), for the
	// answer and the server's certificate too, and so are the MACs.
	for _, tc := range []struct{ name, typ, sub string }{
		{"dns query", "dns", "query"},
		{"dns answer", "dns", "answer"},
		{"tls", "tls", ""},
		{"http", "http", ""},
		{"quic", "quic", ""},
	} {
		e := mustFind(t, evs, tc.name, func(e netlab.Event) bool {
			return e.Type() == tc.typ && (tc.sub == "" || e.Str("dns.type") == tc.sub) && sameIP(e.Str("src_ip"), client)
		})
		if e.Str("ether.src_mac") != mac || e.Str("ether.dest_mac") != router {
			t.Errorf("%s: ether %v, want src_mac %s dest_mac %s", tc.name, e.Get("ether"), mac, router)
		}
	}
	for _, e := range evs {
		if (e.Type() == "dns" || e.Type() == "tls" || e.Type() == "http") && !sameIP(e.Str("src_ip"), client) && !sameIP(e.Str("src_ip"), c.IPv6.String()) {
			t.Errorf("%s event from %s, want the client as src_ip: %v", e.Type(), e.Str("src_ip"), e)
		}
	}

	// Flow events: src is the initiator; MACs are lists per direction.
	udp := res[3]
	flow := mustFind(t, evs, "udp flow", func(e netlab.Event) bool {
		return e.Type() == "flow" && int(num(e, "src_port")) == udp.LocalPort
	})
	if !slices.Equal(strs(flow.Get("ether.src_macs")), []string{mac}) || !slices.Equal(strs(flow.Get("ether.dest_macs")), []string{router}) {
		t.Errorf("flow ether = %v, want src_macs [%s] dest_macs [%s]", flow.Get("ether"), mac, router)
	}
	if flow.Get("ether.src_mac") != nil {
		t.Errorf("flow has ether.src_mac: %v", flow.Get("ether"))
	}

	// IPv6 addresses are written out in full, leading zeros included.
	v6 := mustFind(t, evs, "ipv6 tls", func(e netlab.Event) bool {
		return e.Type() == "tls" && sameIP(e.Str("src_ip"), c.IPv6.String())
	})
	if got := v6.Str("src_ip"); got != "fd99:0001:0000:0000:0000:0000:0000:0010" {
		t.Errorf("IPv6 src_ip written as %q", got)
	}

	// Alerts: src is the sender of the packet that matched; "direction"
	// says which way it went and "flow" keeps the initiator's view.
	reply := mustFind(t, evs, "to_client alert", func(e netlab.Event) bool {
		return e.Type() == "alert" && num(e, "alert.signature_id") == 9000002
	})
	if reply.Str("direction") != "to_client" || !sameIP(reply.Str("dest_ip"), client) ||
		!sameIP(reply.Str("flow.src_ip"), client) || reply.Str("ether.dest_mac") != mac {
		t.Errorf("to_client alert: %v", reply)
	}
	if reply.Str("http.hostname") != "static.example.test" {
		t.Errorf("alert without its http object: %v", reply)
	}
	req := mustFind(t, evs, "to_server alert", func(e netlab.Event) bool {
		return e.Type() == "alert" && num(e, "alert.signature_id") == 9000004
	})
	if req.Str("direction") != "to_server" || !sameIP(req.Str("src_ip"), client) || req.Str("ether.src_mac") != mac {
		t.Errorf("to_server alert: %v", req)
	}

	// DHCP: every message is its own packet-direction event; the client is
	// dhcp.client_mac, the lease dhcp.assigned_ip in the ack.
	ack := mustFind(t, evs, "dhcp ack", func(e netlab.Event) bool {
		return e.Type() == "dhcp" && e.Str("dhcp.dhcp_type") == "ack"
	})
	if ack.Str("dhcp.client_mac") != mac || ack.Str("dhcp.assigned_ip") != lease.IP ||
		!sameIP(ack.Str("src_ip"), l.RouterIPv4.String()) || ack.Str("ether.src_mac") != router {
		t.Errorf("dhcp ack: %v", ack)
	}
	disc := mustFind(t, evs, "dhcp discover", func(e netlab.Event) bool {
		return e.Type() == "dhcp" && e.Str("dhcp.dhcp_type") == "discover"
	})
	if disc.Str("dhcp.hostname") != c.Name || disc.Str("src_ip") != "0.0.0.0" || disc.Str("ether.src_mac") != mac {
		t.Errorf("dhcp discover: %v", disc)
	}
}

// eveSink is a unix stream socket server collecting EVE lines, standing in
// for pakon's listener.
type eveSink struct {
	ln net.Listener
	wg sync.WaitGroup

	mu      sync.Mutex
	lines   []string
	conns   int
	active  []net.Conn
	perConn []int
}

func newEVESink(t *testing.T, path string) *eveSink {
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	s := &eveSink{ln: ln}
	s.wg.Add(1)
	go s.accept()
	t.Cleanup(s.close)
	return s
}

func (s *eveSink) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		idx := s.conns
		s.conns++
		s.active = append(s.active, c)
		s.perConn = append(s.perConn, 0)
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			sc := bufio.NewScanner(c)
			sc.Buffer(make([]byte, 64<<10), 16<<20)
			for sc.Scan() {
				s.mu.Lock()
				s.lines = append(s.lines, sc.Text())
				s.perConn[idx]++
				s.mu.Unlock()
			}
		}()
	}
}

func (s *eveSink) close() {
	s.ln.Close()
	s.mu.Lock()
	for _, c := range s.active {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// waitFor polls until match finds a line or the deadline passes.
func (s *eveSink) waitFor(match func(string) bool, within time.Duration) bool {
	for end := time.Now().Add(within); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		s.mu.Lock()
		ok := slices.ContainsFunc(s.lines, match)
		s.mu.Unlock()
		if ok {
			return true
		}
	}
	return false
}

// TestLabLive runs Suricata on br-lan with af-packet, EVE going to a unix
// socket, and checks that events arrive, that Stop flushes open flows and
// that Restart reconnects.
func TestLabLive(t *testing.T) {
	l := netlab.New(t, netlab.Config{})
	c := l.Clients[0]
	sink := newEVESink(t, filepath.Join(t.TempDir(), "eve.sock"))
	s := netlab.StartSuricataLive(t, l.Router, netlab.LANIface, sink.ln.Addr().String())

	first := c.Run(t, "http://api.example.test/bytes/100")[0]
	if !sink.waitFor(func(l string) bool {
		return strings.Contains(l, `"event_type":"http"`) && strings.Contains(l, `"in_iface":"br-lan"`)
	}, 20*time.Second) {
		t.Fatalf("no live http event; suricata said:\n%s", s.Output())
	}
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	// Stopping flushed the first connection's flow.
	if !sink.waitFor(func(l string) bool {
		return strings.Contains(l, `"event_type":"flow"`) && strings.Contains(l, `"src_port":`+strconv.Itoa(first.LocalPort)+`,`)
	}, 20*time.Second) {
		t.Fatalf("flow of the first connection not flushed on stop")
	}
	second := c.Run(t, "https://www.example.test/bytes/100")[0]
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if !sink.waitFor(func(l string) bool {
		return strings.Contains(l, `"event_type":"flow"`) && strings.Contains(l, `"src_port":`+strconv.Itoa(second.LocalPort)+`,`)
	}, 20*time.Second) {
		sink.mu.Lock()
		t.Logf("%d connections %v, lines:\n%s", sink.conns, sink.perConn, strings.Join(sink.lines, "\n"))
		sink.mu.Unlock()
		t.Fatalf("no flow after restart; suricata said:\n%s", s.Output())
	}
	sink.mu.Lock()
	conns := sink.conns
	sink.mu.Unlock()
	if conns != 2 {
		t.Errorf("suricata connected %d times, want 2 (start and restart)", conns)
	}
}

// TestSuricataConfig checks that the shipped config passes Suricata's test
// mode with no rules at all, and that the init script's way of adding a
// rule file works.
func TestSuricataConfig(t *testing.T) {
	netlab.Require(t, "suricata")
	cfg := netlab.SuricataConfig()
	if out, err := exec.Command("suricata", "-T", "-c", cfg, "-l", t.TempDir()).CombinedOutput(); err != nil {
		t.Fatalf("suricata -T: %v\n%s", err, out)
	}
	rules := filepath.Join(netlab.RepoRoot(), "tests", "netlab", "testdata")
	out, err := exec.Command("suricata", "-T", "-v", "-c", cfg, "-l", t.TempDir(),
		"--set", "default-rule-path="+rules, "--set", "rule-files.0=lab.rules").CombinedOutput()
	if err != nil {
		t.Fatalf("suricata -T with rules: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "6 rules successfully loaded") {
		t.Errorf("lab.rules not loaded:\n%s", out)
	}
}
