package eve_test

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/pakon/pakon/src/eve"
	"github.com/pakon/pakon/src/eve/evetest"
)

func mustDecode(t *testing.T, line string) *eve.Event {
	t.Helper()
	var d eve.Decoder
	var ev eve.Event
	if err := d.Decode([]byte(line), &ev); err != nil {
		t.Fatalf("Decode(%s): %v", line, err)
	}
	return &ev
}

func TestDecodeFlow(t *testing.T) {
	ev := mustDecode(t, `{"timestamp":"2024-05-01T12:00:10.500000+0200","flow_id":1234567890123,"in_iface":"br-lan","event_type":"flow","src_ip":"2001:0db8:0000:0000:0000:0000:0000:0001","src_port":51000,"dest_ip":"2001:0db8:0000:0000:0000:0000:0000:00aa","dest_port":443,"proto":"TCP","app_proto":"tls","flow":{"pkts_toserver":10,"pkts_toclient":12,"bytes_toserver":1500,"bytes_toclient":90000,"start":"2024-05-01T12:00:00.250000+0200","end":"2024-05-01T12:00:09.750000+0200","age":9,"state":"closed","reason":"timeout","alerted":false},"ether":{"dest_macs":["AA:BB:CC:00:00:01"],"src_macs":["02:00:00:00:00:0a","02:00:00:00:00:0b"]},"tcp":{"tcp_flags":"1b"}}`)
	if ev.Type != eve.TypeFlow || ev.FlowID != 1234567890123 {
		t.Fatalf("type %v flow_id %d", ev.Type, ev.FlowID)
	}
	if got := ev.SrcIP.String(); got != "2001:db8::1" {
		t.Errorf("src_ip %q, want compressed 2001:db8::1", got)
	}
	if ev.SrcMAC != "02:00:00:00:00:0a" || ev.DestMAC != "aa:bb:cc:00:00:01" {
		t.Errorf("macs %q %q", ev.SrcMAC, ev.DestMAC)
	}
	f := ev.Flow
	if f.BytesToServer != 1500 || f.BytesToClient != 90000 || f.PktsToServer != 10 || f.PktsToClient != 12 {
		t.Errorf("counters %+v", f)
	}
	wantStart := int64(1714557600250000) // 2024-05-01T10:00:00.25Z
	if int64(f.Start) != wantStart {
		t.Errorf("start %d want %d (%v)", f.Start, wantStart, f.Start.Time())
	}
	if f.End-f.Start != 9500000 {
		t.Errorf("duration %d", f.End-f.Start)
	}
	if f.State != "closed" || f.Reason != "timeout" {
		t.Errorf("state %q reason %q", f.State, f.Reason)
	}
}

func TestDecodeDNSv2Answer(t *testing.T) {
	ev := mustDecode(t, `{"timestamp":"2024-05-01T10:00:00.000000+0000","flow_id":7,"event_type":"dns","src_ip":"10.0.0.5","src_port":40000,"dest_ip":"10.0.0.1","dest_port":53,"proto":"UDP","dns":{"version":2,"type":"answer","id":4660,"flags":"8180","qr":true,"rd":true,"ra":true,"rrname":"WWW.Example.TEST.","rrtype":"A","rcode":"NOERROR","answers":[{"rrname":"www.example.test","rrtype":"CNAME","ttl":300,"rdata":"edge.cdn.test"},{"rrname":"edge.cdn.test","rrtype":"A","ttl":60,"rdata":"203.0.113.10"}],"grouped":{"A":["203.0.113.10"],"CNAME":["edge.cdn.test"]}}}`)
	d := ev.DNS
	if d == nil || !d.Response || d.Version != 2 || d.RCode != "NOERROR" || d.ID != 4660 {
		t.Fatalf("dns %+v", d)
	}
	if len(d.Queries) != 1 || d.Queries[0].Name != "www.example.test" || d.Queries[0].Type != "A" {
		t.Errorf("queries %+v", d.Queries)
	}
	if len(d.Answers) != 2 || d.Answers[1].Data != "203.0.113.10" || d.Answers[1].TTL != 60 || !d.Answers[1].HasTTL {
		t.Errorf("answers %+v (grouped must not duplicate answers)", d.Answers)
	}
}

