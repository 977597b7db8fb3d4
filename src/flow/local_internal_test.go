package flow

import (
	"math/rand/v2"
	"net/netip"
	"testing"
)

// TestLocalNetsMatchContains checks localNets against netip.Prefix.Contains
// for random addresses near the prefixes' edges, IPv4-mapped and zoned
// addresses, and odd prefixes (/0, /32, an invalid one, IPv4-mapped IPv6).
func TestLocalNetsMatchContains(t *testing.T) {
	prefixes := append([]netip.Prefix{
		netip.MustParsePrefix("0.0.0.0/0"),
		netip.MustParsePrefix("203.0.113.7/32"),
		netip.MustParsePrefix("::ffff:100.64.0.0/106"),
		{},
	}, DefaultLocalNetworks...)
	rng := rand.New(rand.NewPCG(5, 6))
	var addrs []netip.Addr
	for range 5000 {
		var b [4]byte
		for i := range b {
			b[i] = []byte{0, 10, 100, 64, 172, 16, 31, 32, 192, 168, 169, 254, 203, 113, 7, 255}[rng.IntN(16)]
		}
		a := netip.AddrFrom4(b)
		addrs = append(addrs, a, netip.AddrFrom16(a.As16()))
		var b16 [16]byte
		b16[0] = []byte{0xfc, 0xfd, 0xfe, 0x20, 0xff}[rng.IntN(5)]
		b16[1] = []byte{0x80, 0x00, 0xbf, 0xc0}[rng.IntN(4)]
		addrs = append(addrs, netip.AddrFrom16(b16), netip.AddrFrom16(b16).WithZone("eth0"))
	}
	for n := 0; n <= len(prefixes); n++ {
		set := prefixes[n:]
		l := newLocalNets(set)
		for _, a := range addrs {
			want := false
			for _, p := range set {
				want = want || p.Contains(a)
			}
			if got := l.contains(a); got != want {
				t.Fatalf("prefixes %v: contains(%v) = %v, want %v", set, a, got, want)
			}
		}
	}
}
