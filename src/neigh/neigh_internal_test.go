package neigh

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const arpSample = `IP address       HW type     Flags       HW address            Mask     Device
192.0.2.10       0x1         0x2         02:00:00:00:00:0A     *        br-lan
192.0.2.11       0x1         0x6         02:00:00:00:00:0b     *        br-lan
192.0.2.12       0x1         0x0         00:00:00:00:00:00     *        br-lan
192.0.2.13       0x1         0x2         00:00:00:00:00:00     *        br-lan
192.0.2.14       0x1         0x0         02:00:00:00:00:0e     *        br-lan
192.0.2.15       0x20        0x2         02:00:00:00:00:00:00:0f *      ib0
garbage line
192.0.2.16       0x1         zz          02:00:00:00:00:10     *        br-lan
not-an-ip        0x1         0x2         02:00:00:00:00:11     *        br-lan
`

func TestParseARP(t *testing.T) {
	m, err := parseARP(strings.NewReader(arpSample))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		ip, mac string
		ok      bool
	}{
		{"192.0.2.10", "02:00:00:00:00:0a", true}, // complete, upper case in file
		{"192.0.2.11", "02:00:00:00:00:0b", true}, // complete + permanent
		{"192.0.2.12", "", false},                 // incomplete
		{"192.0.2.13", "", false},                 // all-zero MAC
		{"192.0.2.14", "", false},                 // flags without ATF_COM
		{"192.0.2.15", "", false},                 // not a 6-byte MAC
		{"192.0.2.16", "", false},                 // bad flags
	}
	for _, tt := range tests {
		mac, ok := m[netip.MustParseAddr(tt.ip)]
		if mac != tt.mac || ok != tt.ok {
			t.Errorf("%s: got %q, %v; want %q, %v", tt.ip, mac, ok, tt.mac, tt.ok)
		}
	}
	if len(m) != 2 {
		t.Errorf("got %d entries, want 2: %v", len(m), m)
	}
}

// nlNeigh builds one RTM_NEWNEIGH message.
func nlNeigh(family byte, state uint16, flags byte, dst, lladdr []byte) []byte {
	body := make([]byte, ndmsgLen)
	body[0] = family
	binary.NativeEndian.PutUint32(body[4:8], 2) // ifindex
	binary.NativeEndian.PutUint16(body[8:10], state)
	body[10] = flags
	body = appendAttr(body, ndaDst, dst)
	if lladdr != nil {
		body = appendAttr(body, ndaLLAddr, lladdr)
	}
	body = appendAttr(body, 3, []byte{1, 2, 3, 4, 5, 6, 7, 8}) // NDA_CACHEINFO-like filler
	return nlMsg(syscall.RTM_NEWNEIGH, body)
}