func TestDecodeDNSv3(t *testing.T) {
	req := mustDecode(t, `{"timestamp":"2025-03-01T10:00:00.000000+0000","flow_id":9,"event_type":"dns","src_ip":"192.168.1.20","src_port":5353,"dest_ip":"192.168.1.1","dest_port":53,"proto":"UDP","dns":{"version":3,"type":"request","tx_id":0,"id":0,"flags":"100","rd":true,"opcode":0,"rcode":"NOERROR","queries":[{"rrname":"www.suricata.io","rrtype":"A"},{"rrname":"www.suricata.io","rrtype":"AAAA"}]}}`)
	if req.DNS.Response || req.DNS.Version != 3 || len(req.DNS.Queries) != 2 {
		t.Fatalf("request %+v", req.DNS)
	}
	resp := mustDecode(t, `{"timestamp":"2025-03-01T10:00:00.010000+0000","flow_id":9,"event_type":"dns","src_ip":"192.168.1.1","src_port":53,"dest_ip":"192.168.1.20","dest_port":5353,"proto":"UDP","dns":{"version":3,"type":"response","tx_id":1,"id":0,"flags":"8180","qr":true,"rd":true,"ra":true,"opcode":0,"rcode":"NOERROR","queries":[{"rrname":"www.suricata.io","rrtype":"A"}],"answers":[{"rrname":"www.suricata.io","rrtype":"CNAME","ttl":3597,"rdata":"suricata.io"},{"rrname":"suricata.io","rrtype":"A","ttl":597,"rdata":"35.212.0.44"},{"rrname":"suricata.io","rrtype":"SOA","ttl":5,"rdata":{"mname":"x"}}]}}`)
	d := resp.DNS
	if !d.Response || len(d.Queries) != 1 || d.Queries[0].Name != "www.suricata.io" {
		t.Fatalf("response %+v", d)
	}
	if len(d.Answers) != 3 || d.Answers[0].Type != "CNAME" || d.Answers[0].Data != "suricata.io" || d.Answers[1].TTL != 597 || d.Answers[2].Data != "" {
		t.Errorf("answers %+v", d.Answers)
	}
}

func TestDecodeDNSGroupedOnly(t *testing.T) {
	ev := mustDecode(t, `{"timestamp":"2024-05-01T10:00:00Z","event_type":"dns","src_ip":"10.0.0.5","dest_ip":"10.0.0.1","dns":{"type":"answer","rrname":"a.test","rrtype":"A","grouped":{"A":["192.0.2.1","192.0.2.2"]}}}`)
	if len(ev.DNS.Answers) != 2 || ev.DNS.Answers[0].HasTTL || ev.DNS.Answers[1].Data != "192.0.2.2" {
		t.Fatalf("answers %+v", ev.DNS.Answers)
	}
}

