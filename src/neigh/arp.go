package neigh

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// atfCom is ATF_COM of linux/if_arp.h: the entry is complete.
const atfCom = 0x2

// readARP reads the IPv4 neighbour table in the text form of
// /proc/net/arp.
func readARP(path string) (map[netip.Addr]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read arp table: %w", err)
	}
	defer f.Close()
	m, err := parseARP(f)
	if err != nil {
		return nil, fmt.Errorf("read arp table %s: %w", path, err)
	}
	return m, nil
}

// parseARP parses /proc/net/arp:
//
//	IP address       HW type     Flags       HW address            Mask     Device
//	192.0.2.10       0x1         0x2         02:00:00:00:00:0a     *        br-lan
//
// Lines that are not complete entries with a MAC are skipped.
func parseARP(r io.Reader) (map[netip.Addr]string, error) {
	m := map[netip.Addr]string{}
	sc := bufio.NewScanner(r)
	first := true
	for sc.Scan() {
		if first {
			first = false
			if strings.HasPrefix(sc.Text(), "IP address") {
				continue
			}
		}
		f := strings.Fields(sc.Text())
		if len(f) < 4 {
			continue
		}
		ip, err := netip.ParseAddr(f[0])
		if err != nil || !ip.Is4() {
			continue
		}
		flags, err := strconv.ParseUint(f[2], 0, 32)
		if err != nil || flags&atfCom == 0 {
			continue
		}
		mac, err := net.ParseMAC(f[3])
		if err != nil {
			continue
		}
		addEntry(m, ip, mac)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return m, nil
}
