// Package query answers questions about stored flows for the CLI, ubus and
// the web page: which flows overlap a time range, for which devices and
// hosts, aggregated, summarised per device, ranked and charted over time.
//
// # Engine
//
// An Engine is long-lived (the daemon keeps one) and safe for concurrent
// use. It reads the store's all_flows view, so live and archived flows,
// finished and in progress (active), come back together. It holds the
// domain lists behind an atomic pointer (SetLists swaps them on SIGHUP) and
// a Names source for device names. Every value from a caller reaches SQL as
// a bound parameter; lists of values travel as one JSON array parameter
// read with json_each.
//
// # Time ranges
//
// A flow matches [Start, End] when it overlaps the range: it ended at or
// after Start and started at or before End. A flow that began before Start
// and was still running counts (PaKon matched start times only and missed
// it). Aggregates, device summaries and top lists count such a flow whole;
// Histogram spreads a flow's bytes evenly over its duration and keeps the
// part inside the range, so a chart never shows bytes outside its axis.
//
// # Host names
//
// Flows store the name as observed (TLS SNI, HTTP Host, QUIC SNI, the DNS
// name, the certificate CN). The domain lists apply when querying, so a
// list update changes history too:
//
//   - hostname is the display name: the observed name after
//     domains_replace ("scontent-prg1-1.xx.fbcdn.net" → "facebook.com").
//   - A flow without an observed name is shown, matched and grouped by its
//     destination address: its hostname is dest_ip, its observed_name "".
//     Two unnamed flows to different servers are never merged.
//   - An observed name that is an IP literal (an HTTP Host of "10.0.0.1")
//     is kept as it is; lists never merge or hide addresses.
//   - Internationalized names are stored, matched and returned in their
//     ASCII (punycode, "xn--") form; rows whose display name has a Unicode
//     form carry it in hostname_unicode, and the table shows that form.
//   - With the filter on (the default), flows whose observed or display
//     name is on domains_ignore are left out of every result and total.
//     Addresses and unnamed flows are never ignored.
//
// A hostname parameter "example.com" matches example.com and every name
// below it on label boundaries (not "notexample.com"); "=example.com"
// matches that name only; "*.example.com" and ".example.com" mean the same
// as "example.com". It is compared with the display name and the observed
// name, in ASCII and Unicode form, so "facebook.com" finds fbcdn.net flows
// that domains_replace merges into it, and "fbcdn.net" finds them too. A
// hostname parameter that is an IP address matches flows to that address,
// named or not.
//
// # Devices
//
// A device is its MAC address; flows whose MAC is unknown ("") belong to
// their source address instead, so different unknown devices are never
// merged. A device parameter is a MAC address (any notation net.ParseMAC
// reads), an IP address (flows from that source address), or a name, which
// selects every MAC address that name has in any source: the user's name,
// /etc/config/dhcp hosts, the lease file and host names seen in DHCP
// traffic (the devices table), compared without case. A name no source
// knows is an error (CodeNotFound), not an empty result.
//
// # Aggregates
//
// Aggregate groups flows by device, display hostname, destination port
// and transport protocol. It sums bytes in both directions and the flows
// column (a row the archive merged already counts for several flows), and
// keeps the first start and the last end. It never merges rows of
// different devices.
package query

import (
	"strings"
	"time"
)

