package flow_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pakon/pakon/src/eve"
	"github.com/pakon/pakon/src/flow"
)

const (
	client    = "02:00:00:00:00:0a"
	routerMAC = "02:00:00:00:00:01"
)

// clock is a settable wall clock.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

type harness struct {
	t   *testing.T
	c   *flow.Correlator
	clk *clock
	dec eve.Decoder
}

func newHarness(t *testing.T, opts flow.Options) *harness {
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	opts.Now = clk.now
	return &harness{t: t, c: flow.New(opts), clk: clk}
}

func (h *harness) feed(lines ...string) {
	h.t.Helper()
	for _, l := range lines {
		var ev eve.Event
		if err := h.dec.Decode([]byte(l), &ev); err != nil {
			h.t.Fatalf("decode %s: %v", l, err)
		}
		h.c.Handle(&ev)
	}
}

func (h *harness) drain(final bool) []flow.Update { return h.c.Drain(nil, final) }

func ts(sec float64) string {
	return eve.Timestamp(sec * 1e6).Time().Format("2006-01-02T15:04:05.000000-0700")
}

func dnsAnswer(at float64, flowID int, clientIP, query string, answers ...string) string {
	var parts []string
	for _, a := range answers {
		f := strings.Fields(a) // name type ttl data
		parts = append(parts, fmt.Sprintf(`{"rrname":%q,"rrtype":%q,"ttl":%s,"rdata":%q}`, f[0], f[1], f[2], f[3]))
	}
	return fmt.Sprintf(`{"timestamp":%q,"flow_id":%d,"event_type":"dns","src_ip":%q,"src_port":40000,"dest_ip":"10.99.0.1","dest_port":53,"proto":"UDP","ether":{"src_mac":%q,"dest_mac":%q},"dns":{"version":2,"type":"answer","id":1,"rrname":%q,"rrtype":"A","rcode":"NOERROR","answers":[%s]}}`,
		ts(at), flowID, clientIP, client, routerMAC, query, strings.Join(parts, ","))
}

func flowEnd(start, end float64, flowID int, src, dst string, dport int, app string, toServer, toClient int) string {
	return fmt.Sprintf(`{"timestamp":%q,"flow_id":%d,"event_type":"flow","src_ip":%q,"src_port":50000,"dest_ip":%q,"dest_port":%d,"proto":"TCP","app_proto":%q,"flow":{"pkts_toserver":3,"pkts_toclient":4,"bytes_toserver":%d,"bytes_toclient":%d,"start":%q,"end":%q,"state":"closed","reason":"timeout"},"ether":{"src_macs":[%q],"dest_macs":[%q]}}`,
		ts(end+60), flowID, src, dst, dport, app, toServer, toClient, ts(start), ts(end), client, routerMAC)
}

func tlsEvent(at float64, flowID int, src, dst, sni, subject string) string {
	return fmt.Sprintf(`{"timestamp":%q,"flow_id":%d,"event_type":"tls","src_ip":%q,"src_port":50000,"dest_ip":%q,"dest_port":443,"proto":"TCP","ether":{"src_mac":%q,"dest_mac":%q},"tls":{"sni":%q,"subject":%q}}`,
		ts(at), flowID, src, dst, client, routerMAC, sni, subject)
}

func onlyRecord(t *testing.T, ups []flow.Update) flow.Record {
	t.Helper()
	if len(ups) != 1 {
		t.Fatalf("got %d updates, want 1: %+v", len(ups), ups)
	}
	return ups[0].Record
}

func TestNameFromDNSFollowsCNAMEChain(t *testing.T) {
	h := newHarness(t, flow.Options{SkipDNS: true, SkipUnidirectional: true})
	h.feed(
		dnsAnswer(100, 1, "10.99.0.10", "www.example.test",
			"www.example.test CNAME 300 edge.cdn.test", "edge.cdn.test CNAME 300 e1.cdn.test", "e1.cdn.test A 60 203.0.113.10"),
		flowEnd(100.5, 110, 2, "10.99.0.10", "203.0.113.10", 8443, "failed", 500, 7000),
	)
	rec := onlyRecord(t, h.drain(true))
	if rec.Name != "www.example.test" || rec.Source != flow.SourceDNS {
		t.Fatalf("name %q source %v", rec.Name, rec.Source)
	}
	if rec.MAC != client || rec.BytesSent != 500 || rec.BytesReceived != 7000 || rec.Active {
		t.Fatalf("record %+v", rec)
	}
}

