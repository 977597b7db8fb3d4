package flow

import (
	"net/netip"

	"github.com/pakon/pakon/src/eve"
)

const (
	// answersPerAddress bounds how many names one device keeps for one
	// address (CDN addresses serve many names over a day).
	answersPerAddress = 4
	// maxChain bounds CNAME chain walks.
	maxChain = 16
	// clockSkew lets an answer match a flow that starts up to this long
	// before the answer's timestamp: packets of one exchange can be stamped
	// out of order by different capture threads.
	clockSkew = eve.Timestamp(2e6)
	// defaultTTL applies to records logged without a TTL (grouped format).
	defaultTTL = 300
)

type dnsAnswer struct {
	name  string
	at    eve.Timestamp // when the answer was seen
	until eve.Timestamp // at + TTL + grace
}

// DNSHistory remembers, per device, which names resolved to which addresses
// and until when, so flows can be named after what the device asked for.
type DNSHistory struct {
	grace   eve.Timestamp
	max     int
	devices map[string]map[netip.Addr][]dnsAnswer
	size    int
	// lo and hi bound the expiry times held (exact after each pass over
	// the history, widened by adds), so that choosing what to evict takes
	// one pass instead of two.
	lo, hi eve.Timestamp
	// Evicted counts answers dropped to stay within the bound.
	Evicted uint64
}

// NewDNSHistory returns an empty history holding at most max answers (a
// sixteenth more between sweeps).
// grace extends every TTL: clients commonly keep using an address a little
// past its TTL, and short TTLs would otherwise leave flows unnamed.
func NewDNSHistory(max int, grace eve.Timestamp) *DNSHistory {
	return &DNSHistory{grace: grace, max: max, devices: make(map[string]map[netip.Addr][]dnsAnswer)}
}

// Len returns the number of answers held.
func (h *DNSHistory) Len() int { return h.size }

// Add records a DNS response seen by device at time at. Each address record
// is attributed to the name the device asked for, following CNAME chains
// back from the address record's owner.
func (h *DNSHistory) Add(device string, at eve.Timestamp, d *eve.DNS) {
	if !d.Response || len(d.Answers) == 0 {
		return
	}
	var query string
	if len(d.Queries) > 0 {
		query = d.Queries[0].Name
	}
	// CNAME target → owner, for the chain walks. A response holds a few;
	// a list scanned is cheaper than a map made for each.
	var parentArr [8]cname
	parent := parentArr[:0]
	for _, a := range d.Answers {
		if a.Type == "CNAME" && a.Name != "" {
			target := eve.NormalizeHostname(a.Data)
			if i := findCNAME(parent, target); i >= 0 {
				parent[i].owner = a.Name // a later record wins, as in a map
			} else {
				parent = append(parent, cname{target, a.Name})
			}
		}
	}
	for _, a := range d.Answers {
		if a.Type != "A" && a.Type != "AAAA" {
			continue
		}
		ip, err := netip.ParseAddr(a.Data)
		if err != nil {
			continue
		}
		name := a.Name
		for i := 0; i < maxChain && name != ""; i++ {
			j := findCNAME(parent, name)
			if j < 0 {
				break
			}
			name = parent[j].owner
		}
		if name == "" {
			name = query
		}
		if name == "" {
			continue
		}
		ttl := uint32(defaultTTL)
		if a.HasTTL {
			ttl = a.TTL
		}
		h.add(device, ip.Unmap(), dnsAnswer{name: name, at: at, until: at + eve.Timestamp(ttl)*1e6 + h.grace})
	}
}

// cname is one CNAME record of a response: target's owner.
type cname struct{ target, owner string }

func findCNAME(list []cname, target string) int {
	for i := range list {
		if list[i].target == target {
			return i
		}
	}
	return -1
}

func (h *DNSHistory) add(device string, ip netip.Addr, ans dnsAnswer) {
	byIP := h.devices[device]
	if byIP == nil {
		byIP = make(map[netip.Addr][]dnsAnswer)
		h.devices[device] = byIP
	}
	if h.size == 0 {
		h.lo, h.hi = ans.until, ans.until
	}
	h.lo, h.hi = min(h.lo, ans.until), max(h.hi, ans.until)
	list := byIP[ip]
	for i := range list {
		if list[i].name == ans.name {
			// Refresh in place: the newest sighting decides validity.
			if ans.at > list[i].at {
				list[i].at = ans.at
			}
			if ans.until > list[i].until {
				list[i].until = ans.until
			}
			return
		}
	}
	if len(list) >= answersPerAddress {
		oldest := 0
		for i := range list {
			if list[i].at < list[oldest].at {
				oldest = i
			}
		}
		list[oldest] = ans
		h.Evicted++
		return
	}
	byIP[ip] = append(list, ans)
	h.size++
	// Expire enforces the bound at every sweep (a minute of event time);
	// at a flood of answers that minute could hold far more than max.
	// Past a slack of a sixteenth, evict down to that much below max,
	// so that the pass over the history runs once per max/8 answers.
	if slack := h.max / 16; h.max > 0 && h.size > h.max+slack {
		h.evictOldest(h.size - h.max + slack)
	}
}

