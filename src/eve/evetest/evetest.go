// Package evetest generates realistic synthetic Suricata EVE streams for
// benchmarks and load tests: a home network's devices resolving names and
// opening TLS, HTTP, QUIC and plain UDP flows.
package evetest

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// Generator writes EVE lines. The zero value is not usable; use New.
type Generator struct {
	Devices int
	rng     *rand.Rand
	now     time.Time
	flowID  uint64
	hosts   []string
	// open holds flows started but not yet ended, so flow events come
	// later than their app-layer events, as Suricata writes them.
	open []openFlow
	// KeepOpen, when set, never ends flows (for memory tests).
	KeepOpen bool
}

type openFlow struct {
	id       uint64
	dev      int
	sport    int
	dst      string
	dport    int
	proto    string
	app      string
	start    time.Time
	toServer int
	toClient int
}

// New returns a generator for devices devices, deterministic for seed.
func New(devices int, seed uint64, start time.Time) *Generator {
	g := &Generator{Devices: devices, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), now: start, flowID: 1_000_000}
	for i := range 400 {
		g.hosts = append(g.hosts, fmt.Sprintf("svc%d.%s", i%37, []string{"example.test", "cdn.test", "video.test", "social.test", "ads.test"}[i%5]))
	}
	return g
}

func (g *Generator) mac(dev int) string {
	return fmt.Sprintf("02:00:00:00:%02x:%02x", dev>>8, dev&0xff)
}
func (g *Generator) ip(dev int) string { return fmt.Sprintf("192.168.%d.%d", 1+dev/250, 2+dev%250) }