// Params select and order flows. Zero values mean "no restriction". The
// names in errors (Error.Param) are the ones in the comments, which the
// ubus layer uses as argument names.
type Params struct {
	// Start and End ("start", "end") select flows that overlap
	// [Start, End]; either may be zero for an open end.
	Start, End time.Time
	// Devices ("device") keeps flows of these devices: MAC addresses, IP
	// addresses or device names (see the package doc).
	Devices []string
	// Hostnames ("hostname") keeps flows to these hosts: "example.com"
	// for the domain and its subdomains, "=example.com" for the name
	// only, or an IP address.
	Hostnames []string
	// AppProtos ("app_proto") keeps flows whose application protocol as
	// Suricata named it is one of these ("tls", "http", "quic", "failed").
	AppProtos []string
	// DestPorts ("dest_port") keeps flows to these destination ports.
	DestPorts []int
	// Protos ("proto") keeps flows of these transport protocols ("tcp",
	// "udp", "icmp"; any case).
	Protos []string
	// Active ("active") keeps flows still in progress only.
	Active bool
	// NoFilter ("filter" false) includes flows to hosts on the ignore
	// list.
	NoFilter bool
	// Sort ("sort") is one of SortKeys; Desc reverses it. The default is
	// start, oldest first; ties keep a stable order.
	Sort string
	Desc bool
	// Limit and Offset ("limit", "offset") page the rows; Limit 0 means
	// all. Result.Total counts the rows before paging.
	Limit, Offset int
}

// Row is one flow, or one aggregate group, as shown to users. The JSON
// names are the documented contract of `pakon show -j` and the ubus query
// method. Times are UTC epoch seconds.
type Row struct {
	Start    float64 `json:"start"`
	End      float64 `json:"end"`
	Duration float64 `json:"duration"`
	MAC      string  `json:"mac"`
	// Device is the device's name, null when no source names it.
	Device *string `json:"device"`
	// DeviceSource says where Device came from: "user",
	// "dhcp-config", "lease" or "dhcp".
	DeviceSource string `json:"device_source,omitempty"`
	// SrcIP and DestIP are "" in an aggregate row whose flows had several.
	SrcIP    string `json:"src_ip"`
	SrcPort  int    `json:"src_port"`
	DestIP   string `json:"dest_ip"`
	DestPort int    `json:"dest_port"`
	Proto    string `json:"proto"`
	AppProto string `json:"app_proto"`
	// Hostname is the display name (after domains_replace), or dest_ip
	// for a flow without a name. It is never "".
	Hostname string `json:"hostname"`
	// HostnameUnicode is Hostname with punycode labels decoded, when
	// that differs.
	HostnameUnicode string `json:"hostname_unicode,omitempty"`
	// ObservedName is the name as seen on the wire ("" if none); in an
	// aggregate row it is "" when the group holds several.
	ObservedName string `json:"observed_name"`
	// NameSource is sni, http, quic, dns, cert or ""; "" in an aggregate
	// row whose flows had several.
	NameSource    string `json:"name_source"`
	BytesSent     int64  `json:"bytes_sent"`
	BytesReceived int64  `json:"bytes_received"`
	// Active is true while the flow (any flow of an aggregate row) is in
	// progress.
	Active bool `json:"active"`
	// Flows is how many flows the row stands for.
	Flows int `json:"flows"`
}

// Result is a page of rows and the number of rows matching in all.
type Result struct {
	Rows  []Row `json:"rows"`
	Total int   `json:"total"`
}

// Sort keys. Hostname and device sort by the names shown.
const (
	SortStart    = "start"
	SortEnd      = "end"
	SortDuration = "duration"
	SortBytes    = "bytes"
	SortSent     = "sent"
	SortReceived = "received"
	SortFlows    = "flows"
	SortMAC      = "mac"
	SortDevice   = "device"
	SortHostname = "hostname"
	SortPort     = "port"
	SortProto    = "proto"
	SortApp      = "app"
)

// SortKeys lists the accepted Params.Sort values.
func SortKeys() []string {
	return []string{SortStart, SortEnd, SortDuration, SortBytes, SortSent, SortReceived, SortFlows,
		SortMAC, SortDevice, SortHostname, SortPort, SortProto, SortApp}
}

func validSort(k string) bool {
	for _, s := range SortKeys() {
		if s == k {
			return true
		}
	}
	return false
}

func sortKeyList() string { return strings.Join(SortKeys(), ", ") }

// seconds converts t to the stored epoch seconds.
func seconds(t time.Time) float64 { return float64(t.UnixMicro()) / 1e6 }
