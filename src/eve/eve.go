// Package eve decodes Suricata EVE JSON lines into typed events.
//
// Only the fields pakon uses are decoded; everything else in a line is
// skipped without allocating. The decoder is written for speed (it runs for
// every line Suricata emits) and for hostile input: a malformed, truncated or
// non-UTF-8 line yields an error naming what was wrong, never a panic.
package eve

import (
	"errors"
	"net/netip"
	"time"
)

// Type is the kind of an EVE event (its "event_type").
type Type uint8

// Event types pakon understands. TypeOther covers everything else (stats,
// anomaly, fileinfo, …): such events decode their common fields only.
const (
	TypeOther Type = iota
	TypeFlow
	TypeDNS
	TypeTLS
	TypeHTTP
	TypeQUIC
	TypeDHCP
	TypeAlert
)

var typeNames = [...]string{"other", "flow", "dns", "tls", "http", "quic", "dhcp", "alert"}

func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return "other"
}

// Timestamp is a point in time in microseconds since the Unix epoch (UTC).
// It is what EVE carries and is half the size of a time.Time.
type Timestamp int64

// Time converts t to a time.Time in UTC.
func (t Timestamp) Time() time.Time { return time.UnixMicro(int64(t)).UTC() }

// Seconds returns t as fractional epoch seconds, the unit pakon stores.
func (t Timestamp) Seconds() float64 { return float64(t) / 1e6 }

// TimestampOf converts a time.Time to a Timestamp.
func TimestampOf(t time.Time) Timestamp { return Timestamp(t.UnixMicro()) }

// Event is one decoded EVE line. Common fields are always set (zero when the
// line lacks them); exactly one of the protocol pointers is set for the event
// types that have one.
//
// Direction matters: for flow, dns (format v2), tls and http events Suricata
// writes src_* as the flow's client; for quic, dhcp, alert and dns v3
// responses it writes the sender of the packet that triggered the event.
type Event struct {
	Type      Type
	Timestamp Timestamp
	FlowID    uint64
	SrcIP     netip.Addr
	DestIP    netip.Addr
	SrcPort   uint16
	DestPort  uint16
	Proto     string // "TCP", "UDP", "ICMP", … (interned)
	AppProto  string // "tls", "http", "dns", "quic", "failed", … (interned)
	// SrcMAC and DestMAC come from "ether": src_mac/dest_mac on packet
	// events, or the first of src_macs/dest_macs on flow events.
	SrcMAC  string
	DestMAC string
	// Direction is "to_server" or "to_client" on alert events.
	Direction string

	Flow  *Flow
	DNS   *DNS
	TLS   *TLS
	HTTP  *HTTP
	QUIC  *QUIC
	DHCP  *DHCP
	Alert *Alert
}

// Flow is the "flow" object of a flow event, written when a flow ends (or
// when Suricata shuts down). Counters are in the flow's direction.
type Flow struct {
	PktsToServer  uint64
	PktsToClient  uint64
	BytesToServer uint64
	BytesToClient uint64
	Start         Timestamp
	End           Timestamp
	State         string
	Reason        string
	Alerted       bool
	// SrcIP, DestIP, SrcPort and DestPort are set in alert events only,
	// whose "flow" object repeats the endpoints in flow direction (client
	// first) while the event's own are the matching packet's.
	SrcIP, DestIP     netip.Addr
	SrcPort, DestPort uint16
}

// DNS is a DNS transaction of either format: Suricata 7's version 2 (one
// "query" or "answer" event per transaction) or Suricata 8's version 3
// ("request"/"response" with a "queries" array).
type DNS struct {
	Version  int
	Response bool // answer (v2) or response (v3)
	ID       int
	RCode    string
	Queries  []Question
	Answers  []Answer
}

// Question is one entry of a DNS question section.
type Question struct {
	Name string
	Type string
}

// Answer is one resource record of a DNS answer section. TTL is in seconds;
// HasTTL is false for records taken from the "grouped" format, which has none.
type Answer struct {
	Name   string
	Type   string
	TTL    uint32
	HasTTL bool
	Data   string
}

// TLS is the "tls" object of a tls event (or of an alert on a TLS flow).
type TLS struct {
	SNI         string
	Subject     string
	Issuer      string
	Version     string
	Fingerprint string
	NotAfter    string
}

// HTTP is the "http" object of an http event.
type HTTP struct {
	Hostname  string
	URL       string
	Method    string
	UserAgent string
	Status    int
	Length    uint64
}

// QUIC is the "quic" object of a quic event.
type QUIC struct {
	Version string
	SNI     string
	UA      string
}

// DHCP is the "dhcp" object of a dhcp event (extended logging).
type DHCP struct {
	Type       string // "request" or "reply"
	DHCPType   string // "discover", "offer", "request", "ack", …
	ClientMAC  string
	ClientIP   netip.Addr
	AssignedIP netip.Addr
	Hostname   string
	LeaseTime  uint32
}

// Alert is the "alert" object of an alert event. The app-layer object of the
// match (dns, tls, http) is decoded into the Event's own pointers.
type Alert struct {
	Action      string
	GID         uint32
	SignatureID uint32
	Rev         uint32
	Signature   string
	Category    string
	Severity    int
	// Metadata is the rule's metadata (key → values), as Suricata logs it.
	Metadata map[string][]string
}

// ErrEmpty is returned for a blank line.
var ErrEmpty = errors.New("empty line")