func TestDecodeAppLayer(t *testing.T) {
	tls := mustDecode(t, `{"timestamp":"2024-05-01T10:00:00.1+00:00","flow_id":1,"event_type":"tls","src_ip":"10.0.0.5","src_port":1,"dest_ip":"203.0.113.10","dest_port":443,"proto":"TCP","ether":{"src_mac":"02:00:00:00:00:0a","dest_mac":"02:00:00:00:00:01"},"tls":{"subject":"C=CZ, O=Example, CN=www.example.test","issuerdn":"CN=Test CA","sni":"WWW.EXAMPLE.TEST","version":"TLS 1.3","ja3":{"hash":"x"}}}`)
	if tls.TLS.SNI != "www.example.test" || tls.TLS.Subject != "C=CZ, O=Example, CN=www.example.test" || tls.SrcMAC != "02:00:00:00:00:0a" {
		t.Errorf("tls %+v mac %q", tls.TLS, tls.SrcMAC)
	}
	if tls.Timestamp != 1714557600100000 {
		t.Errorf("timestamp %d", tls.Timestamp)
	}
	http := mustDecode(t, `{"timestamp":"2024-05-01T10:00:00.000000+0000","flow_id":2,"event_type":"http","src_ip":"10.0.0.5","src_port":2,"dest_ip":"198.51.100.7","dest_port":80,"proto":"TCP","http":{"hostname":"Plain.Example.Test","url":"/x?y=\u00e9","http_user_agent":"curl","http_method":"GET","status":200,"length":1234}}`)
	if h := http.HTTP; h.Hostname != "plain.example.test" || h.URL != "/x?y=é" || h.Status != 200 || h.Length != 1234 || h.Method != "GET" {
		t.Errorf("http %+v", h)
	}
	quic := mustDecode(t, `{"timestamp":"2024-05-01T10:00:00.000000+0000","flow_id":3,"event_type":"quic","src_ip":"10.0.0.5","src_port":3,"dest_ip":"198.51.100.7","dest_port":443,"proto":"UDP","quic":{"version":"1","sni":"video.example.test","ua":"x"}}`)
	if quic.QUIC.SNI != "video.example.test" || quic.QUIC.Version != "1" {
		t.Errorf("quic %+v", quic.QUIC)
	}
	dhcp := mustDecode(t, `{"timestamp":"2024-05-01T10:00:00.000000+0000","event_type":"dhcp","src_ip":"10.0.0.1","src_port":67,"dest_ip":"10.0.0.5","dest_port":68,"proto":"UDP","dhcp":{"type":"reply","id":1,"client_mac":"02:00:00:00:00:0A","assigned_ip":"10.0.0.5","client_ip":"0.0.0.0","dhcp_type":"ack","hostname":"kids-tablet\u0000\u0000","lease_time":3600}}`)
	if x := dhcp.DHCP; x.Hostname != "kids-tablet" || x.ClientMAC != "02:00:00:00:00:0a" || x.DHCPType != "ack" || x.AssignedIP != netip.MustParseAddr("10.0.0.5") {
		t.Errorf("dhcp %+v", x)
	}
	alert := mustDecode(t, `{"timestamp":"2024-05-01T10:00:00.000000+0000","flow_id":4,"event_type":"alert","src_ip":"10.0.0.5","src_port":3,"dest_ip":"10.0.0.1","dest_port":53,"proto":"UDP","alert":{"action":"allowed","gid":1,"signature_id":9000001,"rev":2,"signature":"PAKON stalkerware DNS","category":"A Network Trojan was detected","severity":1,"metadata":{"tag":["stalkerware"]}},"dns":{"query":[{"type":"query","id":1,"rrname":"bad.example.test","rrtype":"A","tx_id":0}]}}`)
	if a := alert.Alert; a.SignatureID != 9000001 || a.Severity != 1 || a.Metadata["tag"][0] != "stalkerware" {
		t.Errorf("alert %+v", a)
	}
	if alert.DNS == nil || len(alert.DNS.Queries) != 1 || alert.DNS.Queries[0].Name != "bad.example.test" {
		t.Errorf("alert dns %+v", alert.DNS)
	}
}

func TestDecodeUnknownTypeKeepsCommonFields(t *testing.T) {
	ev := mustDecode(t, `{"timestamp":"2024-05-01T10:00:00.000000+0000","event_type":"stats","stats":{"uptime":5,"nested":[[[{"a":[1,2,{"b":null}]}]]]}}`)
	if ev.Type != eve.TypeOther || ev.Timestamp == 0 {
		t.Fatalf("event %+v", ev)
	}
}