func ts(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000+0000") }

// Next appends the lines of one step to dst: usually a DNS exchange, an
// app-layer event starting a flow, and the end of an earlier flow.
func (g *Generator) Next(dst [][]byte) [][]byte {
	g.now = g.now.Add(time.Duration(g.rng.IntN(2000)) * time.Microsecond)
	dev := g.rng.IntN(g.Devices)
	host := g.hosts[g.rng.IntN(len(g.hosts))]
	ip := fmt.Sprintf("203.0.%d.%d", g.rng.IntN(200), 1+g.rng.IntN(250))
	g.flowID++
	dnsID := g.flowID
	t := ts(g.now)
	cip, cmac := g.ip(dev), g.mac(dev)
	if g.rng.IntN(3) > 0 {
		dst = append(dst,
			fmt.Appendf(nil, `{"timestamp":%q,"flow_id":%d,"in_iface":"br-lan","event_type":"dns","src_ip":%q,"src_port":%d,"dest_ip":"192.168.1.1","dest_port":53,"proto":"UDP","pkt_src":"wire/pcap","ether":{"src_mac":%q,"dest_mac":"02:00:00:00:00:01"},"dns":{"version":2,"type":"query","id":%d,"rrname":%q,"rrtype":"A","tx_id":0,"opcode":0}}`,
				t, dnsID, cip, 30000+g.rng.IntN(30000), cmac, g.rng.IntN(65535), host),
			fmt.Appendf(nil, `{"timestamp":%q,"flow_id":%d,"in_iface":"br-lan","event_type":"dns","src_ip":%q,"src_port":%d,"dest_ip":"192.168.1.1","dest_port":53,"proto":"UDP","pkt_src":"wire/pcap","ether":{"src_mac":%q,"dest_mac":"02:00:00:00:00:01"},"dns":{"version":2,"type":"answer","id":%d,"flags":"8180","qr":true,"rd":true,"ra":true,"opcode":0,"rrname":%q,"rrtype":"A","rcode":"NOERROR","answers":[{"rrname":%q,"rrtype":"CNAME","ttl":300,"rdata":"edge-%s"},{"rrname":"edge-%s","rrtype":"A","ttl":60,"rdata":%q}],"grouped":{"A":[%q],"CNAME":["edge-%s"]}}}`,
				t, dnsID, cip, 30000+g.rng.IntN(30000), cmac, g.rng.IntN(65535), host, host, host, host, ip, ip, host),
		)
	}
	g.flowID++
	f := openFlow{id: g.flowID, dev: dev, sport: 32768 + g.rng.IntN(28000), dst: ip, start: g.now,
		toServer: 200 + g.rng.IntN(20000), toClient: 500 + g.rng.IntN(2_000_000)}
	switch r := g.rng.IntN(10); {
	case r < 6:
		f.dport, f.proto, f.app = 443, "TCP", "tls"
		dst = append(dst, fmt.Appendf(nil, `{"timestamp":%q,"flow_id":%d,"in_iface":"br-lan","event_type":"tls","src_ip":%q,"src_port":%d,"dest_ip":%q,"dest_port":443,"proto":"TCP","pkt_src":"wire/pcap","ether":{"src_mac":%q,"dest_mac":"02:00:00:00:00:01"},"tls":{"subject":"CN=%s","issuerdn":"C=US, O=Let's Encrypt, CN=R3","serial":"04:AB","fingerprint":"aa:bb:cc","sni":%q,"version":"TLS 1.3","notbefore":"2024-01-01T00:00:00","notafter":"2024-04-01T00:00:00","ja3":{"hash":"x","string":"y"},"ja3s":{"hash":"x","string":"y"}}}`,
			t, f.id, cip, f.sport, ip, cmac, host, host))
	case r < 8:
		f.dport, f.proto, f.app = 80, "TCP", "http"
		dst = append(dst, fmt.Appendf(nil, `{"timestamp":%q,"flow_id":%d,"in_iface":"br-lan","event_type":"http","src_ip":%q,"src_port":%d,"dest_ip":%q,"dest_port":80,"proto":"TCP","pkt_src":"wire/pcap","ether":{"src_mac":%q,"dest_mac":"02:00:00:00:00:01"},"tx_id":0,"http":{"hostname":%q,"url":"/index.html","http_user_agent":"Mozilla/5.0","http_content_type":"text/html","http_method":"GET","protocol":"HTTP/1.1","status":200,"length":%d}}`,
			t, f.id, cip, f.sport, ip, cmac, host, f.toClient))
	case r < 9:
		f.dport, f.proto, f.app = 443, "UDP", "quic"
		dst = append(dst, fmt.Appendf(nil, `{"timestamp":%q,"flow_id":%d,"in_iface":"br-lan","event_type":"quic","src_ip":%q,"src_port":%d,"dest_ip":%q,"dest_port":443,"proto":"UDP","pkt_src":"wire/pcap","ether":{"src_mac":%q,"dest_mac":"02:00:00:00:00:01"},"quic":{"version":"1","sni":%q,"ua":"x"}}`,
			t, f.id, cip, f.sport, ip, cmac, host))
	default:
		f.dport, f.proto, f.app = 3478+g.rng.IntN(100), "UDP", "failed"
	}
	if g.KeepOpen {
		return dst
	}
	g.open = append(g.open, f)
	// End the oldest flows once a few dozen are running.
	for len(g.open) > 64 {
		o := g.open[0]
		g.open = g.open[1:]
		end := g.now.Add(-time.Duration(g.rng.IntN(500)) * time.Microsecond)
		dst = append(dst, fmt.Appendf(nil, `{"timestamp":%q,"flow_id":%d,"in_iface":"br-lan","event_type":"flow","src_ip":%q,"src_port":%d,"dest_ip":%q,"dest_port":%d,"proto":%q,"app_proto":%q,"flow":{"pkts_toserver":%d,"pkts_toclient":%d,"bytes_toserver":%d,"bytes_toclient":%d,"start":%q,"end":%q,"age":0,"state":"closed","reason":"timeout","alerted":false},"ether":{"dest_macs":["02:00:00:00:00:01"],"src_macs":[%q]},"tcp":{"tcp_flags":"1b","tcp_flags_ts":"1b","tcp_flags_tc":"1b","syn":true,"fin":true,"psh":true,"ack":true,"state":"closed"}}`,
			ts(g.now), o.id, g.ip(o.dev), o.sport, o.dst, o.dport, o.proto, o.app, 1+o.toServer/1400, 1+o.toClient/1400,
			o.toServer, o.toClient, ts(o.start), ts(end), g.mac(o.dev)))
	}
	return dst
}

// Lines returns at least n lines.
func (g *Generator) Lines(n int) [][]byte {
	out := make([][]byte, 0, n+8)
	for len(out) < n {
		out = g.Next(out)
	}
	return out
}
