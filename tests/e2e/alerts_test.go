package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/pakon/pakon/src/query"
	"github.com/pakon/pakon/tests/netlab"
	"github.com/pakon/pakon/tests/pakontest"
)

// stalkerRules are local rules in the style of PiRogue's stalkerware
// indicators: a DNS rule and a TLS SNI rule for a listed domain, and a rule
// for a listed server address.
const stalkerRules = `# pakon e2e: stalkerware indicators
alert dns $HOME_NET any -> any any (msg:"PAKON STALKERWARE DNS lookup of spy.example.test"; dns.query; content:"spy.example.test"; nocase; isdataat:!1,relative; reference:url,stalkerware.example.test/spy; classtype:trojan-activity; sid:9200001; rev:1; metadata:tag stalkerware, created_at 2026_01_01;)
alert tls $HOME_NET any -> any any (msg:"PAKON STALKERWARE TLS connection to spy.example.test"; flow:to_server,established; tls.sni; content:"spy.example.test"; nocase; isdataat:!1,relative; reference:url,stalkerware.example.test/spy; classtype:trojan-activity; sid:9200002; rev:1;)
alert ip $HOME_NET any -> 203.0.113.77 any (msg:"PAKON STALKERWARE server address 203.0.113.77"; classtype:trojan-activity; sid:9200003; rev:1;)
`

// engineEvent is an alert as Suricata logs its stream anomaly rules
// (stream-events.rules), on the phone's flow.
func engineEvent(ts, src, dst string, sport, dport int) string {
	return fmt.Sprintf(`{"timestamp":%q,"flow_id":1234567,"event_type":"alert","src_ip":%q,"src_port":%d,"dest_ip":%q,"dest_port":%d,"proto":"TCP","pkt_src":"wire/pcap","ether":{"src_mac":"02:00:00:00:00:0b","dest_mac":"02:00:00:00:00:01"},"alert":{"action":"allowed","gid":1,"signature_id":2210045,"rev":2,"signature":"SURICATA STREAM Packet with invalid ack","category":"Generic Protocol Command Decode","severity":3},"direction":"to_server","flow":{"pkts_toserver":3,"pkts_toclient":2,"bytes_toserver":200,"bytes_toclient":300,"start":%q,"src_ip":%q,"dest_ip":%q,"src_port":%d,"dest_port":%d}}`,
		ts, src, sport, dst, dport, ts, src, dst, sport, dport)
}

