package flow_test

import (
	"fmt"
	"testing"

	"github.com/pakon/pakon/src/flow"
)

// Alert lines as Suricata 7 writes them (tests/netlab facts): the event's
// endpoints and MACs follow the matching packet, the "flow" object the flow.
func alertLine(at float64, flowID int, pktSrc, pktDst, srcMAC, dstMAC string, sport, dport int, sid int, sig, extra string) string {
	return fmt.Sprintf(`{"timestamp":%q,"flow_id":%d,"event_type":"alert","src_ip":%q,"src_port":%d,"dest_ip":%q,"dest_port":%d,"proto":"TCP","ether":{"src_mac":%q,"dest_mac":%q},"alert":{"action":"allowed","gid":1,"signature_id":%d,"rev":1,"signature":%q,"category":"A Network Trojan was detected","severity":1,"metadata":{"tag":["stalkerware"]}}%s,"app_proto":"tls","direction":"to_client","flow":{"pkts_toserver":4,"pkts_toclient":3,"bytes_toserver":523,"bytes_toclient":1266,"start":%q,"src_ip":"10.99.1.10","dest_ip":"203.0.113.10","src_port":43114,"dest_port":443}}`,
		ts(at), flowID, pktSrc, sport, pktDst, dport, srcMAC, dstMAC, sid, sig, extra, ts(at-0.1))
}

func TestAlertsAttributedToDevice(t *testing.T) {
	h := newHarness(t, flow.Options{})
	h.feed(
		// A match on the server's packet: the device is the packet's destination.
		alertLine(100, 7, "203.0.113.10", "10.99.1.10", routerMAC, client, 443, 43114, 9000007, "stalker cert", ``),
		// A match with the SNI in the app-layer object.
		alertLine(100, 8, "10.99.1.10", "203.0.113.10", client, routerMAC, 43114, 443, 9000004, "stalker sni", `,"tls":{"sni":"Spy.Example.Test"}`),
		// Suricata's own stream anomaly rule.
		alertLine(100, 9, "10.99.1.10", "203.0.113.10", client, routerMAC, 43114, 443, 2210045, "SURICATA STREAM Packet with invalid ack", ``),
	)
	// The first one is named from the device's DNS answer, which arrives
	// out of order.
	h.feed(dnsAnswer(99.5, 1, "10.99.1.10", "c2.example.test", "c2.example.test A 60 203.0.113.10"))
	alerts := h.c.DrainAlerts(nil, true)
	if len(alerts) != 3 {
		t.Fatalf("got %d alerts: %+v", len(alerts), alerts)
	}
	a := alerts[0]
	if a.MAC != client || a.SrcIP.String() != "10.99.1.10" || a.DestIP.String() != "203.0.113.10" || a.DestPort != 443 || a.Inbound {
		t.Errorf("packet-direction alert attributed as %+v", a)
	}
	if a.Hostname != "c2.example.test" || a.NameSource != flow.SourceDNS || a.SID != 9000007 || a.Severity != 1 || a.Metadata["tag"][0] != "stalkerware" {
		t.Errorf("alert 0: %+v", a)
	}
	if b := alerts[1]; b.Hostname != "spy.example.test" || b.NameSource != flow.SourceSNI || b.Engine {
		t.Errorf("alert 1: %+v", b)
	}
	if c := alerts[2]; !c.Engine {
		t.Errorf("stream anomaly not marked as engine rule: %+v", c)
	}
}

func TestAlertDNSQueryAndInbound(t *testing.T) {
	h := newHarness(t, flow.Options{})
	h.feed(fmt.Sprintf(`{"timestamp":%q,"flow_id":3,"event_type":"alert","src_ip":"10.99.1.10","src_port":5353,"dest_ip":"10.99.1.1","dest_port":53,"proto":"UDP","ether":{"src_mac":%q,"dest_mac":%q},"alert":{"action":"allowed","gid":1,"signature_id":9100001,"rev":3,"signature":"stalkerware domain","category":"","severity":1},"dns":{"query":[{"type":"query","id":1,"rrname":"Stalker.Example.Test","rrtype":"A"}]},"app_proto":"dns","flow":{"start":%q,"src_ip":"10.99.1.10","dest_ip":"10.99.1.1","src_port":5353,"dest_port":53}}`,
		ts(100), client, routerMAC, ts(100)))
	// An outside host connecting in (a port forward): the device is the server.
	h.feed(fmt.Sprintf(`{"timestamp":%q,"flow_id":4,"event_type":"alert","src_ip":"198.51.100.66","src_port":40000,"dest_ip":"10.99.1.20","dest_port":22,"proto":"TCP","ether":{"src_mac":%q,"dest_mac":"02:00:00:00:00:14"},"alert":{"gid":1,"signature_id":9200001,"rev":1,"signature":"scan","severity":2},"flow":{"start":%q,"src_ip":"198.51.100.66","dest_ip":"10.99.1.20","src_port":40000,"dest_port":22}}`, ts(101), routerMAC, ts(101)))
	h.feed(fmt.Sprintf(`{"timestamp":%q,"flow_id":5,"event_type":"alert","src_ip":"198.51.100.1","src_port":1,"dest_ip":"198.51.100.2","dest_port":2,"proto":"TCP","alert":{"gid":1,"signature_id":1,"rev":1,"signature":"x","severity":3}}`, ts(102)))
	alerts := h.c.DrainAlerts(nil, true)
	if len(alerts) != 2 {
		t.Fatalf("got %+v", alerts)
	}
	if a := alerts[0]; a.Hostname != "stalker.example.test" || a.NameSource != flow.SourceDNS || a.MAC != client || a.Rev != 3 {
		t.Errorf("dns alert: %+v", a)
	}
	if b := alerts[1]; !b.Inbound || b.SrcIP.String() != "10.99.1.20" || b.SrcPort != 22 || b.MAC != "02:00:00:00:00:14" || b.DestIP.String() != "198.51.100.66" {
		t.Errorf("inbound alert: %+v", b)
	}
	if s := h.c.Stats(); s.AlertsSkipped != 1 {
		t.Errorf("alert between two outside hosts: stats %+v", s)
	}
}
