package flow

import "github.com/pakon/pakon/src/eve"

// State is what a Correlator must remember across a restart: the flows in
// progress and the DNS answer history. Without it, a flow open at the
// restart loses its TLS/HTTP name when its flow event arrives, and a flow
// to an address resolved before the restart gets no name at all.
type State struct {
	Watermark eve.Timestamp
	Open      []OpenFlow
	DNS       []DNSEntry
}

// OpenFlow is a flow in progress (or ended and waiting out the hold).
type OpenFlow struct {
	// Record holds the flow's own name so far (SNI, Host, QUIC SNI, or
	// the certificate's CN as a last resort) in Name and Source.
	Record    Record
	Confirmed bool
	// Written is true when an active row for the flow is in the store:
	// its completion must replace that row rather than add one.
	Written  bool
	Ended    bool
	LastSeen eve.Timestamp
}

// Export returns the correlator's state. The records are copies.
func (c *Correlator) Export() State {
	s := State{Watermark: c.watermark, DNS: c.dns.Entries()}
	s.Open = make([]OpenFlow, 0, len(c.flows))
	for _, e := range c.flows {
		if e.gone {
			continue
		}
		s.Open = append(s.Open, OpenFlow{
			Record:    e.rec,
			Confirmed: e.confirmed, Written: e.written, Ended: e.ended, LastSeen: e.lastSeen,
		})
	}
	return s
}

// Import adds a saved state to a fresh correlator. Flows already tracked
// (same flow_id) are kept as they are. Restored flows wait out the hold
// again before they are handed out.
func (c *Correlator) Import(s State) {
	c.watermark = max(c.watermark, s.Watermark)
	c.lastSweep = c.watermark
	c.dns.Restore(s.DNS)
	now := c.opts.Now()
	for _, o := range s.Open {
		if o.Record.FlowID == 0 || c.flows[o.Record.FlowID] != nil {
			continue
		}
		e := &entry{
			rec:       o.Record,
			confirmed: o.Confirmed, written: o.Written, ended: o.Ended, lastSeen: o.LastSeen,
			since: now.UnixNano(), sinceEv: c.watermark,
		}
		c.flows[o.Record.FlowID] = e
		if !e.ended {
			e.device = dnsKey(e.rec.MAC, e.rec.SrcIP)
			c.perDevice[e.device]++
		}
		switch {
		case e.ended:
			c.pending = append(c.pending, e)
		case !e.written:
			c.fresh = append(c.fresh, e)
		}
	}
}