func TestDNSAnswerMatchedAgainstFlowStartAndTTL(t *testing.T) {
	h := newHarness(t, flow.Options{DNSGrace: time.Second})
	h.feed(
		dnsAnswer(100, 1, "10.99.0.10", "old.test", "old.test A 10 203.0.113.10"),
		dnsAnswer(200, 3, "10.99.0.10", "new.test", "new.test A 10 203.0.113.10"),
		// Started while old.test was valid, ended after new.test was seen.
		flowEnd(105, 300, 2, "10.99.0.10", "203.0.113.10", 443, "tls", 1, 1),
		// Started after both TTLs ran out: no name.
		flowEnd(500, 510, 4, "10.99.0.10", "203.0.113.10", 443, "tls", 1, 1),
		// Another device never asked: no name.
		strings.Replace(flowEnd(201, 210, 5, "10.99.0.11", "203.0.113.10", 443, "tls", 1, 1), client, "02:00:00:00:00:0b", 1),
	)
	ups := h.drain(true)
	got := map[uint64]string{}
	for _, u := range ups {
		got[u.Record.FlowID] = u.Record.Name
	}
	if got[2] != "old.test" || got[4] != "" || got[5] != "" {
		t.Fatalf("names %v", got)
	}
}

func TestLaterAnswerDoesNotOverrideEarlierOne(t *testing.T) {
	h := newHarness(t, flow.Options{})
	h.feed(
		dnsAnswer(100, 1, "10.99.0.10", "a.test", "a.test A 60 203.0.113.10"),
		dnsAnswer(100.5, 3, "10.99.0.10", "b.test", "b.test A 60 203.0.113.10"),
		// Connects right after asking for b.test, then asks for a.test again.
		dnsAnswer(101.5, 5, "10.99.0.10", "a.test", "a.test A 60 203.0.113.10"),
		flowEnd(100.6, 102, 2, "10.99.0.10", "203.0.113.10", 443, "tls", 1, 1),
	)
	if rec := onlyRecord(t, h.drain(true)); rec.Name != "b.test" {
		t.Fatalf("name %q, want b.test", rec.Name)
	}
}

func TestGroupDestinationsSkipped(t *testing.T) {
	h := newHarness(t, flow.Options{})
	h.feed(
		strings.Replace(flowEnd(100, 101, 1, "fd00::11", "ff02::1:ff00:1", 0, "", 86, 86), `"proto":"TCP"`, `"proto":"IPv6-ICMP"`, 1),
		flowEnd(100, 101, 2, "10.99.0.10", "255.255.255.255", 67, "dhcp", 300, 300),
		flowEnd(100, 101, 3, "10.99.0.10", "224.0.0.251", 5353, "", 300, 300),
	)
	if ups := h.drain(true); len(ups) != 0 {
		t.Fatalf("group flows recorded: %+v", ups)
	}
}

func TestOutOfOrderDNSAnswerStillNamesFlow(t *testing.T) {
	h := newHarness(t, flow.Options{})
	// The flow ends and is logged before the DNS answer that preceded it.
	h.feed(flowEnd(100.2, 101, 2, "10.99.0.10", "203.0.113.20", 443, "tls", 10, 10))
	if ups := h.drain(false); len(ups) != 0 {
		t.Fatalf("flow written before hold: %+v", ups)
	}
	h.feed(dnsAnswer(100.1, 1, "10.99.0.10", "late.test", "late.test A 60 203.0.113.20"))
	h.clk.t = h.clk.t.Add(3 * time.Second)
	rec := onlyRecord(t, h.drain(false))
	if rec.Name != "late.test" {
		t.Fatalf("name %q", rec.Name)
	}
}

