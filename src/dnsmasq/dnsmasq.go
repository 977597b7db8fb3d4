// Package dnsmasq follows the DHCP leases dnsmasq hands out as they
// happen: its ubus notifications on OpenWrt (Ubus) and its D-Bus signals
// on Debian (DBus). Each lease becomes an Event; Names turns the events
// into device names for leases.Names, between two reads of the lease file.
package dnsmasq

import (
	"log/slog"
	"net"
	"net/netip"
	"strings"
)

// logComponentKey is the slog attribute that names the logging component.
const logComponentKey = "component"

// Kind says what happened to a lease.
type Kind uint8

// Kinds of lease events.
const (
	// Granted is a lease given, renewed or changed: ubus "dhcp.ack",
	// D-Bus DhcpLeaseAdded and DhcpLeaseUpdated.
	Granted Kind = iota + 1
	// Released is a lease that ended: ubus "dhcp.release" (the client
	// said so), D-Bus DhcpLeaseDeleted (released or expired).
	Released
)

// String returns "granted" or "released".
func (k Kind) String() string {
	switch k {
	case Granted:
		return "granted"
	case Released:
		return "released"
	}
	return "unknown"
}

// Event is one change of a lease as dnsmasq announced it.
type Event struct {
	Kind Kind
	// MAC is the client's Ethernet address, "aa:bb:cc:dd:ee:ff"; "" for
	// other hardware and for DHCPv6 clients dnsmasq knows no MAC of.
	MAC string
	// IP is the leased address; invalid when dnsmasq sent none.
	IP netip.Addr
	// Hostname is the name the client sent (option 12 or the FQDN
	// option) or that a dhcp-host line gave it, as dnsmasq sent it; ""
	// when there is none. ubus releases never carry one.
	Hostname string
	// Interface is where the request came in ("br-lan"); only the ubus
	// notifications say.
	Interface string
}

// Handler receives events. The watchers call it from one goroutine at a
// time, in the order dnsmasq sent the events; it must not block for long.
type Handler func(Event)

// NameObserver records host names seen in DHCP; *leases.Names is one.
type NameObserver interface {
	Observe(mac, hostname string)
}

// Names returns a Handler that gives o the host name of every granted
// lease. Releases change nothing: a released lease ends an address, not
// the device, whose history keeps its name. The names o remembers age out
// by their own rule (leases.MaxObserved), and the lease file, which
// Names.Refresh reads, tells which addresses are still leased.
func Names(o NameObserver) Handler {
	return func(e Event) {
		if e.Kind == Granted && e.MAC != "" && e.Hostname != "" {
			o.Observe(e.MAC, e.Hostname)
		}
	}
}

// parseMAC returns s as "aa:bb:cc:dd:ee:ff" if it is an Ethernet
// address, else "".
func parseMAC(s string) string {
	hw, err := net.ParseMAC(strings.TrimSpace(s))
	if err != nil || len(hw) != 6 {
		return ""
	}
	return hw.String()
}

// parseIP returns s as an address without zone or IPv4 mapping, or the
// zero Addr.
func parseIP(s string) netip.Addr {
	ip, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil || ip.Zone() != "" {
		return netip.Addr{}
	}
	return ip.Unmap()
}

// componentLogger returns log with the component attribute, or a logger
// that discards everything when log is nil.
func componentLogger(log *slog.Logger, component string) *slog.Logger {
	if log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return log.With(logComponentKey, component)
}
