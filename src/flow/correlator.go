package flow

import (
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/pakon/pakon/src/eve"
)

// Defaults for Options fields left zero.
const (
	DefaultHold          = 2 * time.Second
	DefaultMaxOpen       = 200_000
	DefaultMaxDNSAnswers = 20_000
	DefaultDNSGrace      = 5 * time.Minute
	DefaultMaxIdle       = 24 * time.Hour
	// DefaultDeviceShare is the share of MaxOpen one device may hold when
	// Options.MaxOpenPerDevice is zero: a scanning or flooding device
	// fills its share, and the others still have three quarters.
	DefaultDeviceShare = 4
)

// DefaultLocalNetworks are the private and link-local ranges: a home LAN
// almost always lives in one of them.
var DefaultLocalNetworks = []netip.Prefix{
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.168.0.0/16"),
	netip.MustParsePrefix("169.254.0.0/16"),
	netip.MustParsePrefix("fc00::/7"),
	netip.MustParsePrefix("fe80::/10"),
}

// Options tune a Correlator.
type Options struct {
	// LocalNetworks are the LAN's prefixes: only flows started from them
	// are recorded. Nil means DefaultLocalNetworks.
	LocalNetworks []netip.Prefix
	// SkipDNS drops flows to port 53 or with app_proto dns (their
	// content already names the other flows).
	SkipDNS bool
	// SkipUnidirectional drops flows with no bytes in one direction
	// (scans, unanswered SYNs, broadcasts).
	SkipUnidirectional bool
	// Hold delays writing a flow after its last change, so that events
	// written out of order by Suricata's threads (a DNS answer logged after
	// the TLS event that used it) still reach it. It counts in wall time
	// and in event time, whichever passes first. Zero means DefaultHold.
	Hold time.Duration
	// MaxOpen bounds the flows tracked at once; new flows beyond it are
	// counted in Stats.Overflow and not tracked until their flow event.
	MaxOpen int
	// MaxOpenPerDevice bounds the open flows one device (MAC, else
	// address) may hold, so that one device opening flows at a flood rate
	// (a scan, a worm, a broken app) cannot take the whole of MaxOpen from
	// the others. Flows beyond it are counted in Stats.DeviceCapped and
	// per device in Stats.Flooding, and not tracked until their flow
	// event (which still records them). Zero means MaxOpen /
	// DefaultDeviceShare.
	MaxOpenPerDevice int
	// MaxDNSAnswers bounds the DNS history; the answers that expire first
	// are evicted first.
	MaxDNSAnswers int
	// DNSGrace extends every DNS TTL when matching flows to names.
	DNSGrace time.Duration
	// MaxIdle drops open flows with no event for this long (event time):
	// their flow event was lost. Their active row stays in the store.
	MaxIdle time.Duration
	// Neighbours finds a MAC for an IP when events carry none (the kernel
	// neighbour table). Optional.
	Neighbours func(netip.Addr) (string, bool)
	// Now is the wall clock; nil means time.Now. Tests set it.
	Now func() time.Time
}

// Stats are the Correlator's counters.
type Stats struct {
	Open          int    // flows tracked
	Pending       int    // ended flows waiting out the hold
	DNSAnswers    int    // answers in the DNS history
	DNSEvicted    uint64 // answers evicted to stay within the bound
	Overflow      uint64 // flows not tracked because MaxOpen was reached
	Expired       uint64 // open flows dropped after MaxIdle
	Skipped       uint64 // flow events not recorded (not local, DNS, one-way)
	Records       uint64 // completed records handed out
	Alerts        uint64 // alerts handed out
	AlertsSkipped uint64 // alerts between two non-local hosts
	AlertsDropped uint64 // alerts dropped because too many were pending
	DeviceCapped  uint64 // flows not tracked because their device reached MaxOpenPerDevice
	MaxOpen       int    // the bounds in force, for status
	MaxPerDevice  int
	// Flooding names the devices that reached MaxOpenPerDevice, most
	// capped first (at most maxFlooding of them).
	Flooding []DeviceFlood
}

// DeviceFlood is a device that reached the per-device open-flow limit.
type DeviceFlood struct {
	Device string // MAC, or "ip:" and the address when the MAC is unknown
	Capped uint64 // flows not tracked
	Open   int    // flows it holds now
	Last   time.Time
}