func TestNamePrecedence(t *testing.T) {
	h := newHarness(t, flow.Options{})
	h.feed(
		dnsAnswer(100, 1, "10.99.0.10", "dns.test", "dns.test A 60 203.0.113.30"),
		tlsEvent(100.1, 2, "10.99.0.10", "203.0.113.30", "", "C=CZ, O=Foo\\, Inc., CN=*.cert.test, emailAddress=x@y"),
		flowEnd(100, 101, 2, "10.99.0.10", "203.0.113.30", 443, "tls", 1, 1),
		tlsEvent(100.1, 3, "10.99.0.10", "203.0.113.31", "", "O=Kindle boss, CN=Kindle boss"),
		flowEnd(100, 101, 3, "10.99.0.10", "203.0.113.31", 443, "tls", 1, 1),
		tlsEvent(100.1, 4, "10.99.0.10", "203.0.113.30", "SNI.Test", "CN=cert.test"),
		flowEnd(100, 101, 4, "10.99.0.10", "203.0.113.30", 443, "tls", 1, 1),
		tlsEvent(100.1, 5, "10.99.0.10", "203.0.113.32", "", "CN=only.cert.test"),
		flowEnd(100, 101, 5, "10.99.0.10", "203.0.113.32", 443, "tls", 1, 1),
	)
	want := map[uint64][2]string{2: {"dns.test", "dns"}, 3: {"", ""}, 4: {"sni.test", "sni"}, 5: {"only.cert.test", "cert"}}
	for _, u := range h.drain(true) {
		w := want[u.Record.FlowID]
		if u.Record.Name != w[0] || u.Record.Source.String() != w[1] {
			t.Errorf("flow %d: %q/%q, want %q/%q", u.Record.FlowID, u.Record.Name, u.Record.Source, w[0], w[1])
		}
		delete(want, u.Record.FlowID)
	}
	if len(want) != 0 {
		t.Errorf("missing flows %v", want)
	}
}

func TestQUICPacketDirectionAndActiveFlow(t *testing.T) {
	h := newHarness(t, flow.Options{})
	// A quic event logged for the server's packet: src is the server.
	h.feed(fmt.Sprintf(`{"timestamp":%q,"flow_id":9,"event_type":"quic","src_ip":"198.51.100.7","src_port":443,"dest_ip":"10.99.0.10","dest_port":55000,"proto":"UDP","ether":{"src_mac":%q,"dest_mac":%q},"quic":{"version":"1","sni":"video.test"}}`, ts(100), routerMAC, client))
	h.clk.t = h.clk.t.Add(5 * time.Second)
	ups := h.drain(false)
	rec := onlyRecord(t, ups)
	if !rec.Active || rec.SrcIP.String() != "10.99.0.10" || rec.DestPort != 443 || rec.MAC != client || rec.Name != "video.test" || rec.Source != flow.SourceQUIC {
		t.Fatalf("active record %+v", rec)
	}
	if ups[0].Written {
		t.Fatal("first write marked as already written")
	}
	// Nothing new until it ends.
	if ups := h.drain(false); len(ups) != 0 {
		t.Fatalf("rewrote active flow: %+v", ups)
	}
	h.feed(strings.Replace(flowEnd(100, 160, 9, "10.99.0.10", "198.51.100.7", 443, "quic", 3000, 90000), `"proto":"TCP"`, `"proto":"UDP"`, 1))
	ups = h.drain(true)
	rec = onlyRecord(t, ups)
	if rec.Active || !ups[0].Written || rec.BytesReceived != 90000 || rec.Name != "video.test" || rec.Proto != "UDP" {
		t.Fatalf("final %+v written=%v", rec, ups[0].Written)
	}
}

