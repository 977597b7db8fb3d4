package flow

import (
	"encoding/binary"
	"net/netip"
)

// localNets answers whether an address is in the LAN's prefixes. It runs
// for every event (twice for some), so IPv4 prefixes are kept as masked
// 32-bit numbers, tested with two instructions each instead of
// netip.Prefix.Contains.
type localNets struct {
	v4    []v4Net
	other []netip.Prefix // IPv6 prefixes, tested with Contains
}

type v4Net struct{ base, mask uint32 }

func newLocalNets(prefixes []netip.Prefix) localNets {
	var l localNets
	for _, p := range prefixes {
		switch {
		case !p.IsValid():
			// Contains matches nothing.
		case p.Addr().Is4():
			mask := ^uint32(0) << (32 - p.Bits())
			l.v4 = append(l.v4, v4Net{base: v4(p.Addr()) & mask, mask: mask})
		default:
			l.other = append(l.other, p)
		}
	}
	return l
}

func v4(a netip.Addr) uint32 {
	b := a.As4()
	return binary.BigEndian.Uint32(b[:])
}

// contains is true when some prefix contains ip, as with
// netip.Prefix.Contains: an IPv4 address matches only IPv4 prefixes and an
// IPv6 one (IPv4-mapped included) only IPv6 prefixes.
func (l *localNets) contains(ip netip.Addr) bool {
	if ip.Is4() {
		x := v4(ip)
		for _, n := range l.v4 {
			if x&n.mask == n.base {
				return true
			}
		}
		return false
	}
	for _, p := range l.other {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
