// Package netlab builds throw-away network labs in Linux network namespaces
// for pakon's integration tests: LAN clients behind a router, an "internet"
// with DNS and web servers (tests/trafficgen), a capture on the router's
// LAN bridge, and Suricata with the configuration pakon ships, on a pcap or
// live.
//
// The tests must run as root; without root, or without ip, tcpdump,
// suricata (or dnsmasq when asked for), they skip with a message.
// Everything a lab creates is removed by t.Cleanup, also when a test fails;
// namespaces left by a killed test binary are swept by the next New.
//
// # Topology
//
//	client ns (one per ClientConfig)     router ns                       internet ns
//	eth0 MAC 02:00:00:00:00:0a ──veth── lan0 ┐                        ┌ eth0 192.0.2.2, 2001:db8:ffff::2
//	10.99.S.10/24, fd99:S::10/64             br-lan 10.99.S.1         │ lo: 198.51.100.53, 2001:db8:53::53 (DNS)
//	                                         MAC 02:00:00:00:00:01    │     every A/AAAA of the zone (web)
//	                                         wan 192.0.2.1 ──veth─────┘
//
// The router routes (no NAT), so Suricata on br-lan sees the clients' own
// addresses, as it would on an OpenWrt br-lan. Clients resolve through
// Lab.Resolver: the authoritative server 198.51.100.53, or the router's
// dnsmasq with Config.Dnsmasq (which also serves DHCP). Checksum offload is
// off on every interface, so captures carry valid checksums.
//
// Typical use:
//
//	l := netlab.New(t, netlab.Config{})
//	capture := l.StartCapture(t)
//	res := l.Clients[0].Run(t, "https://www.example.test/bytes/5000#tls=1.2")
//	eve := netlab.RunSuricataOnPcap(t, capture.Stop(t), t.TempDir())
//	events := netlab.ReadEVE(t, eve)
//
// # Suricata 7 EVE facts
//
// Observed with Suricata 7.0.10 and files/etc/pakon/suricata.yaml, and
// pinned by TestEVEFacts. "Client" is the flow's initiator, "server" the
// responder; src_ip/src_port/dest_ip/dest_port are called "src" and "dest".
//
// Direction, per event type:
//
//   - flow: src = client. ether holds lists, no single MACs:
//     {"dest_macs":["<router>"],"src_macs":["<client>"]}; src_macs are the
//     client side's MACs, dest_macs the server side's (the router's br-lan
//     MAC for routed traffic), whichever packet carried them.
//   - dns (query and answer), tls, http, quic: src = client for every event,
//     also for a DNS answer or a certificate the server sent. ether is
//     {"src_mac":"<client>","dest_mac":"<router>"}, in flow direction too.
//   - dhcp: every message is logged from its own packet and the two
//     directions are two flows: a client message has src 0.0.0.0:68 and
//     dest 255.255.255.255:67 with ether.src_mac the client; a server reply
//     has src 10.99.S.1:67 (the server) and dest 255.255.255.255:68 with
//     ether.src_mac the router. The device is dhcp.client_mac; the lease is
//     dhcp.assigned_ip in "offer"/"ack" replies; dhcp.hostname and
//     dhcp.requested_ip come in "discover"/"request" (extended logging).
//   - alert: packet direction. src is the sender of the packet that matched,
//     ether.src_mac/dest_mac likewise; "direction" is "to_server" or
//     "to_client"; the "flow" object repeats src_ip, dest_ip, src_port and
//     dest_port in flow direction (client first) with packet and byte
//     counts so far. The app-layer object (dns, tls, http plus "files") and
//     "app_proto" are included.
//
// Common fields: every event has timestamp, flow_id (the same for all
// events of one connection), event_type, src_ip, dest_ip, proto ("TCP",
// "UDP", "IPv6-ICMP"), pkt_src "wire/pcap"; src_port/dest_port except for
// ICMP; "pcap_cnt" on packet-driven events when reading a pcap; "in_iface"
// (e.g. "br-lan") when live. tx_id on http and alert events.
//
// Timestamps look like "2026-11-22T00:27:40.773261+0000": microseconds and
// a numeric offset without a colon, in the Suricata host's time zone (Go
// layout "2006-01-02T15:04:05.999999-0700"); flow.start and flow.end use
// the same form. When reading a pcap they are packet times, and the flow
// events written at the end carry the last packet's time. tls.notbefore
// and tls.notafter have no zone: "2026-11-21T23:27:40" (UTC).
//
// IPv6 addresses are written out in full with leading zeros, in src_ip,
// dest_ip, flow.src_ip and AAAA rdata alike:
// "fd99:0001:0000:0000:0000:0000:0000:0010". Parse them; do not compare text.
//
// flow events come once per connection, when it times out (TCP closed
// 10 s, UDP 120 s in the shipped config), or when Suricata stops or reaches
// the end of a pcap ("reason":"shutdown"). flow: {pkts_toserver,
// pkts_toclient, bytes_toserver, bytes_toclient, start, end, age, state
// ("new", "established", "closed"), reason, alerted}; the byte counts are
// whole frames including the 14-byte Ethernet header. app_proto is
// "failed" when no parser recognised the traffic (the UDP echo) and absent
// for ICMP. TCP flows add a "tcp" object (flags, state).
//
// DNS (version 2, formats detailed and grouped). A query, one event per
// question:
//
//	"dns":{"version":2,"type":"query","id":30111,"rrname":"www.example.test","rrtype":"A","tx_id":0,"opcode":0}
//
// The answer, one event per response, the question repeated in rrname and
// rrtype, the CNAME chain in answer order, grouped by type as well:
//
//	"dns":{"version":2,"type":"answer","id":30111,"flags":"8580","qr":true,"aa":true,"rd":true,"ra":true,
//	  "opcode":0,"rrname":"www.example.test","rrtype":"A","rcode":"NOERROR",
//	  "answers":[{"rrname":"www.example.test","rrtype":"CNAME","ttl":300,"rdata":"edge.cdn.test"},
//	             {"rrname":"edge.cdn.test","rrtype":"A","ttl":60,"rdata":"203.0.113.10"}],
//	  "grouped":{"A":["203.0.113.10"],"CNAME":["edge.cdn.test"]}}
//
// An NXDOMAIN answer has "rcode":"NXDOMAIN" and no "answers"/"grouped". In
// an alert the DNS object is {"version":2,"query":[{…query fields…}]}.
// Suricata 8's default v3 differs: type "request"/"response", the question
// in "queries":[{"rrname","rrtype"}]; see files/etc/pakon/suricata.yaml.
//
// TLS: with TLS 1.2, "tls":{"subject":"O=pakon lab, CN=www.example.test",
// "issuerdn":"O=pakon lab, CN=Pakon Test CA","serial":"02","fingerprint":
// "b5:79:…" (SHA-1, colon hex),"sni":"www.example.test","version":"TLS 1.2",
// "notbefore":…,"notafter":…}. With TLS 1.3 the certificate is encrypted:
// only "sni" and "version" ("TLS 1.3"). Without SNI (connecting by
// address) "sni" is absent.
//
// HTTP: "http":{"hostname","url","http_user_agent","http_content_type",
// "http_method","protocol","status","length"} where length is the
// response body size.
//
// QUIC (client Initial): "quic":{"version":"1","sni":"www.example.test",
// "ja3":{"hash","string"},"extensions":[{"name","type","values"}…]}.
package netlab