// Lookup returns the name device resolved to ip that was valid when a flow
// started at start: the most recent answer seen at or before start whose TTL
// (plus grace) had not run out. Only when there is none does an answer seen
// up to clockSkew after start count (the earliest such): capture clocks of
// different queues can disagree slightly, but a later answer must never
// override one the device had already received.
func (h *DNSHistory) Lookup(device string, ip netip.Addr, start eve.Timestamp) (string, bool) {
	list := h.devices[device][ip]
	best := -1
	for i, a := range list {
		if a.at <= start && a.until >= start && (best < 0 || a.at > list[best].at) {
			best = i
		}
	}
	if best < 0 {
		for i, a := range list {
			if a.at > start && a.at <= start+clockSkew && (best < 0 || a.at < list[best].at) {
				best = i
			}
		}
	}
	if best < 0 {
		return "", false
	}
	return list[best].name, true
}

// Expire drops answers that ran out before now and, if the history is still
// over its bound, the oldest answers. It returns how many it dropped.
func (h *DNSHistory) Expire(now eve.Timestamp) int {
	dropped := 0
	lo, hi := eve.Timestamp(1<<62), eve.Timestamp(-1<<62)
	for dev, byIP := range h.devices {
		for ip, list := range byIP {
			kept := list[:0]
			for _, a := range list {
				if a.until >= now {
					kept = append(kept, a)
					lo, hi = min(lo, a.until), max(hi, a.until)
				}
			}
			dropped += len(list) - len(kept)
			switch len(kept) {
			case 0:
				delete(byIP, ip)
			case len(list):
				// Nothing dropped: the list is as it was.
			default:
				byIP[ip] = kept
			}
		}
		if len(byIP) == 0 {
			delete(h.devices, dev)
		}
	}
	h.size -= dropped
	h.lo, h.hi = lo, hi
	if h.max > 0 && h.size > h.max {
		dropped += h.evictOldest(h.size - h.max)
	}
	return dropped
}

// evictOldest drops n answers, oldest first (by expiry), in one pass over a
// sample of expiry times: exactness does not matter, a bound does.
func (h *DNSHistory) evictOldest(n int) int {
	cut := h.expiryCutoff(n)
	dropped := 0
	lo, hi := eve.Timestamp(1<<62), eve.Timestamp(-1<<62)
	for dev, byIP := range h.devices {
		for ip, list := range byIP {
			kept := list[:0]
			for _, a := range list {
				if a.until > cut || dropped >= n {
					kept = append(kept, a)
					lo, hi = min(lo, a.until), max(hi, a.until)
				} else {
					dropped++
				}
			}
			switch len(kept) {
			case 0:
				delete(byIP, ip)
			case len(list):
				// Nothing dropped: the list is as it was.
			default:
				byIP[ip] = kept
			}
		}
		if len(byIP) == 0 {
			delete(h.devices, dev)
		}
	}
	h.size -= dropped
	h.lo, h.hi = lo, hi
	h.Evicted += uint64(dropped)
	return dropped
}

func (h *DNSHistory) expiryCutoff(n int) eve.Timestamp {
	// Histogram of expiry times in 64 buckets between min and max.
	lo, hi := h.lo, h.hi
	if hi <= lo {
		return hi
	}
	const buckets = 64
	var count [buckets]int
	width := (hi-lo)/buckets + 1
	for _, byIP := range h.devices {
		for _, list := range byIP {
			for _, a := range list {
				// lo and hi are bounds, so this is in range; clamped
				// all the same, a panic here would stop ingest.
				count[min(max((a.until-lo)/width, 0), buckets-1)]++
			}
		}
	}
	sum := 0
	for i, c := range count {
		sum += c
		if sum >= n {
			return lo + eve.Timestamp(i+1)*width
		}
	}
	return hi
}

// Snapshot entries and restore support persistence across restarts.

// DNSEntry is one remembered answer, exported for snapshots.
type DNSEntry struct {
	Device string
	IP     netip.Addr
	Name   string
	At     eve.Timestamp
	Until  eve.Timestamp
}

// Entries returns every answer held.
func (h *DNSHistory) Entries() []DNSEntry {
	out := make([]DNSEntry, 0, h.size)
	for dev, byIP := range h.devices {
		for ip, list := range byIP {
			for _, a := range list {
				out = append(out, DNSEntry{Device: dev, IP: ip, Name: a.name, At: a.at, Until: a.until})
			}
		}
	}
	return out
}

// Restore adds entries saved by Entries.
func (h *DNSHistory) Restore(entries []DNSEntry) {
	for _, e := range entries {
		h.add(e.Device, e.IP, dnsAnswer{name: e.Name, at: e.At, until: e.Until})
	}
}
