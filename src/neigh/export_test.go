package neigh

import "net/netip"

// ReadARP exposes the /proc/net/arp fallback to the external tests.
func ReadARP(path string) (map[netip.Addr]string, error) { return readARP(path) }
