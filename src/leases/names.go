package leases

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pakon/pakon/src/uci"
)

// Sources of a name, in order of precedence.
const (
	SourceUser       = "user"        // names users gave (pakon's device sections)
	SourceDHCPConfig = "dhcp-config" // host sections of /etc/config/dhcp
	SourceLease      = "lease"       // dnsmasq's lease file
	SourceDHCP       = "dhcp"        // host names seen in DHCP traffic
)

// MaxObserved bounds the names remembered from DHCP traffic; devices
// with random MAC addresses would otherwise grow the table forever. The
// name observed longest ago is forgotten first.
const MaxObserved = 4096

// Names combines device names from all sources. It is safe for
// concurrent use. It starts no goroutines: the owner calls Refresh, for
// example on a ticker, to notice changed files.
type Names struct {
	// MinCheckInterval makes Refresh skip its stat calls when the last
	// check was less than this ago, so that it may be called on every
	// lookup. Zero checks on every call.
	MinCheckInterval time.Duration

	dhcpPath, leasePath string

	refresh   sync.Mutex // serialises Refresh
	dhcpFile  fileState
	leaseFile fileState
	lastCheck time.Time

	mu         sync.RWMutex
	users      map[string]string
	hostByMAC  map[string]string
	hostByIP   map[netip.Addr]ipName
	leaseByMAC map[string]leaseName
	leaseByIP  map[netip.Addr]ipName
	observed   map[string]observed
	seq        uint64
	dhcpBad    []error
	leaseBad   []error
}

type ipName struct{ name, mac string }

type leaseName struct {
	name   string
	v4     bool
	expiry time.Time
}

type observed struct {
	name string
	seq  uint64
}

// New returns a registry reading the dhcp UCI file and the dnsmasq lease
// file at the given paths; "" leaves a source out. Call Refresh to read
// them.
func New(dhcpConfig, leaseFile string) *Names {
	return &Names{
		dhcpPath:  dhcpConfig,
		leasePath: leaseFile,
		users:     map[string]string{},
		observed:  map[string]observed{},
	}
}

// SetUserNames replaces the user-given names, MAC address to name (the
// caller converts pakon's config.Device list). Invalid MACs are skipped.
func (n *Names) SetUserNames(names map[string]string) {
	m := make(map[string]string, len(names))
	for mac, name := range names {
		if k := normMAC(mac); k != "" && name != "" {
			m[k] = name
		}
	}
	n.mu.Lock()
	n.users = m
	n.mu.Unlock()
}