func appendAttr(b []byte, typ uint16, val []byte) []byte {
	hdr := make([]byte, rtaHdrLen)
	binary.NativeEndian.PutUint16(hdr[0:2], uint16(rtaHdrLen+len(val)))
	binary.NativeEndian.PutUint16(hdr[2:4], typ)
	b = append(b, hdr...)
	b = append(b, val...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func nlMsg(typ uint16, body []byte) []byte {
	hdr := make([]byte, nlmsgHdrLen)
	binary.NativeEndian.PutUint32(hdr[0:4], uint32(nlmsgHdrLen+len(body)))
	binary.NativeEndian.PutUint16(hdr[4:6], typ)
	return append(hdr, body...)
}

func TestParseNeighDump(t *testing.T) {
	const (
		reachable = 0x02
		stale     = 0x04
		permanent = 0x80
	)
	v4 := func(s string) []byte { a := netip.MustParseAddr(s).As4(); return a[:] }
	v6 := func(s string) []byte { a := netip.MustParseAddr(s).As16(); return a[:] }
	mac := func(last byte) []byte { return []byte{0x02, 0, 0, 0, 0, last} }
	var dump []byte
	for _, m := range [][]byte{
		nlNeigh(syscall.AF_INET, reachable, 0, v4("192.0.2.1"), mac(1)),
		nlNeigh(syscall.AF_INET6, stale, 0, v6("2001:db8::2"), mac(2)),
		nlNeigh(syscall.AF_INET6, permanent, 0, v6("fe80::3"), mac(3)),
		nlNeigh(syscall.AF_INET, nudIncomplete, 0, v4("192.0.2.4"), nil),
		nlNeigh(syscall.AF_INET, nudFailed, 0, v4("192.0.2.5"), mac(5)),
		nlNeigh(syscall.AF_INET, nudNoARP, 0, v4("192.0.2.6"), mac(6)),
		nlNeigh(syscall.AF_INET, 0, 0, v4("192.0.2.7"), mac(7)),
		nlNeigh(syscall.AF_INET, reachable, ntfProxy, v4("192.0.2.8"), mac(8)),
		nlNeigh(syscall.AF_INET, reachable, 0, v4("192.0.2.9"), make([]byte, 6)),
		nlNeigh(syscall.AF_INET, reachable, 0, v4("192.0.2.10"), []byte{1, 2, 3, 4}),
		nlNeigh(7 /* AF_BRIDGE */, reachable, 0, v4("192.0.2.11"), mac(11)),
		nlMsg(syscall.NLMSG_DONE, make([]byte, 4)),
		nlNeigh(syscall.AF_INET, reachable, 0, v4("192.0.2.12"), mac(12)), // after DONE
	} {
		dump = append(dump, m...)
	}
	m, err := parseNeighDump(dump)
	if err != nil {
		t.Fatal(err)
	}
	want := map[netip.Addr]string{
		netip.MustParseAddr("192.0.2.1"):   "02:00:00:00:00:01",
		netip.MustParseAddr("2001:db8::2"): "02:00:00:00:00:02",
		netip.MustParseAddr("fe80::3"):     "02:00:00:00:00:03",
	}
	if len(m) != len(want) {
		t.Errorf("got %d entries, want %d: %v", len(m), len(want), m)
	}
	for ip, mac := range want {
		if m[ip] != mac {
			t.Errorf("%s: got %q, want %q", ip, m[ip], mac)
		}
	}
}

func TestParseNeighDumpMalformed(t *testing.T) {
	good := nlNeigh(syscall.AF_INET, 0x02, 0, []byte{192, 0, 2, 1}, []byte{2, 0, 0, 0, 0, 1})
	badAttr := append([]byte(nil), good...)
	binary.NativeEndian.PutUint16(badAttr[nlmsgHdrLen+ndmsgLen:], 200) // attribute longer than message
	badDst := nlNeigh(syscall.AF_INET, 0x02, 0, []byte{192, 0, 2}, []byte{2, 0, 0, 0, 0, 1})
	tests := map[string][]byte{
		"short header":    good[:10],
		"length too long": good[:len(good)-4],
		"short ndmsg":     nlMsg(syscall.RTM_NEWNEIGH, make([]byte, 8)),
		"attribute len":   badAttr,
		"dst length":      badDst,
		"error message":   nlMsg(syscall.NLMSG_ERROR, make([]byte, 20)),
	}
	for name, b := range tests {
		if _, err := parseNeighDump(b); !errors.Is(err, errMalformed) {
			t.Errorf("%s: err = %v, want errMalformed", name, err)
		}
	}
}

func FuzzParseNeighDump(f *testing.F) {
	f.Add(nlNeigh(syscall.AF_INET, 0x02, 0, []byte{192, 0, 2, 1}, []byte{2, 0, 0, 0, 0, 1}))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, _ := parseNeighDump(b)
		for ip, mac := range m {
			if !ip.IsValid() || len(mac) != len("aa:bb:cc:dd:ee:ff") {
				t.Fatalf("bad entry %v → %q", ip, mac)
			}
		}
	})
}

// fakeTable returns a table whose dumps are counted and whose clock is
// set by the test.
type fakeSource struct {
	mu       sync.Mutex
	calls    int
	arpCalls int
	entries  map[netip.Addr]string
	err      error
	arpErr   error
	arp      map[netip.Addr]string
	now      time.Time
}

func newFakeTable(maxAge time.Duration, src *fakeSource) *Table {
	t := New(maxAge)
	t.now = func() time.Time { src.mu.Lock(); defer src.mu.Unlock(); return src.now }
	t.netlink = func() (map[netip.Addr]string, error) {
		src.mu.Lock()
		defer src.mu.Unlock()
		src.calls++
		return src.entries, src.err
	}
	t.readARPf = func(string) (map[netip.Addr]string, error) {
		src.mu.Lock()
		defer src.mu.Unlock()
		src.arpCalls++
		return src.arp, src.arpErr
	}
	return t
}