func TestSkips(t *testing.T) {
	h := newHarness(t, flow.Options{SkipDNS: true, SkipUnidirectional: true})
	h.feed(
		flowEnd(100, 101, 1, "10.99.0.10", "10.99.0.1", 53, "dns", 60, 120),     // DNS flow
		flowEnd(100, 101, 2, "10.99.0.10", "203.0.113.1", 443, "failed", 60, 0), // one-way
		flowEnd(100, 101, 3, "198.51.100.9", "10.99.0.10", 22, "ssh", 600, 700), // started outside
		flowEnd(100, 101, 4, "10.99.0.10", "203.0.113.1", 443, "tls", 600, 700), // kept
	)
	ups := h.drain(true)
	if rec := onlyRecord(t, ups); rec.FlowID != 4 {
		t.Fatalf("kept %+v", rec)
	}
	if s := h.c.Stats(); s.Skipped != 3 {
		t.Fatalf("skipped %d", s.Skipped)
	}

	// An active row written for a flow that then proves one-way is discarded.
	h.feed(tlsEvent(200, 7, "10.99.0.10", "203.0.113.1", "x.test", ""))
	h.clk.t = h.clk.t.Add(5 * time.Second)
	if rec := onlyRecord(t, h.drain(false)); !rec.Active {
		t.Fatal("want active row")
	}
	h.feed(flowEnd(200, 210, 7, "10.99.0.10", "203.0.113.1", 443, "tls", 100, 0))
	ups = h.drain(true)
	if len(ups) != 1 || ups[0].Op != flow.OpDiscard || ups[0].Record.FlowID != 7 {
		t.Fatalf("want discard, got %+v", ups)
	}
}

func TestDHCPNames(t *testing.T) {
	h := newHarness(t, flow.Options{})
	h.feed(fmt.Sprintf(`{"timestamp":%q,"flow_id":3,"event_type":"dhcp","src_ip":"0.0.0.0","src_port":68,"dest_ip":"255.255.255.255","dest_port":67,"proto":"UDP","dhcp":{"type":"request","id":5,"client_mac":%q,"client_ip":"0.0.0.0","dhcp_type":"request","hostname":"kids-tablet\u0000"}}`, ts(100), client))
	d := h.c.TakeDevices()
	if len(d) != 1 || d[0].MAC != client || d[0].Hostname != "kids-tablet" || d[0].IP.IsValid() {
		t.Fatalf("devices %+v", d)
	}
	if len(h.c.TakeDevices()) != 0 {
		t.Fatal("TakeDevices did not reset")
	}
}

func TestBounds(t *testing.T) {
	// One device: lift the per-device limit to test the global one.
	h := newHarness(t, flow.Options{MaxOpen: 10, MaxOpenPerDevice: 10, MaxDNSAnswers: 50})
	for i := range 20 {
		h.feed(tlsEvent(100, 100+i, "10.99.0.10", "203.0.113.1", "x.test", ""))
	}
	if s := h.c.Stats(); s.Open != 10 || s.Overflow != 10 {
		t.Fatalf("stats %+v", s)
	}
	for i := range 200 {
		h.feed(dnsAnswer(100+float64(i), 1, "10.99.0.10", fmt.Sprintf("n%d.test", i), fmt.Sprintf("n%d.test A 3600 203.0.%d.%d", i, i/250, i%250)))
	}
	h.clk.t = h.clk.t.Add(time.Minute)
	h.feed(tlsEvent(1000, 5000, "10.99.0.10", "203.0.113.1", "x.test", ""))
	h.drain(false)
	if s := h.c.Stats(); s.DNSAnswers > 50 || s.DNSEvicted == 0 {
		t.Fatalf("dns not bounded: %+v", s)
	}
}

func TestCertName(t *testing.T) {
	for subject, want := range map[string]string{
		"C=US, ST=California, O=Google LLC, CN=*.google.com":     "google.com",
		"CN=a.test, CN=b.a.test":                                 "b.a.test",
		"/C=CZ/O=CZ.NIC/CN=www.nic.cz/emailAddress=admin@nic.cz": "www.nic.cz",
		"O=Kindle boss, CN=Kindle boss/emailAddress=x@y.test":    "",
		`CN=weird\,name.test`:                                    "",
		`O="Acme, Inc.", CN=api.acme.test`:                       "api.acme.test",
		"CN=localhost":                                           "",
		"":                                                       "",
		"CN=UPPER.Example.TEST":                                  "upper.example.test",
		"C=CZ+CN=multi.test":                                     "multi.test",
		"commonName=long.form.test, O=x":                         "long.form.test",
	} {
		if got := flow.CertName(subject); got != want {
			t.Errorf("CertName(%q) = %q, want %q", subject, got, want)
		}
	}
}