// Observe records a host name seen in DHCP traffic (option 12 or the
// FQDN option). The name is cleaned with CleanName; empty names and
// invalid MACs are ignored.
func (n *Names) Observe(mac, hostname string) {
	k, name := normMAC(mac), CleanName(hostname)
	if k == "" || name == "" {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.seq++
	if _, ok := n.observed[k]; !ok && len(n.observed) >= MaxObserved {
		oldest, min := "", uint64(0)
		for mac, o := range n.observed {
			if oldest == "" || o.seq < min {
				oldest, min = mac, o.seq
			}
		}
		delete(n.observed, oldest)
	}
	n.observed[k] = observed{name: name, seq: n.seq}
}

// Name returns the name of the device with MAC address mac and its source
// (SourceUser, SourceDHCPConfig, SourceLease or SourceDHCP, in that order
// of precedence).
func (n *Names) Name(mac string) (name, source string, ok bool) {
	k := normMAC(mac)
	if k == "" {
		return "", "", false
	}
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.nameLocked(k)
}

func (n *Names) nameLocked(mac string) (string, string, bool) {
	if s, ok := n.users[mac]; ok {
		return s, SourceUser, true
	}
	if s, ok := n.hostByMAC[mac]; ok {
		return s, SourceDHCPConfig, true
	}
	if l, ok := n.leaseByMAC[mac]; ok {
		return l.name, SourceLease, true
	}
	if o, ok := n.observed[mac]; ok {
		return o.name, SourceDHCP, true
	}
	return "", "", false
}

// NameForIP returns the name of the device holding address ip: through
// the MAC address of its lease or static host when known (so a user's
// name wins), else the host name of a DHCPv6 lease or static host.
func (n *Names) NameForIP(ip netip.Addr) (name, source string, ok bool) {
	ip = ip.Unmap()
	n.mu.RLock()
	defer n.mu.RUnlock()
	l, haveLease := n.leaseByIP[ip]
	h, haveHost := n.hostByIP[ip]
	for _, e := range []ipName{l, h} {
		if e.mac != "" {
			if name, src, ok := n.nameLocked(e.mac); ok {
				return name, src, true
			}
		}
	}
	switch {
	case haveLease && l.name != "":
		return l.name, SourceLease, true
	case haveHost && h.name != "":
		return h.name, SourceDHCPConfig, true
	}
	return "", "", false
}

// MACForIP returns the MAC address the lease file or a static host
// gives for ip.
func (n *Names) MACForIP(ip netip.Addr) (string, bool) {
	ip = ip.Unmap()
	n.mu.RLock()
	defer n.mu.RUnlock()
	if l := n.leaseByIP[ip]; l.mac != "" {
		return l.mac, true
	}
	if h := n.hostByIP[ip]; h.mac != "" {
		return h.mac, true
	}
	return "", false
}

// MACsForName returns, sorted, the MAC addresses known by name in any
// source, compared case-insensitively: a device renamed by its user is
// still found by its DHCP host name.
func (n *Names) MACsForName(name string) []string {
	name = strings.TrimSpace(name)
	if name == "" {
		return nil
	}
	n.mu.RLock()
	defer n.mu.RUnlock()
	var out []string
	add := func(mac, s string) {
		if strings.EqualFold(s, name) && !slices.Contains(out, mac) {
			out = append(out, mac)
		}
	}
	for mac, s := range n.users {
		add(mac, s)
	}
	for mac, s := range n.hostByMAC {
		add(mac, s)
	}
	for mac, l := range n.leaseByMAC {
		add(mac, l.name)
	}
	for mac, o := range n.observed {
		add(mac, o.name)
	}
	slices.Sort(out)
	return out
}

// Problems returns an error naming file and line for every line skipped
// in the last read of each file (malformed lease lines, bad MACs in host
// sections); len(Problems()) is their count.
func (n *Names) Problems() []error {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return slices.Concat(n.dhcpBad, n.leaseBad)
}

// Refresh re-reads the files whose size, modification time or inode
// changed since they were last read; a file that disappeared empties its
// source. A file that cannot be read or parsed keeps the names it gave
// before, and the error is returned once, until the file changes again.
// A file modified less than 2 s before it was read is read again on the
// next call, since a coarse time stamp could hide a second change.
func (n *Names) Refresh() error {
	n.refresh.Lock()
	defer n.refresh.Unlock()
	now := time.Now()
	if n.MinCheckInterval > 0 && !n.lastCheck.IsZero() && now.Sub(n.lastCheck) < n.MinCheckInterval {
		return nil
	}
	n.lastCheck = now
	var errs []error
	if n.dhcpPath != "" {
		if err := n.refreshDHCP(); err != nil {
			errs = append(errs, err)
		}
	}
	if n.leasePath != "" {
		if err := n.refreshLeases(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (n *Names) refreshDHCP() error {
	st, err := statFile(n.dhcpPath)
	if err != nil || st == n.dhcpFile {
		return err
	}
	n.dhcpFile = st.settled(time.Now())
	var hosts []Host
	var bad []error
	if st.exists {
		f, err := uci.Load(n.dhcpPath)
		if errors.Is(err, fs.ErrNotExist) {
			f, err = &uci.File{Path: n.dhcpPath}, nil
		}
		if err != nil {
			// Remember even a racy state, so the error is reported once.
			n.dhcpFile = st
			return fmt.Errorf("dhcp hosts: %w", err)
		}
		hosts, bad = Hosts(f)
	}
	byMAC := map[string]string{}
	byIP := map[netip.Addr]ipName{}
	for _, h := range hosts {
		for _, m := range h.MACs {
			if _, dup := byMAC[m]; !dup {
				byMAC[m] = h.Name
			}
		}
		if h.IP.IsValid() {
			e := ipName{name: h.Name}
			if len(h.MACs) == 1 {
				e.mac = h.MACs[0]
			}
			byIP[h.IP] = e
		}
	}
	n.mu.Lock()
	n.hostByMAC, n.hostByIP, n.dhcpBad = byMAC, byIP, bad
	n.mu.Unlock()
	return nil
}

func (n *Names) refreshLeases() error {
	st, err := statFile(n.leasePath)
	if err != nil || st == n.leaseFile {
		return err
	}
	var list []Lease
	var bad []error
	if st.exists {
		f, err := os.Open(n.leasePath)
		if errors.Is(err, fs.ErrNotExist) {
			st = fileState{}
		} else if err != nil {
			n.leaseFile = st
			return fmt.Errorf("leases: %w", err)
		} else {
			list, bad, err = ReadLeases(f, n.leasePath)
			f.Close()
			if err != nil {
				n.leaseFile = st
				return fmt.Errorf("leases: %w", err)
			}
		}
	}
	// dnsmasq rewrites the file in place; if it changed while we read, the
	// copy may be cut short, so read it again on the next Refresh.
	if after, err := statFile(n.leasePath); err == nil && after == st {
		n.leaseFile = st.settled(time.Now())
	} else {
		n.leaseFile = fileState{changing: true}
	}
	byMAC := map[string]leaseName{}
	byIP := map[netip.Addr]ipName{}
	for _, l := range list {
		if l.Hostname == "" && l.MAC == "" {
			continue
		}
		byIP[l.IP] = ipName{name: l.Hostname, mac: l.MAC}
		if l.MAC == "" || l.Hostname == "" {
			continue
		}
		cand := leaseName{name: l.Hostname, v4: l.IP.Is4(), expiry: l.Expiry}
		if old, ok := byMAC[l.MAC]; !ok || better(cand, old) {
			byMAC[l.MAC] = cand
		}
	}
	n.mu.Lock()
	n.leaseByMAC, n.leaseByIP, n.leaseBad = byMAC, byIP, bad
	n.mu.Unlock()
	return nil
}

// better prefers DHCPv4 leases (their MAC is the client's own), then the
// lease that ends last (a zero expiry never ends).
func better(a, b leaseName) bool {
	if a.v4 != b.v4 {
		return a.v4
	}
	switch {
	case b.expiry.IsZero():
		return false
	case a.expiry.IsZero():
		return true
	}
	return a.expiry.After(b.expiry)
}

// fileState identifies one version of a file.
type fileState struct {
	exists   bool
	changing bool // the file changed while it was read
	size     int64
	mod      int64 // nanoseconds
	ino      uint64
}

// racyWindow covers coarse file time stamps: a file changed this
// shortly before it was read may change again without its size or time
// stamp changing, so it is read once more on the next Refresh.
const racyWindow = 2 * time.Second

// settled returns st, or a state that matches no file if st was modified
// within racyWindow of now.
func (st fileState) settled(now time.Time) fileState {
	if st.exists && now.UnixNano()-st.mod < int64(racyWindow) {
		return fileState{changing: true}
	}
	return st
}

func statFile(path string) (fileState, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fileState{}, nil
	}
	if err != nil {
		return fileState{}, err
	}
	st := fileState{exists: true, size: fi.Size(), mod: fi.ModTime().UnixNano()}
	if s, ok := fi.Sys().(*syscall.Stat_t); ok {
		st.ino = s.Ino
	}
	return st, nil
}

// normMAC returns mac as "aa:bb:cc:dd:ee:ff", or "".
func normMAC(mac string) string {
	hw, err := net.ParseMAC(strings.TrimSpace(mac))
	if err != nil || len(hw) != 6 {
		return ""
	}
	return hw.String()
}