func (s *fakeSource) set(f func(*fakeSource)) { s.mu.Lock(); f(s); s.mu.Unlock() }

func TestLookupCaches(t *testing.T) {
	a := netip.MustParseAddr("192.0.2.1")
	b := netip.MustParseAddr("192.0.2.2")
	src := &fakeSource{now: time.Unix(1000, 0), entries: map[netip.Addr]string{a: "02:00:00:00:00:01"}}
	tab := newFakeTable(10*time.Second, src)

	if mac, ok := tab.Lookup(a); !ok || mac != "02:00:00:00:00:01" {
		t.Fatalf("Lookup(a) = %q, %v", mac, ok)
	}
	// Misses and hits within maxAge do not dump again.
	for range 5 {
		tab.Lookup(b)
		tab.Lookup(a)
	}
	if src.calls != 1 {
		t.Fatalf("dumps = %d, want 1", src.calls)
	}
	// An IPv4-mapped address finds the IPv4 entry.
	if _, ok := tab.Lookup(netip.MustParseAddr("::ffff:192.0.2.1")); !ok {
		t.Error("IPv4-mapped lookup missed")
	}
	// After maxAge the next lookup dumps again and sees the new device.
	src.set(func(s *fakeSource) {
		s.now = s.now.Add(10 * time.Second)
		s.entries = map[netip.Addr]string{b: "02:00:00:00:00:02"}
	})
	if mac, ok := tab.Lookup(b); !ok || mac != "02:00:00:00:00:02" {
		t.Fatalf("Lookup(b) after maxAge = %q, %v", mac, ok)
	}
	if _, ok := tab.Lookup(a); ok {
		t.Error("entry gone from the kernel table still found")
	}
	if src.calls != 2 {
		t.Fatalf("dumps = %d, want 2", src.calls)
	}
}

func TestLookupFallsBackToARP(t *testing.T) {
	a := netip.MustParseAddr("192.0.2.1")
	src := &fakeSource{
		now: time.Unix(1000, 0),
		err: errors.New("netlink refused"),
		arp: map[netip.Addr]string{a: "02:00:00:00:00:01"},
	}
	tab := newFakeTable(time.Second, src)
	if mac, ok := tab.Lookup(a); !ok || mac != "02:00:00:00:00:01" {
		t.Fatalf("Lookup = %q, %v; want the /proc/net/arp entry", mac, ok)
	}
	if err := tab.Refresh(); err != nil {
		t.Errorf("Refresh with working fallback: %v", err)
	}

	// Both sources failing keeps the previous entries and reports both
	// errors; the failed dump is not retried before maxAge.
	src.set(func(s *fakeSource) { s.arpErr = errors.New("no proc") })
	err := tab.Refresh()
	if err == nil || !strings.Contains(err.Error(), "netlink refused") || !strings.Contains(err.Error(), "no proc") {
		t.Fatalf("Refresh = %v, want both errors", err)
	}
	calls := src.calls
	if _, ok := tab.Lookup(a); !ok {
		t.Error("previous entries lost after a failed dump")
	}
	if src.calls != calls {
		t.Errorf("failed dump retried within maxAge")
	}
	if tab.Len() != 1 {
		t.Errorf("Len = %d, want 1", tab.Len())
	}
}

func TestLookupConcurrent(t *testing.T) {
	a := netip.MustParseAddr("192.0.2.1")
	src := &fakeSource{now: time.Unix(1000, 0), entries: map[netip.Addr]string{a: "02:00:00:00:00:01"}}
	tab := newFakeTable(time.Hour, src)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				if _, ok := tab.Lookup(a); !ok {
					t.Error("concurrent lookup missed")
					return
				}
			}
		}()
	}
	wg.Wait()
	if src.calls != 1 {
		t.Errorf("dumps = %d, want 1", src.calls)
	}
}

func TestEntriesBounded(t *testing.T) {
	m := map[netip.Addr]string{}
	for i := range maxEntries + 10 {
		ip := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		addEntry(m, ip, []byte{2, 0, 0, 0, 0, 1})
	}
	if len(m) != maxEntries {
		t.Errorf("got %d entries, want the bound %d", len(m), maxEntries)
	}
}
