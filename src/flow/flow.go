// Package flow correlates decoded EVE events into per-device flow records.
//
// Suricata writes a flow's app-layer events (dns, tls, http, quic) while the
// flow runs and its "flow" event only when it ends. The Correlator joins them
// by flow_id, decides which side is the LAN device, picks the flow's host name
// from the best source available, and hands out Updates: first an active
// record for flows that stay open, then the completed one.
package flow

import (
	"net/netip"

	"github.com/pakon/pakon/src/eve"
)

// Source says where a flow's host name came from, best first.
type Source uint8

// Name sources in order of precedence: what the device itself put on the
// wire for this flow beats what it asked DNS for, which beats the server's
// certificate.
const (
	SourceNone Source = iota
	SourceSNI         // TLS ClientHello server_name
	SourceHTTP        // HTTP Host header
	SourceQUIC        // QUIC Initial server_name
	SourceDNS         // the name the device resolved to this address
	SourceCert        // the server certificate's subject CN
)

var sourceNames = [...]string{"", "sni", "http", "quic", "dns", "cert"}

func (s Source) String() string {
	if int(s) < len(sourceNames) {
		return sourceNames[s]
	}
	return ""
}

// ParseSource is the inverse of Source.String.
func ParseSource(s string) Source {
	for i, n := range sourceNames {
		if n == s {
			return Source(i)
		}
	}
	return SourceNone
}

// Record is one flow of one device. Byte and packet counters are from the
// device's point of view: sent is device → remote.
type Record struct {
	FlowID        uint64
	Start, End    eve.Timestamp
	MAC           string // "" when unknown
	SrcIP, DestIP netip.Addr
	SrcPort       uint16
	DestPort      uint16
	Source        Source // where Name came from (next to the ports: no padding)
	Active        bool   // the flow had not ended when the record was written
	Proto         string
	AppProto      string
	Name          string // observed host name, lower-case
	BytesSent     uint64
	BytesReceived uint64
	PktsSent      uint64
	PktsReceived  uint64
}

// Op is what the store must do with an Update.
type Op uint8

const (
	// OpUpsert writes the record: insert it, or replace the active row
	// written earlier for the same flow.
	OpUpsert Op = iota
	// OpDiscard removes the active row of a flow that turned out not to be
	// recorded after all (a one-way flow, for instance).
	OpDiscard
)

// Update is one change for the store.
type Update struct {
	Op     Op
	Record Record
	// Written is true when an active row for this flow was written before,
	// so the store must look for it; false lets it insert straight away.
	Written bool
}

// DeviceSeen reports a device host name seen in DHCP traffic.
type DeviceSeen struct {
	MAC      string
	IP       netip.Addr
	Hostname string
	At       eve.Timestamp
}