// maxFlooding bounds the devices remembered as flooding: spoofed source
// MACs must not grow it without limit.
const maxFlooding = 16

type entry struct {
	rec       Record
	confirmed bool // orientation comes from a flow-direction event
	written   bool // an active row was handed out
	ended     bool // the flow event arrived
	gone      bool // handed out as completed, or discarded
	lastSeen  eve.Timestamp
	device    string        // perDevice key it counts against; "" when not counted
	since     int64         // wall time it was queued (fresh or pending), Unix ns
	sinceEv   eve.Timestamp // event time it was queued
}

// Correlator joins events into Records. It is not safe for concurrent use:
// one goroutine feeds it and drains it.
type Correlator struct {
	opts      Options
	local     localNets // opts.LocalNetworks
	hold      eve.Timestamp
	flows     map[uint64]*entry
	fresh     []*entry // new flows, oldest first, to be shown as active
	pending   []*entry // ended flows, oldest first
	dns       *DNSHistory
	devices   []DeviceSeen
	alerts    []*pendingAlert
	discards  []Update
	watermark eve.Timestamp
	lastSweep eve.Timestamp
	stats     Stats
	perDevice map[string]int // open flows per device
	flooding  map[string]*DeviceFlood
}

// New returns a Correlator with opts, defaults filled in.
func New(opts Options) *Correlator {
	if opts.LocalNetworks == nil {
		opts.LocalNetworks = DefaultLocalNetworks
	}
	if opts.Hold <= 0 {
		opts.Hold = DefaultHold
	}
	if opts.MaxOpen <= 0 {
		opts.MaxOpen = DefaultMaxOpen
	}
	if opts.MaxOpenPerDevice <= 0 {
		opts.MaxOpenPerDevice = max(1, opts.MaxOpen/DefaultDeviceShare)
	}
	if opts.MaxDNSAnswers <= 0 {
		opts.MaxDNSAnswers = DefaultMaxDNSAnswers
	}
	if opts.DNSGrace <= 0 {
		opts.DNSGrace = DefaultDNSGrace
	}
	if opts.MaxIdle <= 0 {
		opts.MaxIdle = DefaultMaxIdle
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Correlator{
		opts:      opts,
		local:     newLocalNets(opts.LocalNetworks),
		hold:      eve.Timestamp(opts.Hold / time.Microsecond),
		flows:     make(map[uint64]*entry),
		dns:       NewDNSHistory(opts.MaxDNSAnswers, eve.Timestamp(opts.DNSGrace/time.Microsecond)),
		perDevice: make(map[string]int),
		flooding:  make(map[string]*DeviceFlood),
	}
}

// DNS returns the correlator's DNS history (for snapshots).
func (c *Correlator) DNS() *DNSHistory { return c.dns }

// Stats returns a copy of the counters.
func (c *Correlator) Stats() Stats {
	s := c.stats
	s.Open = len(c.flows)
	s.Pending = len(c.pending)
	s.DNSAnswers = c.dns.Len()
	s.DNSEvicted = c.dns.Evicted
	s.MaxOpen, s.MaxPerDevice = c.opts.MaxOpen, c.opts.MaxOpenPerDevice
	s.Flooding = c.floodReport()
	return s
}

// Watermark returns the newest event time seen.
func (c *Correlator) Watermark() eve.Timestamp { return c.watermark }

func (c *Correlator) isLocal(ip netip.Addr) bool { return c.local.contains(ip) }

// Handle feeds one event.
func (c *Correlator) Handle(ev *eve.Event) {
	if ev.Timestamp > c.watermark {
		c.watermark = ev.Timestamp
	}
	switch ev.Type {
	case eve.TypeFlow:
		c.handleFlow(ev)
	case eve.TypeDNS:
		c.handleDNS(ev)
	case eve.TypeTLS:
		if e := c.entryFor(ev, true); e != nil {
			e.setApp(SourceSNI, ev.TLS.SNI)
			if e.rec.Source == SourceNone {
				// Kept as the last resort: resolve prefers a DNS name.
				if cn := CertName(ev.TLS.Subject); cn != "" {
					e.rec.Name, e.rec.Source = cn, SourceCert
				}
			}
		}
	case eve.TypeHTTP:
		if e := c.entryFor(ev, true); e != nil {
			e.setApp(SourceHTTP, hostWithoutPort(ev.HTTP.Hostname))
		}
	case eve.TypeQUIC:
		if e := c.entryFor(ev, false); e != nil {
			e.setApp(SourceQUIC, ev.QUIC.SNI)
		}
	case eve.TypeDHCP:
		c.handleDHCP(ev)
	case eve.TypeAlert:
		c.handleAlert(ev)
	}
}

func (e *entry) setApp(src Source, name string) {
	if name == "" {
		return
	}
	// e.rec holds the flow's own app-layer name, or its certificate's
	// CN (the lowest source); DNS names are looked up on the copy handed
	// out.
	if e.rec.Source == SourceNone || src < e.rec.Source {
		e.rec.Name, e.rec.Source = name, src
	}
}

// hostWithoutPort strips a port from an HTTP Host value ("a.test:8080",
// "[2001:db8::1]:80").
func hostWithoutPort(h string) string {
	if h == "" {
		return ""
	}
	if host, _, err := net.SplitHostPort(h); err == nil {
		return host
	}
	return strings.Trim(h, "[]")
}

// clientIsSrc tells which side of a packet-direction event is the LAN
// client: the local side when only one is local, else the side not on the
// lower (service) port.
func (c *Correlator) clientIsSrc(ev *eve.Event) bool {
	sl, dl := c.isLocal(ev.SrcIP), c.isLocal(ev.DestIP)
	if sl != dl {
		return sl
	}
	return ev.DestPort <= ev.SrcPort
}

// isGroup reports multicast and broadcast destinations: neighbour
// discovery, mDNS, SSDP and DHCP talk to everyone, not to a host, and are
// not recorded.
func isGroup(ip netip.Addr) bool {
	return ip.IsMulticast() || ip == netip.AddrFrom4([4]byte{255, 255, 255, 255})
}

func (c *Correlator) isDNS(appProto string, serverPort uint16) bool {
	return appProto == "dns" || serverPort == 53
}

// orient fills the record's endpoints with the client as source.
func orient(rec *Record, ev *eve.Event, clientIsSrc bool) {
	if clientIsSrc {
		rec.SrcIP, rec.SrcPort, rec.DestIP, rec.DestPort = ev.SrcIP, ev.SrcPort, ev.DestIP, ev.DestPort
		if ev.SrcMAC != "" {
			rec.MAC = ev.SrcMAC
		}
	} else {
		rec.SrcIP, rec.SrcPort, rec.DestIP, rec.DestPort = ev.DestIP, ev.DestPort, ev.SrcIP, ev.SrcPort
		if ev.DestMAC != "" {
			rec.MAC = ev.DestMAC
		}
	}
	if ev.Proto != "" {
		rec.Proto = ev.Proto
	}
	if ev.AppProto != "" {
		rec.AppProto = ev.AppProto
	}
}

// entryFor finds or starts the flow of an app-layer event. flowDirection
// says whether the event's src is the flow's client.
func (c *Correlator) entryFor(ev *eve.Event, flowDirection bool) *entry {
	if ev.FlowID == 0 {
		return nil
	}
	if e := c.flows[ev.FlowID]; e != nil {
		e.lastSeen = max(e.lastSeen, ev.Timestamp)
		if flowDirection && !e.confirmed && !e.ended {
			orient(&e.rec, ev, true)
			e.confirmed = true
		}
		return e
	}
	clientIsSrc := flowDirection || c.clientIsSrc(ev)
	client, serverPort := ev.SrcIP, ev.DestPort
	if !clientIsSrc {
		client, serverPort = ev.DestIP, ev.SrcPort
	}
	server := ev.DestIP
	if !clientIsSrc {
		server = ev.SrcIP
	}
	if !c.isLocal(client) || isGroup(server) || (c.opts.SkipDNS && c.isDNS(ev.AppProto, serverPort)) {
		return nil
	}
	if len(c.flows) >= c.opts.MaxOpen {
		c.stats.Overflow++
		return nil
	}
	e := &entry{confirmed: flowDirection, lastSeen: ev.Timestamp, since: c.opts.Now().UnixNano(), sinceEv: ev.Timestamp}
	e.rec.FlowID = ev.FlowID
	e.rec.Start, e.rec.End = ev.Timestamp, ev.Timestamp
	orient(&e.rec, ev, clientIsSrc)
	dev := dnsKey(e.rec.MAC, e.rec.SrcIP)
	if c.perDevice[dev] >= c.opts.MaxOpenPerDevice {
		c.capDevice(dev, time.Unix(0, e.since))
		return nil
	}
	c.perDevice[dev]++
	e.device = dev
	c.flows[ev.FlowID] = e
	c.fresh = append(c.fresh, e)
	return e
}

func (c *Correlator) handleFlow(ev *eve.Event) {
	var e *entry
	if ev.FlowID != 0 {
		e = c.flows[ev.FlowID]
	}
	f := ev.Flow
	// Flow events are in flow direction: src is the client.
	skip := !c.isLocal(ev.SrcIP) || isGroup(ev.DestIP) ||
		(c.opts.SkipDNS && c.isDNS(ev.AppProto, ev.DestPort)) ||
		(c.opts.SkipUnidirectional && (f.BytesToServer == 0 || f.BytesToClient == 0))
	if skip {
		c.stats.Skipped++
		if e != nil {
			c.discard(e)
		}
		return
	}
	if e == nil {
		e = &entry{}
		e.rec.FlowID = ev.FlowID
		if ev.FlowID != 0 {
			c.flows[ev.FlowID] = e
		}
	}
	orient(&e.rec, ev, true)
	e.confirmed = true
	if f.Start != 0 {
		e.rec.Start = f.Start
	}
	e.rec.End = max(f.End, e.rec.Start)
	e.rec.BytesSent, e.rec.BytesReceived = f.BytesToServer, f.BytesToClient
	e.rec.PktsSent, e.rec.PktsReceived = f.PktsToServer, f.PktsToClient
	e.lastSeen = max(e.lastSeen, ev.Timestamp)
	if !e.ended {
		e.ended = true
		e.since, e.sinceEv = c.opts.Now().UnixNano(), ev.Timestamp
		c.pending = append(c.pending, e)
	}
}

// forget removes e from the open flows.
func (c *Correlator) forget(e *entry) {
	if c.flows[e.rec.FlowID] == e {
		delete(c.flows, e.rec.FlowID)
	}
	if e.device != "" {
		if n := c.perDevice[e.device] - 1; n > 0 {
			c.perDevice[e.device] = n
		} else {
			delete(c.perDevice, e.device)
		}
		e.device = ""
	}
}

func (c *Correlator) discard(e *entry) {
	c.forget(e)
	e.gone = true
	if e.written {
		c.discards = append(c.discards, Update{Op: OpDiscard, Record: e.rec, Written: true})
	}
}

// dnsKey names a device in the DNS history: its MAC when known, else its
// address, so that a device asking over IPv4 and connecting over IPv6 still
// matches when the capture shows its MAC.
func dnsKey(mac string, ip netip.Addr) string {
	if mac != "" {
		return mac
	}
	return "ip:" + ip.String()
}

func (c *Correlator) handleDNS(ev *eve.Event) {
	d := ev.DNS
	if !d.Response {
		return
	}
	// v2 answers are logged in flow direction (src = client); v3 responses
	// come from the responder. The port settles it when one side is 53.
	clientIsSrc := d.Version < 3
	switch {
	case ev.DestPort == 53 && ev.SrcPort != 53:
		clientIsSrc = true
	case ev.SrcPort == 53 && ev.DestPort != 53:
		clientIsSrc = false
	}
	ip, mac := ev.SrcIP, ev.SrcMAC
	if !clientIsSrc {
		ip, mac = ev.DestIP, ev.DestMAC
	}
	if !ip.IsValid() {
		return
	}
	c.dns.Add(dnsKey(mac, ip), ev.Timestamp, d)
}

func (c *Correlator) handleDHCP(ev *eve.Event) {
	x := ev.DHCP
	if x.ClientMAC == "" || x.Hostname == "" {
		return
	}
	ip := x.AssignedIP
	if !ip.IsValid() || ip.IsUnspecified() {
		ip = x.ClientIP
	}
	if ip.IsValid() && ip.IsUnspecified() {
		ip = netip.Addr{}
	}
	c.devices = append(c.devices, DeviceSeen{MAC: x.ClientMAC, IP: ip, Hostname: x.Hostname, At: ev.Timestamp})
}

// TakeDevices returns the DHCP host names seen since the last call.
func (c *Correlator) TakeDevices() []DeviceSeen {
	d := c.devices
	c.devices = nil
	return d
}

// resolve picks the record's name: the flow's own app-layer name, else the
// name the device asked DNS for, else the certificate's CN.
func (c *Correlator) resolve(rec *Record, e *entry) {
	if rec.MAC == "" && c.opts.Neighbours != nil {
		if mac, ok := c.opts.Neighbours(rec.SrcIP); ok {
			rec.MAC, e.rec.MAC = mac, mac
		}
	}
	if rec.Name != "" && rec.Source != SourceCert {
		return // the flow's own name (SNI, Host, QUIC SNI)
	}
	certName := ""
	if rec.Source == SourceCert {
		certName, rec.Name, rec.Source = rec.Name, "", SourceNone
	}
	if rec.MAC != "" {
		if n, ok := c.dns.Lookup(rec.MAC, rec.DestIP, rec.Start); ok {
			rec.Name, rec.Source = n, SourceDNS
			return
		}
	}
	if n, ok := c.dns.Lookup(dnsKey("", rec.SrcIP), rec.DestIP, rec.Start); ok {
		rec.Name, rec.Source = n, SourceDNS
		return
	}
	if certName != "" {
		rec.Name, rec.Source = certName, SourceCert
	}
}

// Drain appends to out the updates that are ready: flows that ended at least
// Hold ago, and flows open for at least Hold that have not been shown yet
// (as active). With final, everything tracked is handed out (end of an
// import, shutdown).
func (c *Correlator) Drain(out []Update, final bool) []Update {
	out = append(out, c.discards...)
	c.discards = c.discards[:0]
	now := c.opts.Now()
	ready := func(e *entry) bool {
		// A wall clock set back (NTP's first sync on a router without an
		// RTC) counts as the hold passed: waiting for the clock to catch
		// up could hold flows for hours.
		waited := time.Duration(now.UnixNano() - e.since)
		return final || waited >= c.opts.Hold || waited < 0 || c.watermark-e.sinceEv >= c.hold
	}

	n := 0
	for _, e := range c.pending {
		if e.gone {
			n++
			continue
		}
		if !ready(e) {
			break
		}
		n++
		rec := e.rec
		c.resolve(&rec, e)
		out = append(out, Update{Op: OpUpsert, Record: rec, Written: e.written})
		e.gone = true
		c.stats.Records++
		c.forget(e)
	}
	c.pending = shift(c.pending, n)

	n = 0
	for _, e := range c.fresh {
		if e.gone || e.ended || e.written {
			n++
			continue
		}
		if !ready(e) {
			break
		}
		n++
		rec := e.rec
		rec.End = e.lastSeen
		rec.Active = true
		c.resolve(&rec, e)
		out = append(out, Update{Op: OpUpsert, Record: rec})
		e.written = true
	}
	c.fresh = shift(c.fresh, n)

	if c.watermark-c.lastSweep >= 60e6 || final {
		c.sweep()
	}
	return out
}

// shift drops the first n elements, reusing the array while it is small
// relative to what it holds.
func shift(q []*entry, n int) []*entry {
	if n == 0 {
		return q
	}
	for i := range n {
		q[i] = nil
	}
	if n > len(q)/2 {
		return append(q[:0], q[n:]...)
	}
	return q[n:]
}

// sweep expires DNS answers and forgets open flows idle for MaxIdle.
func (c *Correlator) sweep() {
	c.lastSweep = c.watermark
	c.dns.Expire(c.watermark)
	idle := eve.Timestamp(c.opts.MaxIdle / time.Microsecond)
	for _, e := range c.flows {
		if !e.ended && c.watermark-e.lastSeen > idle {
			c.forget(e)
			e.gone = true
			c.stats.Expired++
		}
	}
}
