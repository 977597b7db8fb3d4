// Package leases names devices from DHCP: static hosts in /etc/config/dhcp,
// dnsmasq's lease file and host names seen in DHCP traffic, combined with
// the names users give.
package leases

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Where dnsmasq keeps leases on OpenWrt and on Debian.
const (
	OpenWrtLeaseFile = "/tmp/dhcp.leases"
	DebianLeaseFile  = "/var/lib/misc/dnsmasq.leases"
)

// Lease is one line of a dnsmasq lease file.
type Lease struct {
	// Expiry is when the lease ends; zero for an infinite lease.
	Expiry time.Time
	// MAC is "aa:bb:cc:dd:ee:ff". It is "" for non-Ethernet hardware and
	// for DHCPv6 leases whose DUID embeds no Ethernet address (only
	// DUID-LLT and DUID-LL do; that address may belong to another
	// interface of the same device).
	MAC string
	IP  netip.Addr
	// Hostname is "" when dnsmasq wrote '*'.
	Hostname string
	// ClientID is the DHCPv4 client identifier or the DHCPv6 DUID, hex
	// with colons; "" when unknown.
	ClientID string
	// IAID is the DHCPv6 identity association ("T" prefix for temporary
	// addresses); "" for DHCPv4.
	IAID string
}

// LineError is a malformed line in one of the files read.
type LineError struct {
	Path string
	Line int
	Msg  string
}

// Error returns "path:line: msg".
func (e *LineError) Error() string {
	return fmt.Sprintf("%s:%d: %s", e.Path, e.Line, e.Msg)
}

// ReadLeases parses a dnsmasq lease file. DHCPv4 lines are
// "expiry mac ip hostname clientid", the "duid <server-duid>" line comes
// next, then DHCPv6 lines "expiry iaid ip hostname duid"; the address
// family tells the two kinds apart. Malformed lines are skipped and
// returned as *LineError values; err is only for read errors.
func ReadLeases(r io.Reader, path string) (leases []Lease, bad []error, err error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		l, msg := parseLease(strings.Fields(text))
		switch {
		case msg == "duid":
		case msg != "":
			bad = append(bad, &LineError{Path: path, Line: line, Msg: msg})
		default:
			leases = append(leases, l)
		}
	}
	if err := sc.Err(); err != nil {
		return leases, bad, fmt.Errorf("read %s: %w", path, err)
	}
	return leases, bad, nil
}

// parseLease parses the fields of one line; msg is "duid" for the server
// DUID line and says what is wrong otherwise.
func parseLease(f []string) (l Lease, msg string) {
	if f[0] == "duid" {
		if len(f) != 2 {
			return l, fmt.Sprintf("duid line with %d fields, want 2", len(f))
		}
		return l, "duid"
	}
	if len(f) != 4 && len(f) != 5 {
		return l, fmt.Sprintf("%d fields, want 5 (expiry, MAC or IAID, address, host name, client ID)", len(f))
	}
	exp, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil || exp < 0 {
		return l, fmt.Sprintf("invalid expiry %q", f[0])
	}
	if exp > 0 {
		l.Expiry = time.Unix(exp, 0).UTC()
	}
	ip, err := netip.ParseAddr(f[2])
	if err != nil || ip.Zone() != "" {
		return l, fmt.Sprintf("invalid address %q", f[2])
	}
	l.IP = ip.Unmap()
	if len(f) == 5 && f[4] != "*" {
		if _, err := hexBytes(f[4]); err != nil {
			return l, fmt.Sprintf("invalid client ID %q", f[4])
		}
		l.ClientID = strings.ToLower(f[4])
	}
	if f[3] != "*" {
		l.Hostname = CleanName(f[3])
	}
	if l.IP.Is4() {
		mac, ok := parseHWAddr(f[1])
		if !ok {
			return l, fmt.Sprintf("invalid hardware address %q", f[1])
		}
		l.MAC = mac
		return l, ""
	}
	iaid := strings.TrimPrefix(f[1], "T")
	if _, err := strconv.ParseUint(iaid, 10, 32); err != nil {
		return l, fmt.Sprintf("invalid IAID %q", f[1])
	}
	l.IAID = f[1]
	if l.ClientID != "" {
		l.MAC = macFromDUID(l.ClientID)
	}
	return l, ""
}

// parseHWAddr reads dnsmasq's "[type-]hex:hex:…" hardware address. It
// returns "" with ok for addresses that are valid but not Ethernet.
func parseHWAddr(s string) (mac string, ok bool) {
	typ := 1
	if i := strings.IndexByte(s, '-'); i >= 0 {
		t, err := strconv.ParseUint(s[:i], 16, 8)
		if err != nil {
			return "", false
		}
		typ, s = int(t), s[i+1:]
	}
	b, err := hexBytes(s)
	if err != nil {
		return "", false
	}
	if typ != 1 || len(b) != 6 {
		return "", true
	}
	return net.HardwareAddr(b).String(), true
}

// macFromDUID returns the Ethernet address in a DUID-LLT (type 1) or
// DUID-LL (type 3) with hardware type 1, or "".
func macFromDUID(duid string) string {
	b, err := hexBytes(duid)
	if err != nil || len(b) < 4 || b[2] != 0 || b[3] != 1 {
		return ""
	}
	var ll []byte
	switch {
	case b[0] == 0 && b[1] == 1 && len(b) == 14:
		ll = b[8:]
	case b[0] == 0 && b[1] == 3 && len(b) == 10:
		ll = b[4:]
	default:
		return ""
	}
	return net.HardwareAddr(ll).String()
}

// hexBytes decodes colon-separated hex bytes ("0:1a:ff"; dnsmasq may
// drop leading zeros).
func hexBytes(s string) ([]byte, error) {
	if s == "" {
		return nil, nil
	}
	parts := strings.Split(s, ":")
	out := make([]byte, 0, len(parts))
	for _, p := range parts {
		if len(p) == 1 {
			p = "0" + p
		}
		if len(p) != 2 {
			return nil, fmt.Errorf("invalid hex byte %q", p)
		}
		b, err := hex.DecodeString(p)
		if err != nil {
			return nil, err
		}
		out = append(out, b[0])
	}
	return out, nil
}

// CleanName makes a host name from DHCP safe to show: control characters
// are dropped, surrounding spaces and trailing dots removed, and the
// result cut to 255 bytes (on a character boundary).
func CleanName(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == unicode.ReplacementChar {
			return -1
		}
		return r
	}, s)
	// Until nothing changes, so that a cleaned name stays as it is when
	// cleaned again: "..", "a. ." and a cut that ends on a dot or space
	// each need more than one pass.
	for {
		prev := s
		s = strings.TrimRight(strings.TrimSpace(s), ".")
		for len(s) > 255 {
			_, size := utf8.DecodeLastRuneInString(s)
			s = s[:len(s)-size]
		}
		if s == prev {
			return s
		}
	}
}
