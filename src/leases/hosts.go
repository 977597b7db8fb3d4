package leases

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"

	"github.com/pakon/pakon/src/uci"
)

// DefaultDHCPConfig is OpenWrt's DHCP and DNS configuration.
const DefaultDHCPConfig = "/etc/config/dhcp"

// Host is a "config host" section of /etc/config/dhcp: a static lease.
type Host struct {
	Name string
	// MACs are "aa:bb:cc:dd:ee:ff"; a host may list several (one per
	// network card), as a list or space-separated in one option.
	MACs []string
	// IP is the fixed IPv4 address, if any.
	IP netip.Addr
}

// Hosts returns the named host sections of a parsed dhcp file. Hosts
// without a name are left out; MAC addresses that do not parse are
// skipped and reported as *LineError values. Wildcard MACs
// ("00:11:22:*:*:*", which dnsmasq accepts) name no single device and
// are skipped silently.
func Hosts(f *uci.File) (hosts []Host, bad []error) {
	for _, s := range f.SectionsOfType("host") {
		name, _ := s.Get("name")
		name = CleanName(name)
		if name == "" {
			continue
		}
		h := Host{Name: name}
		if o := s.Option("mac"); o != nil {
			for i, v := range o.Values {
				line := o.Line
				if i < len(o.Lines) && o.Lines[i] != 0 {
					line = o.Lines[i]
				}
				for _, m := range strings.Fields(v) {
					if strings.Contains(m, "*") {
						continue
					}
					hw, err := net.ParseMAC(m)
					if err != nil || len(hw) != 6 {
						bad = append(bad, &LineError{Path: f.Path, Line: line, Msg: fmt.Sprintf("host %s: invalid MAC address %q", name, m)})
						continue
					}
					h.MACs = append(h.MACs, hw.String())
				}
			}
		}
		if v, ok := s.Get("ip"); ok {
			if ip, err := netip.ParseAddr(v); err == nil {
				h.IP = ip.Unmap()
			}
		}
		if len(h.MACs) > 0 || h.IP.IsValid() {
			hosts = append(hosts, h)
		}
	}
	return hosts, bad
}

// FindLeaseFile returns the lease file dnsmasq writes: the leasefile
// option of the first dnsmasq section in the dhcp config (OpenWrt), else
// the first of /tmp/dhcp.leases and /var/lib/misc/dnsmasq.leases that
// exists, else /tmp/dhcp.leases.
func FindLeaseFile(dhcpConfig string) string {
	if dhcpConfig != "" {
		if f, err := uci.Load(dhcpConfig); err == nil {
			if s := f.Section("@dnsmasq[0]"); s != nil {
				if p, ok := s.Get("leasefile"); ok && strings.HasPrefix(p, "/") {
					return p
				}
			}
		}
	}
	for _, p := range []string{OpenWrtLeaseFile, DebianLeaseFile} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return OpenWrtLeaseFile
}
