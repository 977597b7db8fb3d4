package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/pakon/pakon/tests/netlab"
	"github.com/pakon/pakon/tests/pakontest"
)

// rowFor finds the stored flow of a client step by its local port.
func rowFor(t *testing.T, res pakontest.Result, step netlab.StepResult) pakontest.Row {
	t.Helper()
	for _, r := range res.Rows {
		if r.SrcPort == step.LocalPort && r.DestPort == step.Port {
			return r
		}
	}
	t.Fatalf("no stored flow for step %s (local port %d → %s:%d); rows:\n%s", step.Step, step.LocalPort, step.IP, step.Port, dump(res))
	return pakontest.Row{}
}

func dump(res pakontest.Result) string {
	var b strings.Builder
	for _, r := range res.Rows {
		fmt.Fprintf(&b, "  %s %s:%d → %s:%d %s %q(%s) sent %d recv %d active %v\n", r.MAC, r.SrcIP, r.SrcPort, r.DestIP, r.DestPort,
			r.AppProto, r.Hostname, r.NameSource, r.BytesSent, r.BytesReceived, r.Active)
	}
	return b.String()
}

// checkBytes asserts that Suricata's counts, which include IP and
// transport headers, cover the payload the client reported and exceed it
// by no more than headers could explain.
func checkBytes(t *testing.T, what string, got, payload int64) {
	t.Helper()
	if got < payload || got > payload+payload/2+4000 {
		t.Errorf("%s: stored %d bytes for %d bytes of payload", what, got, payload)
	}
}

// TestImportNamesFlows runs two devices' traffic through real Suricata on
// a capture, imports the EVE file and checks every flow pakon stored.
func TestImportNamesFlows(t *testing.T) {
	lab := netlab.New(t, netlab.Config{
		Clients: []netlab.ClientConfig{
			{Name: "laptop", MAC: "02:00:00:00:00:0a"},
			{Name: "phone", MAC: "02:00:00:00:00:0b"},
		},
		CertCN: "cert-only.example.test",
		// An address no device ever resolves: its flows can only be named
		// from the certificate.
		Zone: append(append([]string{}, netlab.DefaultZone...), "unresolved.example.test 60 A 203.0.113.40"),
	})
	capture := lab.StartCapture(t)
	laptop := lab.Clients[0].Run(t,
		"https://www.example.test/bytes/50000",            // SNI
		"http://api.example.test/bytes/3000",              // Host header
		"udp://video.stream.test:5000#send=100&recv=3000", // name from DNS only
		"https://static.example.test/bytes/2000#sni=-",    // no SNI: the DNS name (CNAME chain)
		"quic://www.example.test",                         // QUIC SNI
		"https://203.0.113.40/bytes/1000#tls=1.2",         // by IP, no SNI, no DNS: certificate CN
		"https://203.0.113.20/bytes/1000",                 // by IP, but resolved before: the DNS name
	)
	phone := lab.Clients[1].Run(t,
		"https://api.example.test/bytes/7000#af=6", // IPv6
	)
	eve := netlab.RunSuricataOnPcap(t, capture.Stop(t), t.TempDir())

	// QUIC Initials get no answer from the lab's server: keep one-way flows.
	pk := pakontest.New(t, "option skip_unidirectional '0'")
	out, errOut, code := pk.Run(t, "import", eve)
	if code != 0 {
		t.Fatalf("pakon import: exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "0 rejected") {
		t.Errorf("import summary: %s", out)
	}
	res := pk.Show(t, "--no-filter")

	want := []struct {
		step         netlab.StepResult
		mac, name    string
		source, app  string
		checkPayload bool
	}{
		{laptop[0], "02:00:00:00:00:0a", "www.example.test", "sni", "tls", true},
		{laptop[1], "02:00:00:00:00:0a", "api.example.test", "http", "http", true},
		{laptop[2], "02:00:00:00:00:0a", "video.stream.test", "dns", "", true},
		{laptop[3], "02:00:00:00:00:0a", "static.example.test", "dns", "tls", true},
		{laptop[4], "02:00:00:00:00:0a", "www.example.test", "quic", "quic", false},
		{laptop[5], "02:00:00:00:00:0a", "cert-only.example.test", "cert", "tls", true},
		{laptop[6], "02:00:00:00:00:0a", "api.example.test", "dns", "tls", true},
		{phone[0], "02:00:00:00:00:0b", "api.example.test", "sni", "tls", true},
	}
	for _, w := range want {
		t.Run(w.step.Step, func(t *testing.T) {
			r := rowFor(t, res, w.step)
			if r.MAC != w.mac || r.ObservedName != w.name || r.NameSource != w.source {
				t.Errorf("got mac %s name %q (%s), want %s %q (%s)", r.MAC, r.ObservedName, r.NameSource, w.mac, w.name, w.source)
			}
			if w.app != "" && r.AppProto != w.app {
				t.Errorf("app_proto %q, want %q", r.AppProto, w.app)
			}
			// The device is the source: its address, the server's as destination.
			if r.SrcIP != w.step.LocalIP || r.DestIP != w.step.IP {
				t.Errorf("direction: %s → %s, want %s → %s", r.SrcIP, r.DestIP, w.step.LocalIP, w.step.IP)
			}
			if r.Active || r.End < r.Start {
				t.Errorf("active %v start %f end %f", r.Active, r.Start, r.End)
			}
			if w.checkPayload {
				checkBytes(t, "sent", r.BytesSent, w.step.BytesSent)
				checkBytes(t, "received", r.BytesReceived, w.step.BytesReceived)
			} else if r.BytesSent < w.step.BytesSent {
				t.Errorf("sent %d < payload %d", r.BytesSent, w.step.BytesSent)
			}
		})
	}
	for _, r := range res.Rows {
		if r.DestPort == 53 {
			t.Errorf("DNS flow stored: %+v", r)
		}
	}
	// One-way flows are kept in this test, so ICMPv6 neighbour
	// discovery between router and phone shows up too; count the rest.
	transport := 0
	for _, r := range res.Rows {
		if r.Proto == "TCP" || r.Proto == "UDP" {
			transport++
		}
	}
	if res.Total != len(res.Rows) || transport != len(want) {
		t.Errorf("total %d, rows %d, TCP/UDP rows %d, want %d:\n%s", res.Total, len(res.Rows), transport, len(want), dump(res))
	}

	// Importing the same file again stores nothing twice.
	if _, errOut, code := pk.Run(t, "import", eve); code != 0 {
		t.Fatalf("second import: %s", errOut)
	}
	if again := pk.Show(t, "--no-filter"); again.Total != res.Total {
		t.Errorf("re-import changed total from %d to %d", res.Total, again.Total)
	}
}