func TestDecodeInvalidUTF8(t *testing.T) {
	line := "{\"timestamp\":\"2024-05-01T10:00:00Z\",\"flow_id\":5,\"event_type\":\"http\",\"src_ip\":\"10.0.0.5\",\"dest_ip\":\"10.0.0.6\",\"http\":{\"hostname\":\"bad\xff\xfehost\",\"url\":\"/\xc3\"}}"
	ev := mustDecode(t, line)
	if ev.HTTP.Hostname != "bad\uFFFD\uFFFDhost" || ev.HTTP.URL != "/\uFFFD" {
		t.Fatalf("got %q %q", ev.HTTP.Hostname, ev.HTTP.URL)
	}
}

func TestDecodeHugeLine(t *testing.T) {
	big := strings.Repeat("x", 4<<20)
	ev := mustDecode(t, `{"timestamp":"2024-05-01T10:00:00Z","event_type":"http","src_ip":"10.0.0.5","dest_ip":"10.0.0.6","http":{"hostname":"h.test","url":"/`+big+`"}}`)
	if len(ev.HTTP.URL) != len(big)+1 {
		t.Fatalf("url length %d", len(ev.HTTP.URL))
	}
}

func TestDecodeErrors(t *testing.T) {
	const ok = `{"timestamp":"2024-05-01T10:00:00Z","flow_id":1,"event_type":"tls","src_ip":"10.0.0.5","dest_ip":"10.0.0.6","tls":{"sni":"a"}}`
	tests := []struct {
		name, line, want string
	}{
		{"empty", "   ", "empty line"},
		{"not json", "hello", "want '{'"},
		{"truncated", ok[:len(ok)-20], "unterminated string"},
		{"truncated at boundary", ok[:len(ok)-2], "unexpected end of line"},
		{"trailing", ok + "x", "trailing data"},
		{"two objects", ok + ok, "trailing data"},
		{"no event_type", `{"timestamp":"2024-05-01T10:00:00Z"}`, "event_type: missing"},
		{"bad timestamp", `{"timestamp":"yesterday","event_type":"tls"}`, "timestamp: invalid timestamp"},
		{"bad month", `{"timestamp":"2024-13-01T10:00:00Z","event_type":"tls"}`, "invalid timestamp"},
		{"bad ip", strings.Replace(ok, "10.0.0.5", "10.0.0.500", 1), `src_ip: invalid IP address "10.0.0.500"`},
		{"port range", `{"timestamp":"2024-05-01T10:00:00Z","event_type":"tls","src_port":70000}`, "src_port: port 70000 out of range"},
		{"port type", `{"timestamp":"2024-05-01T10:00:00Z","event_type":"tls","src_port":"80"}`, "src_port: offset"},
		{"flow without object", `{"timestamp":"2024-05-01T10:00:00Z","event_type":"flow","src_ip":"10.0.0.5","dest_ip":"10.0.0.6"}`, "flow: missing"},
		{"tls without addresses", `{"timestamp":"2024-05-01T10:00:00Z","event_type":"tls","tls":{}}`, "missing address"},
		{"bad mac", `{"timestamp":"2024-05-01T10:00:00Z","event_type":"tls","ether":{"src_mac":"zz"}}`, `ether: src_mac: invalid MAC address "zz"`},
		{"control char kept", "{\"timestamp\":\"2024\x01\"}", "invalid timestamp"},
		{"bad escape", `{"timestamp":"a\q"}`, `invalid escape \q`},
		{"deep nesting", `{"timestamp":"2024-05-01T10:00:00Z","x":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`, "nesting deeper"},
		{"negative counter", `{"timestamp":"2024-05-01T10:00:00Z","event_type":"flow","flow":{"bytes_toserver":-1}}`, "want an unsigned integer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d eve.Decoder
			var ev eve.Event
			err := d.Decode([]byte(tt.line), &ev)
			if err == nil {
				t.Fatalf("no error for %q", tt.line)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not mention %q", err, tt.want)
			}
		})
	}
	var d eve.Decoder
	var ev eve.Event
	if err := d.Decode([]byte(""), &ev); !errors.Is(err, eve.ErrEmpty) {
		t.Errorf("empty line: %v", err)
	}
}

