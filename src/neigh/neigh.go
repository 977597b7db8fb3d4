// Package neigh reads the kernel neighbour table (ARP for IPv4, NDP for
// IPv6) to find a device's MAC address from its IP address, as a fallback
// when an EVE event carries no MAC.
//
// The table is dumped over rtnetlink (RTM_GETNEIGH); if that fails,
// /proc/net/arp is read instead, which has IPv4 entries only. Entries that
// are incomplete, failed, "noarp" or proxy entries, and those whose link
// address is not a 6-byte, non-zero MAC, are left out.
package neigh

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"
)

// DefaultMaxAge is how old a dump may be before Lookup takes a new one,
// when New is given a zero maxAge.
const DefaultMaxAge = 10 * time.Second

// maxEntries bounds the entries kept from one dump, so a huge table (a
// router on a big flat network, or a neighbour-table flood) cannot grow
// the daemon without limit. The kernel's own default gc_thresh3 is 1024.
const maxEntries = 1 << 16

// defaultARPPath is the IPv4 fallback.
const defaultARPPath = "/proc/net/arp"

// Table answers IP → MAC look-ups from a cached dump of the kernel
// neighbour table. It is safe for concurrent use; the zero value is not
// usable, call New.
type Table struct {
	maxAge time.Duration

	// Replaced in tests.
	now      func() time.Time
	netlink  func() (map[netip.Addr]string, error)
	arpPath  string
	readARPf func(path string) (map[netip.Addr]string, error)

	mu      sync.Mutex
	entries map[netip.Addr]string
	dumped  time.Time // time of the last dump attempt; zero before the first
	err     error     // error of the last dump attempt
}

// New returns a table that dumps the kernel table at most once every
// maxAge (DefaultMaxAge if maxAge is zero or negative). A longer maxAge
// costs fewer dumps but finds devices that just appeared later.
func New(maxAge time.Duration) *Table {
	if maxAge <= 0 {
		maxAge = DefaultMaxAge
	}
	return &Table{
		maxAge:   maxAge,
		now:      time.Now,
		netlink:  dumpNetlink,
		arpPath:  defaultARPPath,
		readARPf: readARP,
	}
}

// Lookup returns the MAC address of ip, formatted "aa:bb:cc:dd:ee:ff", if
// the neighbour table has a usable entry for it. IPv4-mapped IPv6
// addresses are looked up as IPv4 and zones are ignored. The first call,
// and the first call once the cached dump is older than maxAge, dumps the
// kernel table; a failed dump is also retried only after maxAge.
func (t *Table) Lookup(ip netip.Addr) (mac string, ok bool) {
	ip = ip.Unmap().WithZone("")
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.dumped.IsZero() || t.now().Sub(t.dumped) >= t.maxAge {
		t.refreshLocked()
	}
	mac, ok = t.entries[ip]
	return mac, ok
}

// Refresh dumps the kernel table now, whatever the age of the cached
// dump. It returns an error if neither netlink nor /proc/net/arp could be
// read; the previous entries are then kept.
func (t *Table) Refresh() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.refreshLocked()
	return t.err
}

// Len returns the number of entries in the cached dump.
func (t *Table) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.entries)
}

func (t *Table) refreshLocked() {
	t.dumped = t.now()
	entries, err := t.netlink()
	if err != nil {
		var aerr error
		entries, aerr = t.readARPf(t.arpPath)
		if aerr != nil {
			t.err = errors.Join(err, aerr)
			return
		}
	}
	t.entries, t.err = entries, nil
}

// addEntry adds ip → mac to m unless the MAC is unusable or m is full.
func addEntry(m map[netip.Addr]string, ip netip.Addr, mac []byte) {
	if len(mac) != 6 || len(m) >= maxEntries || !ip.IsValid() {
		return
	}
	zero := true
	for _, b := range mac {
		if b != 0 {
			zero = false
			break
		}
	}
	if zero {
		return
	}
	m[ip.Unmap().WithZone("")] = net.HardwareAddr(mac).String()
}

var errMalformed = errors.New("malformed")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), errMalformed)
}
