package query

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
)

// dhcpSource is the name source of host names seen in DHCP traffic, the
// devices table (leases.SourceDHCP).
const dhcpSource = "dhcp"

// deviceNames names devices for one query: the Names source first, then
// the host names the devices table holds from DHCP traffic.
type deviceNames struct {
	names Names
	dhcp  map[string]string // MAC → dhcp_name
	ip    map[string]string // MAC → last address seen
	known []string          // every MAC of the devices table
}

// loadDeviceNames reads the devices table of the live database and, when
// attached, of the archive; the row seen last wins.
func (e *Engine) loadDeviceNames(ctx context.Context) (*deviceNames, error) {
	dn := &deviceNames{names: e.names, dhcp: map[string]string{}, ip: map[string]string{}}
	q := "SELECT mac, dhcp_name, ip FROM main.devices"
	var archived int
	if err := e.db.SQL().QueryRowContext(ctx,
		"SELECT count(*) FROM pragma_database_list WHERE name = 'archive'").Scan(&archived); err != nil {
		return nil, fmt.Errorf("device names: %w", err)
	}
	if archived > 0 {
		q = `SELECT mac, dhcp_name, ip FROM (
			SELECT mac, dhcp_name, ip, last_seen FROM main.devices
			UNION ALL SELECT mac, dhcp_name, ip, last_seen FROM archive.devices
		) ORDER BY coalesce(last_seen, 0)`
	}
	rows, err := e.db.SQL().QueryContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("device names: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var mac, name, ip string
		if err := rows.Scan(&mac, &name, &ip); err != nil {
			return nil, fmt.Errorf("device names: %w", err)
		}
		if _, ok := dn.dhcp[mac]; !ok {
			dn.known = append(dn.known, mac)
		}
		if ip != "" {
			dn.ip[mac] = ip
		}
		if name != "" {
			dn.dhcp[mac] = name
		} else if _, ok := dn.dhcp[mac]; !ok {
			dn.dhcp[mac] = ""
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("device names: %w", err)
	}
	return dn, nil
}

// name returns the name of the device with MAC address mac, and its
// source.
func (dn *deviceNames) name(mac string) (string, string, bool) {
	if mac == "" {
		return "", "", false
	}
	if dn.names != nil {
		if n, src, ok := dn.names.Name(mac); ok && n != "" {
			return n, src, true
		}
	}
	if n := dn.dhcp[mac]; n != "" {
		return n, dhcpSource, true
	}
	return "", "", false
}

// macsFor returns every MAC address known by name in any source.
func (dn *deviceNames) macsFor(name string) []string {
	var out []string
	if dn.names != nil {
		out = append(out, dn.names.MACsForName(name)...)
	}
	for mac, n := range dn.dhcp {
		if n != "" && strings.EqualFold(n, name) && !slices.Contains(out, mac) {
			out = append(out, mac)
		}
	}
	slices.Sort(out)
	return out
}

// resolveDevices turns device parameters into MAC and source addresses.
func (dn *deviceNames) resolve(values []string) (macs, ips []string, err error) {
	for _, v := range values {
		s := strings.TrimSpace(v)
		if s == "" {
			return nil, nil, invalidf("device", "empty device (want a MAC address, an IP address or a name)")
		}
		if hw, err := net.ParseMAC(s); err == nil {
			if len(hw) != 6 {
				return nil, nil, invalidf("device", "invalid MAC address %q (want aa:bb:cc:dd:ee:ff)", v)
			}
			macs = append(macs, hw.String())
			continue
		}
		if ip, ok := parseIP(s); ok {
			ips = append(ips, ip)
			continue
		}
		found := dn.macsFor(s)
		if len(found) == 0 && looksLikeMAC(s) {
			return nil, nil, invalidf("device", "invalid MAC address %q (want aa:bb:cc:dd:ee:ff)", v)
		}
		if len(found) == 0 {
			return nil, nil, notFoundf("device", "no device is named %q (give its MAC address or a name from pakon's config, DHCP hosts or leases)", v)
		}
		macs = append(macs, found...)
	}
	return macs, ips, nil
}

// looksLikeMAC reports whether s was meant as a MAC address: short
// alphanumeric groups separated by ":" or "-" ("aa:bb:cc:dd:ee:gg",
// "02:00:00:00:00"), so that a typo is reported as a bad address rather
// than as an unknown name.
func looksLikeMAC(s string) bool {
	parts := strings.FieldsFunc(s, func(r rune) bool { return r == ':' || r == '-' })
	if len(parts) < 3 || len(parts) > 8 || len(strings.Join(parts, "")) != len(s)-len(parts)+1 {
		return false
	}
	for _, p := range parts {
		if len(p) > 2 || strings.ContainsFunc(p, func(r rune) bool {
			return !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
		}) {
			return false
		}
	}
	return true
}

// all returns the names of every device of the devices table.
func (dn *deviceNames) all() map[string]string {
	m := make(map[string]string, len(dn.known))
	for _, mac := range dn.known {
		if n, _, ok := dn.name(mac); ok {
			m[mac] = n
		}
	}
	return m
}
