package flow

import (
	"net/netip"
	"strings"
	"time"

	"github.com/pakon/pakon/src/eve"
)

// Alert is one Suricata rule match, attributed to the LAN device it
// concerns and named like a flow.
type Alert struct {
	Time   eve.Timestamp
	FlowID uint64
	// MAC, SrcIP and SrcPort are the device's side; DestIP and DestPort the
	// other side, whichever sent the packet that matched.
	MAC           string
	SrcIP, DestIP netip.Addr
	SrcPort       uint16
	DestPort      uint16
	Proto         string
	AppProto      string
	// Hostname is the name the alert is about: the app-layer object of
	// the match (DNS query, TLS SNI, HTTP Host), else the flow's name.
	Hostname   string
	NameSource Source
	GID        uint32
	SID        uint32
	Rev        uint32
	Signature  string
	Category   string
	Severity   int
	Action     string
	Metadata   map[string][]string
	// Inbound is true when the remote side started the flow.
	Inbound bool
	// Engine marks Suricata's own protocol-anomaly rules (decoder, stream
	// and app-layer events: "SURICATA …", sids 2200000-2299999), kept apart
	// from threat rules.
	Engine bool
}

// maxPendingAlerts bounds alerts waiting out the hold: a rule firing on
// every packet of a flood must not take the router's memory.
const maxPendingAlerts = 50_000

type pendingAlert struct {
	a       Alert
	remote  netip.Addr
	since   time.Time
	sinceEv eve.Timestamp
}

// IsEngineRule reports whether a rule is one of Suricata's own protocol
// anomaly rules rather than a threat signature.
func IsEngineRule(gid, sid uint32, signature string) bool {
	return (sid >= 2200000 && sid <= 2299999) || strings.HasPrefix(signature, "SURICATA ")
}

func (c *Correlator) handleAlert(ev *eve.Event) {
	x := ev.Alert
	if len(c.alerts) >= maxPendingAlerts {
		c.stats.AlertsDropped++
		return
	}
	// The flow object holds the endpoints in flow direction; without it,
	// fall back to the tracked flow, then to the packet.
	client, server := ev.SrcIP, ev.DestIP
	cport, sport := ev.SrcPort, ev.DestPort
	if f := ev.Flow; f != nil && f.SrcIP.IsValid() {
		client, server, cport, sport = f.SrcIP, f.DestIP, f.SrcPort, f.DestPort
	} else if e := c.flows[ev.FlowID]; e != nil && ev.FlowID != 0 {
		client, server, cport, sport = e.rec.SrcIP, e.rec.DestIP, e.rec.SrcPort, e.rec.DestPort
	} else if !c.clientIsSrc(ev) {
		client, server, cport, sport = ev.DestIP, ev.SrcIP, ev.DestPort, ev.SrcPort
	}
	a := Alert{
		Time: ev.Timestamp, FlowID: ev.FlowID, Proto: ev.Proto, AppProto: ev.AppProto,
		GID: x.GID, SID: x.SignatureID, Rev: x.Rev, Signature: x.Signature, Category: x.Category,
		Severity: x.Severity, Action: x.Action, Metadata: x.Metadata,
		Engine: IsEngineRule(x.GID, x.SignatureID, x.Signature),
	}
	// The device is the local side: the client, or the server when an
	// outside host started the flow.
	switch {
	case c.isLocal(client):
		a.SrcIP, a.SrcPort, a.DestIP, a.DestPort = client, cport, server, sport
	case c.isLocal(server):
		a.SrcIP, a.SrcPort, a.DestIP, a.DestPort = server, sport, client, cport
		a.Inbound = true
	default:
		c.stats.AlertsSkipped++
		return
	}
	// ether is in packet direction.
	if ev.SrcIP == a.SrcIP {
		a.MAC = ev.SrcMAC
	} else if ev.DestIP == a.SrcIP {
		a.MAC = ev.DestMAC
	}
	switch {
	case ev.DNS != nil && len(ev.DNS.Queries) > 0 && ev.DNS.Queries[0].Name != "":
		a.Hostname, a.NameSource = ev.DNS.Queries[0].Name, SourceDNS
	case ev.TLS != nil && ev.TLS.SNI != "":
		a.Hostname, a.NameSource = ev.TLS.SNI, SourceSNI
	case ev.HTTP != nil && ev.HTTP.Hostname != "":
		a.Hostname, a.NameSource = hostWithoutPort(ev.HTTP.Hostname), SourceHTTP
	case ev.QUIC != nil && ev.QUIC.SNI != "":
		a.Hostname, a.NameSource = ev.QUIC.SNI, SourceQUIC
	}
	c.alerts = append(c.alerts, &pendingAlert{a: a, remote: a.DestIP, since: c.opts.Now(), sinceEv: ev.Timestamp})
}

// DrainAlerts appends the alerts that waited out the hold (so a late DNS
// answer or the flow's own name can still name them); final hands out all.
func (c *Correlator) DrainAlerts(out []Alert, final bool) []Alert {
	now := c.opts.Now()
	n := 0
	for _, p := range c.alerts {
		if !final && now.Sub(p.since) < c.opts.Hold && c.watermark-p.sinceEv < c.hold {
			break
		}
		n++
		a := p.a
		c.nameAlert(&a)
		out = append(out, a)
		c.stats.Alerts++
	}
	for i := range n {
		c.alerts[i] = nil
	}
	if n > len(c.alerts)/2 {
		c.alerts = append(c.alerts[:0], c.alerts[n:]...)
	} else {
		c.alerts = c.alerts[n:]
	}
	return out
}

// nameAlert completes an alert's device and name from the flow it belongs
// to, the device's DNS answers and the neighbour table.
func (c *Correlator) nameAlert(a *Alert) {
	e := c.flows[a.FlowID]
	if a.FlowID == 0 {
		e = nil
	}
	if a.MAC == "" && e != nil && e.rec.SrcIP == a.SrcIP {
		a.MAC = e.rec.MAC
	}
	if a.MAC == "" && c.opts.Neighbours != nil {
		if mac, ok := c.opts.Neighbours(a.SrcIP); ok {
			a.MAC = mac
		}
	}
	if a.Hostname != "" {
		return
	}
	if e != nil {
		rec := e.rec
		c.resolve(&rec, e)
		if rec.Name != "" {
			a.Hostname, a.NameSource = rec.Name, rec.Source
			return
		}
	}
	if a.MAC != "" {
		if n, ok := c.dns.Lookup(a.MAC, a.DestIP, a.Time); ok {
			a.Hostname, a.NameSource = n, SourceDNS
			return
		}
	}
	if n, ok := c.dns.Lookup(dnsKey("", a.SrcIP), a.DestIP, a.Time); ok {
		a.Hostname, a.NameSource = n, SourceDNS
	}
}