func TestParseTimestamp(t *testing.T) {
	for in, want := range map[string]int64{
		"1970-01-01T00:00:00.000000+0000": 0,
		"2024-02-29T23:59:59.999999+0000": 1709251199999999,
		"2024-03-01T01:00:00.000000+0100": 1709251200000000,
		"2024-03-01T00:00:00Z":            1709251200000000,
		"2024-02-29T19:00:00.5-05:00":     1709251200500000,
		"1969-12-31T23:59:59.000000+0000": -1000000,
	} {
		got, err := eve.ParseTimestamp([]byte(in))
		if err != nil || int64(got) != want {
			t.Errorf("ParseTimestamp(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
}

func TestParseIPv4Fast(t *testing.T) {
	for _, in := range []string{"10.0.0.1", "255.255.255.255", "0.0.0.0", "01.2.3.4", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1..2.3", "1.2.3.", "::ffff:1.2.3.4", "2001:0db8::0001"} {
		line := `{"timestamp":"2024-05-01T10:00:00Z","event_type":"stats","src_ip":"` + in + `"}`
		var d eve.Decoder
		var ev eve.Event
		err := d.Decode([]byte(line), &ev)
		want, werr := netip.ParseAddr(in)
		if (err != nil) != (werr != nil) {
			t.Errorf("%q: err %v, netip err %v", in, err, werr)
			continue
		}
		if err == nil && ev.SrcIP != want.Unmap() {
			t.Errorf("%q: got %v want %v", in, ev.SrcIP, want)
		}
	}
}

// TestDecodeLean: a lean decoder keeps what correlation reads and skips
// the descriptive members, the same line decoding to the same names.
func TestDecodeLean(t *testing.T) {
	lines := []string{
		`{"timestamp":"2024-05-01T10:00:00.000000+0000","flow_id":9,"event_type":"tls","src_ip":"10.0.0.5","src_port":40000,"dest_ip":"203.0.113.7","dest_port":443,"proto":"TCP","tls":{"subject":"CN=a.test","issuerdn":"CN=R3","serial":"04","fingerprint":"aa:bb","sni":"A.Test","version":"TLS 1.3","notbefore":"2024-01-01T00:00:00","notafter":"2024-04-01T00:00:00","ja3":{"hash":"x"}}}`,
		`{"timestamp":"2024-05-01T10:00:00.000000+0000","flow_id":9,"event_type":"http","src_ip":"10.0.0.5","src_port":40000,"dest_ip":"203.0.113.7","dest_port":80,"proto":"TCP","http":{"hostname":"b.test","url":"/x","http_user_agent":"UA","http_method":"GET","status":200,"length":12}}`,
		`{"timestamp":"2024-05-01T10:00:00.000000+0000","flow_id":9,"event_type":"quic","src_ip":"10.0.0.5","src_port":40000,"dest_ip":"203.0.113.7","dest_port":443,"proto":"UDP","quic":{"version":1,"sni":"c.test","ua":"x"}}`,
	}
	for _, line := range lines {
		full := mustDecode(t, line)
		d := eve.Decoder{Lean: true}
		var lean eve.Event
		if err := d.Decode([]byte(line), &lean); err != nil {
			t.Fatalf("lean Decode(%s): %v", line, err)
		}
		if lean.Type != full.Type || lean.FlowID != full.FlowID || lean.SrcIP != full.SrcIP || lean.DestPort != full.DestPort {
			t.Errorf("common fields %+v, want %+v", lean, *full)
		}
		switch {
		case full.TLS != nil:
			if *lean.TLS != (eve.TLS{SNI: "a.test", Subject: "CN=a.test"}) || full.TLS.Issuer != "CN=R3" {
				t.Errorf("tls lean %+v full %+v", *lean.TLS, *full.TLS)
			}
		case full.HTTP != nil:
			if *lean.HTTP != (eve.HTTP{Hostname: "b.test", Status: 200, Length: 12}) || full.HTTP.URL != "/x" {
				t.Errorf("http lean %+v full %+v", *lean.HTTP, *full.HTTP)
			}
		case full.QUIC != nil:
			if *lean.QUIC != (eve.QUIC{SNI: "c.test"}) || full.QUIC.Version != "1" {
				t.Errorf("quic lean %+v full %+v", *lean.QUIC, *full.QUIC)
			}
		default:
			t.Errorf("no protocol object in %+v", *full)
		}
	}
}

// TestDecodeTimestampSequence: timestamps decoded one after another (the
// decoder reuses the minute of the last one) equal ParseTimestamp's.
func TestDecodeTimestampSequence(t *testing.T) {
	var d eve.Decoder
	for _, ts := range []string{
		"2024-05-01T10:00:00.000000+0000", "2024-05-01T10:00:59.999999+0000", "2024-05-01T10:00:60.000000+0000",
		"2024-05-01T10:01:00.000001+0000", "2024-05-01T10:01:07.250000+0200", "2024-05-01T10:01:07.250000+0000",
		"2024-05-01T10:01:07.25Z", "2024-05-01T10:01:08.500000+0000", "2024-05-02T10:01:08.500000+0000",
		"2024-05-02T10:01:08.500000-0130", "2024-05-02T10:01:61.000000+0000", "2024-05-02T10:01:0x.000000+0000",
		"2024-05-02T10:01:08.500000-0130",
	} {
		want, wantErr := eve.ParseTimestamp([]byte(ts))
		var ev eve.Event
		err := d.Decode([]byte(`{"timestamp":"`+ts+`","event_type":"stats"}`), &ev)
		if (err != nil) != (wantErr != nil) || ev.Timestamp != want {
			t.Errorf("%s: %d %v, want %d %v", ts, ev.Timestamp, err, want, wantErr)
		}
	}
}

// TestDecodeReuse: a decoder that reuses its protocol objects decodes
// every line of a mixed stream as a fresh one does.
func TestDecodeReuse(t *testing.T) {
	lines := evetest.New(5, 3, time.Unix(1_700_000_000, 0)).Lines(3000)
	lines = append(lines,
		[]byte(`{"timestamp":"2024-05-01T10:00:00.000000+0000","flow_id":7,"event_type":"dns","src_ip":"10.0.0.5","src_port":40000,"dest_ip":"10.0.0.1","dest_port":53,"proto":"UDP","dns":{"version":3,"type":"response","id":1,"rcode":"NOERROR","queries":[{"rrname":"a.test","rrtype":"A"}],"answers":[{"rrname":"a.test","rrtype":"A","ttl":5,"rdata":"192.0.2.1"}]}}`),
		[]byte(`{"timestamp":"2024-05-01T10:00:00.000000+0000","flow_id":7,"event_type":"dns","src_ip":"10.0.0.5","src_port":40000,"dest_ip":"10.0.0.1","dest_port":53,"proto":"UDP","dns":{"version":2,"type":"query","id":2,"rrname":"b.test","rrtype":"AAAA"}}`))
	// show prints an event with what its pointers point to.
	show := func(ev eve.Event) string {
		objs := []any{ev.Flow, ev.DNS, ev.TLS, ev.HTTP, ev.QUIC, ev.DHCP, ev.Alert}
		ev.Flow, ev.DNS, ev.TLS, ev.HTTP, ev.QUIC, ev.DHCP, ev.Alert = nil, nil, nil, nil, nil, nil, nil
		out := fmt.Sprintf("%+v", ev)
		for _, p := range objs {
			out += fmt.Sprintf(" %+v", p)
		}
		return out
	}
	fresh, reuse := eve.Decoder{}, eve.Decoder{Reuse: true}
	for _, l := range lines {
		var a, b eve.Event
		errA, errB := fresh.Decode(l, &a), reuse.Decode(l, &b)
		if (errA != nil) != (errB != nil) {
			t.Fatalf("%s: errors %v and %v", l, errA, errB)
		}
		sa, sb := show(a), show(b)
		if sa != sb {
			t.Fatalf("%s:\n fresh %s\n reuse %s", l, sa, sb)
		}
	}
}