// TestAlertsFromSuricata: a phone resolves and connects to a listed
// stalkerware domain (twice) and to a listed address, a laptop browses
// elsewhere; real Suricata with the local rules over the lab's capture,
// pakon import, and the alerts must sit on the phone, named, folded and
// explained, with the engine event apart.
func TestAlertsFromSuricata(t *testing.T) {
	lab := netlab.New(t, netlab.Config{
		Clients: []netlab.ClientConfig{
			{Name: "laptop", MAC: "02:00:00:00:00:0a"},
			{Name: "phone", MAC: "02:00:00:00:00:0b"},
		},
		Zone: append(append([]string{}, netlab.DefaultZone...),
			"spy.example.test 60 A 203.0.113.66",
			"c2.unlisted.test 60 A 203.0.113.77"), // served, never resolved by the phone
	})
	capture := lab.StartCapture(t)
	laptop := lab.Clients[0].Run(t, "https://www.example.test/bytes/1000")
	phone := lab.Clients[1].Run(t,
		"https://spy.example.test/bytes/2000",
		"https://spy.example.test/bytes/3000",
		"https://203.0.113.77/bytes/500",
		"https://203.0.113.77/bytes/600",
	)
	dir := t.TempDir()
	rulesFile := filepath.Join(dir, "stalkerware.rules")
	if err := os.WriteFile(rulesFile, []byte(stalkerRules), 0o644); err != nil {
		t.Fatal(err)
	}
	eve := netlab.RunSuricataOnPcap(t, capture.Stop(t), filepath.Join(dir, "suricata"), "-S", rulesFile)

	// Suricata's own anomaly alert, as it logs one, on the phone's first flow.
	f, err := os.OpenFile(eve, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	p := phone[0]
	fmt.Fprintln(f, engineEvent(p.Start.UTC().Format("2006-01-02T15:04:05.000000+0000"), p.LocalIP, p.IP, p.LocalPort, p.Port))
	f.Close()

	pk := pakontest.New(t, "config rules 'rules'\n\toption directory '"+filepath.Join(dir, "rules")+"'\n\tlist local '"+rulesFile+"'\n"+
		"\tlist explain '/etc/suricata/rules/*.rules'\n\toption classification '/etc/suricata/classification.config'\n"+
		"\toption reference '/etc/suricata/reference.config'")
	if _, errOut, code := pk.Run(t, "import", eve); code != 0 {
		t.Fatalf("pakon import: exit %d: %s", code, errOut)
	}
	alerts := showAlerts(t, pk, "--sort", "sid")
	if alerts.Total != 3 {
		t.Fatalf("%d alert rows, want 3 (DNS, SNI, address):\n%s", alerts.Total, dumpAlerts(alerts))
	}
	dns, sni, addr := alerts.Rows[0], alerts.Rows[1], alerts.Rows[2]
	for _, a := range alerts.Rows {
		if a.MAC != "02:00:00:00:00:0b" || a.SrcIP != lab.Clients[1].IPv4.String() || a.Inbound || a.Engine || a.Severity != 1 {
			t.Errorf("alert %d not on the phone as an outbound threat: %+v", a.SID, a)
		}
	}
	// Every lookup of spy.example.test matched; both connections matched.
	lookups := 0
	for _, s := range phone[:2] {
		for _, q := range s.DNS {
			if q.QName == "spy.example.test" {
				lookups++
			}
		}
	}
	if dns.SID != 9200001 || dns.Hostname != "spy.example.test" || dns.NameSource != "dns" || dns.Count != int64(lookups) || lookups < 2 {
		t.Errorf("DNS alert %+v, want %d lookups of spy.example.test folded", dns, lookups)
	}
	if sni.SID != 9200002 || sni.Hostname != "spy.example.test" || sni.NameSource != "sni" || sni.Count != 2 ||
		sni.DestIP != "203.0.113.66" || sni.DestPort != 443 {
		t.Errorf("SNI alert %+v, want both connections folded", sni)
	}
	// The address rule (IP-only: once per flow) fired for both connections.
	if addr.SID != 9200003 || addr.Hostname != "203.0.113.77" || addr.DestIP != "203.0.113.77" || addr.Count != 2 ||
		addr.SrcPort != phone[3].LocalPort {
		t.Errorf("address alert %+v, want both connections folded, the latest's port %d", addr, phone[3].LocalPort)
	}
	if addr.FirstSeen > addr.LastSeen || addr.LastSeen-addr.FirstSeen > 30 {
		t.Errorf("address alert span %v..%v", addr.FirstSeen, addr.LastSeen)
	}
	if got := showAlerts(t, pk, "-m", "02:00:00:00:00:0a"); got.Total != 0 || laptop[0].Error != "" {
		t.Errorf("the laptop has alerts:\n%s", dumpAlerts(got))
	}
	if got := showAlerts(t, pk, "-H", "spy.example.test"); got.Total != 2 {
		t.Errorf("-H spy.example.test: %d rows", got.Total)
	}

	// Engine events are apart: not in the list above, shown with --engine,
	// and explained from Suricata's own rule files when they are installed.
	eng := showAlerts(t, pk, "--engine")
	if eng.Total != 1 || eng.Rows[0].SID != 2210045 || !eng.Rows[0].Engine || eng.Rows[0].MAC != "02:00:00:00:00:0b" {
		t.Errorf("engine alerts:\n%s", dumpAlerts(eng))
	}

	// Explanation: the rule's text, classification, references and the flows.
	x := explain(t, pk, sni.ID)
	if x.Rule == nil || x.Rule.Msg != "PAKON STALKERWARE TLS connection to spy.example.test" || x.Rule.File != rulesFile || x.Rule.Line != 3 {
		t.Fatalf("rule %+v (%s)", x.Rule, x.RuleMissing)
	}
	if x.Class == nil || x.Class.Name != "trojan-activity" || x.Class.Description != "A Network Trojan was detected" || x.Severity != "high" {
		t.Errorf("class %+v severity %s", x.Class, x.Severity)
	}
	if len(x.References) != 1 || x.References[0].URL != "http://stalkerware.example.test/spy" {
		t.Errorf("references %+v", x.References)
	}
	ports := map[int]bool{}
	for _, fl := range x.Flows {
		if fl.MAC == "02:00:00:00:00:0b" && fl.Hostname == "spy.example.test" {
			ports[fl.SrcPort] = true
		}
	}
	if !ports[phone[0].LocalPort] || !ports[phone[1].LocalPort] {
		t.Errorf("explained flows %+v, want both connections (ports %d, %d)", x.Flows, phone[0].LocalPort, phone[1].LocalPort)
	}
	if !strings.Contains(x.Summary, "connected to spy.example.test (203.0.113.66)") || !strings.Contains(x.Summary, "2 times") {
		t.Errorf("summary %q", x.Summary)
	}
	if dx := explain(t, pk, dns.ID); dx.Rule == nil || dx.Rule.Metadata["tag"][0] != "stalkerware" || !strings.Contains(dx.Summary, "looked up spy.example.test") {
		t.Errorf("DNS explanation %+v", dx)
	}
	if _, err := os.Stat("/etc/suricata/rules/stream-events.rules"); err == nil {
		ex := explain(t, pk, eng.Rows[0].ID)
		if ex.Rule == nil || !strings.HasPrefix(ex.Rule.Msg, "SURICATA STREAM") {
			t.Errorf("engine rule not found in Suricata's event rules: %+v %s", ex.Rule, ex.RuleMissing)
		}
	}

	// pakon clear covers alerts: the phone's go, engine events with them.
	if out, errOut, code := pk.Run(t, "clear", "-m", "02:00:00:00:00:0b"); code != 0 || !strings.Contains(out, "4 alert rows") {
		t.Errorf("clear: exit %d: %s %s", code, out, errOut)
	}
	if got := showAlerts(t, pk); got.Total != 0 {
		t.Errorf("after clear:\n%s", dumpAlerts(got))
	}
}

func showAlerts(t *testing.T, pk *pakontest.Instance, args ...string) query.AlertResult {
	t.Helper()
	out, errOut, code := pk.Run(t, append([]string{"show", "--alerts", "-j", "-s", "-52w"}, args...)...)
	if code != 0 {
		t.Fatalf("pakon show --alerts %v: exit %d: %s", args, code, errOut)
	}
	var res query.AlertResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("pakon show --alerts -j: %v\n%s", err, out)
	}
	return res
}

func explain(t *testing.T, pk *pakontest.Instance, id int64) query.Explanation {
	t.Helper()
	out, errOut, code := pk.Run(t, "show", "-j", "--explain", strconv.FormatInt(id, 10))
	if code != 0 {
		t.Fatalf("pakon show --explain %d: exit %d: %s", id, code, errOut)
	}
	var x query.Explanation
	if err := json.Unmarshal([]byte(out), &x); err != nil {
		t.Fatalf("explanation: %v\n%s", err, out)
	}
	return x
}

func dumpAlerts(res query.AlertResult) string {
	var b strings.Builder
	for _, a := range res.Rows {
		fmt.Fprintf(&b, "  %d %s %s→%s %q(%s) count %d engine %v\n", a.SID, a.MAC, a.SrcIP, a.DestIP, a.Hostname, a.NameSource, a.Count, a.Engine)
	}
	return b.String()
}
