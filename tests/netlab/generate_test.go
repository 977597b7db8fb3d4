package netlab_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pakon/pakon/tests/netlab"
)

// Regenerating the shipped data (as root, from the repository root):
//
//	go test ./tests/netlab -run TestMakeFixtures -update-fixtures
//	go test ./tests/netlab -run TestMakeDemo -mkdemo
//
// Each run makes new traffic, so ports, ids, times and certificate
// fingerprints change; names, addresses and MACs stay.
var (
	updateFixtures = flag.Bool("update-fixtures", false, "rewrite src/eve/testdata/suricata7*.json from a lab run")
	mkdemo         = flag.Bool("mkdemo", false, "rewrite tests/data/demo.pcap from a lab run")
)

// fixtureClients are the two devices of the fixtures and the demo.
var fixtureClients = []netlab.ClientConfig{
	{Name: "laptop", MAC: "02:00:00:00:00:0a", DHCP: true},
	{Name: "phone", MAC: "02:00:00:00:00:0b"},
}

// TestMakeFixtures writes the decoder's EVE fixtures: every event type
// pakon reads, from a pcap (suricata7.json) and live (suricata7-live.json,
// which adds in_iface).
func TestMakeFixtures(t *testing.T) {
	if !*updateFixtures {
		t.Skip("run with -update-fixtures to rewrite src/eve/testdata")
	}
	l := netlab.New(t, netlab.Config{Dnsmasq: true, Clients: fixtureClients})
	laptop, phone := l.Clients[0], l.Clients[1]
	capture := l.StartCapture(t)
	laptop.DHCP(t)
	laptop.Run(t,
		"https://www.example.test/bytes/5000#tls=1.2&lport=40001",
		"https://api.example.test/bytes/300#af=6&lport=40002",
		"http://static.example.test/bytes/2000#send=100&lport=40003",
		"udp://video.stream.test:5000#send=100&recv=300&count=2&lport=40004",
		"quic://www.example.test#lport=40005",
		"dns://nope.example.test",
		"https://203.0.113.20/bytes/10#lport=40006",
	)
	phone.Run(t, "http://api.example.test/bytes/64#af=6&lport=40007")
	rules := filepath.Join(netlab.RepoRoot(), "tests", "netlab", "testdata", "lab.rules")
	eve := netlab.RunSuricataOnPcap(t, capture.Stop(t), t.TempDir(), "-S", rules)
	raw, err := os.ReadFile(eve)
	if err != nil {
		t.Fatal(err)
	}
	var keep []string
	icmp := 0
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		var e netlab.Event
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatal(err)
		}
		// Neighbour discovery and MLD: one flow is enough to show the shape.
		if e.Str("proto") == "IPv6-ICMP" {
			if icmp++; icmp > 1 {
				continue
			}
		}
		keep = append(keep, line)
	}
	writeFixture(t, "suricata7.json", keep)

	sock := filepath.Join(t.TempDir(), "eve.sock")
	sink := newEVESink(t, sock)
	s := netlab.StartSuricataLive(t, l.Router, netlab.LANIface, sock)
	laptop.Run(t,
		"https://www.example.test/bytes/100#lport=40011",
		"http://api.example.test/bytes/100#lport=40012",
	)
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if !sink.waitFor(func(line string) bool {
		return strings.Contains(line, `"src_port":40012,`) && strings.Contains(line, `"event_type":"flow"`)
	}, 20*time.Second) {
		t.Fatalf("live run logged no flow; suricata said:\n%s", s.Output())
	}
	sink.mu.Lock()
	var live []string
	for _, line := range sink.lines {
		if !strings.Contains(line, `"proto":"IPv6-ICMP"`) {
			live = append(live, line)
		}
	}
	sink.mu.Unlock()
	writeFixture(t, "suricata7-live.json", live)
}

func writeFixture(t *testing.T, name string, lines []string) {
	t.Helper()
	for _, typ := range []string{"flow", "dns", "tls", "http"} {
		if !strings.Contains(strings.Join(lines, "\n"), `"event_type":"`+typ+`"`) {
			t.Fatalf("%s: no %s event", name, typ)
		}
	}
	path := filepath.Join(netlab.RepoRoot(), "src", "eve", "testdata", name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %d lines to %s", len(lines), path)
}

// TestMakeDemo writes tests/data/demo.pcap: two devices, one of which gets
// its address and host name by DHCP, browsing names behind a CDN CNAME over
// TLS 1.2 and 1.3, HTTP, QUIC and UDP, over IPv4 and IPv6, with a
// longer-lived connection. tests/data/README.md describes what is in it.
func TestMakeDemo(t *testing.T) {
	if !*mkdemo {
		t.Skip("run with -mkdemo to rewrite tests/data/demo.pcap")
	}
	l := netlab.New(t, netlab.Config{Dnsmasq: true, Clients: fixtureClients})
	laptop, phone := l.Clients[0], l.Clients[1]
	capture := l.StartCapture(t)
	laptop.DHCP(t)
	laptop.Run(t,
		"https://www.example.test/bytes/20000#tls=1.2",
		"https://static.example.test/bytes/8000",
		"http://api.example.test/bytes/1500#send=300",
		"quic://www.example.test",
		"udp://video.stream.test:5000#send=200&recv=1000&count=5&every=100ms",
		"dns://nope.example.test",
	)
	phone.Run(t,
		"https://api.example.test/bytes/3000#af=6",
		"https://www.example.test/bytes/500#af=6&count=3&every=500ms&hold=1s",
		"http://static.example.test/bytes/700",
		"https://203.0.113.20/bytes/100",
	)
	pcap := capture.Stop(t)
	// The pcap must be usable: Suricata sees the same event types the
	// fixtures have.
	evs := netlab.ReadEVE(t, netlab.RunSuricataOnPcap(t, pcap, t.TempDir()))
	for _, typ := range []string{"flow", "dns", "tls", "http", "quic", "dhcp"} {
		if len(netlab.Filter(evs, typ)) == 0 {
			t.Fatalf("demo pcap gives no %s event", typ)
		}
	}
	b, err := os.ReadFile(pcap)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 300<<10 {
		t.Fatalf("demo pcap is %d bytes, want under 300 KiB", len(b))
	}
	if !bytes.HasPrefix(b, []byte{0xd4, 0xc3, 0xb2, 0xa1}) {
		t.Fatalf("demo pcap: not a little-endian pcap file")
	}
	dst := filepath.Join(netlab.RepoRoot(), "tests", "data", "demo.pcap")
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s (%d bytes, %d events)", dst, len(b), len(evs))
}
