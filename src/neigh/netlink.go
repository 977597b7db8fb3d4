package neigh

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"syscall"
)

// Layouts and constants of linux/neighbour.h and linux/netlink.h that the
// syscall package does not define.
const (
	nlmsgHdrLen = 16 // struct nlmsghdr
	ndmsgLen    = 12 // struct ndmsg: family, pad, pad, ifindex, state, flags, type
	rtaHdrLen   = 4  // struct rtattr: len, type

	ndaDst    = 1 // NDA_DST: network address
	ndaLLAddr = 2 // NDA_LLADDR: link-layer address

	nudIncomplete = 0x01
	nudFailed     = 0x20
	nudNoARP      = 0x40

	ntfProxy = 0x08
)

// dumpNetlink dumps the IPv4 and IPv6 neighbour tables over rtnetlink.
func dumpNetlink() (map[netip.Addr]string, error) {
	b, err := syscall.NetlinkRIB(syscall.RTM_GETNEIGH, syscall.AF_UNSPEC)
	if err != nil {
		return nil, fmt.Errorf("dump neighbours over netlink: %w", err)
	}
	m, err := parseNeighDump(b)
	if err != nil {
		return nil, fmt.Errorf("parse netlink neighbour dump: %w", err)
	}
	return m, nil
}

// parseNeighDump parses a sequence of netlink messages holding
// RTM_NEWNEIGH replies, up to NLMSG_DONE.
func parseNeighDump(b []byte) (map[netip.Addr]string, error) {
	m := map[netip.Addr]string{}
	for len(b) > 0 {
		if len(b) < nlmsgHdrLen {
			return m, malformed("%d trailing bytes, shorter than a netlink header", len(b))
		}
		n := int(binary.NativeEndian.Uint32(b[0:4]))
		typ := binary.NativeEndian.Uint16(b[4:6])
		if n < nlmsgHdrLen || n > len(b) {
			return m, malformed("netlink message length %d of %d bytes", n, len(b))
		}
		switch typ {
		case syscall.NLMSG_DONE:
			return m, nil
		case syscall.NLMSG_ERROR:
			return m, malformed("netlink error message")
		case syscall.RTM_NEWNEIGH:
			if err := parseNeigh(m, b[nlmsgHdrLen:n]); err != nil {
				return m, err
			}
		}
		if align4(n) >= len(b) {
			break
		}
		b = b[align4(n):]
	}
	return m, nil
}

// parseNeigh parses one ndmsg and its attributes and adds the entry to m
// if it is usable.
func parseNeigh(m map[netip.Addr]string, b []byte) error {
	if len(b) < ndmsgLen {
		return malformed("ndmsg of %d bytes", len(b))
	}
	family := b[0]
	state := binary.NativeEndian.Uint16(b[8:10])
	flags := b[10]
	if family != syscall.AF_INET && family != syscall.AF_INET6 {
		return nil
	}
	if state == 0 || state&(nudIncomplete|nudFailed|nudNoARP) != 0 || flags&ntfProxy != 0 {
		return nil
	}
	var dst netip.Addr
	var lladdr []byte
	attrs := b[ndmsgLen:]
	for len(attrs) >= rtaHdrLen {
		l := int(binary.NativeEndian.Uint16(attrs[0:2]))
		typ := binary.NativeEndian.Uint16(attrs[2:4])
		if l < rtaHdrLen || l > len(attrs) {
			return malformed("attribute length %d of %d bytes", l, len(attrs))
		}
		val := attrs[rtaHdrLen:l]
		switch typ {
		case ndaDst:
			addr, ok := netip.AddrFromSlice(val)
			if !ok {
				return malformed("NDA_DST of %d bytes", len(val))
			}
			dst = addr
		case ndaLLAddr:
			lladdr = val
		}
		if align4(l) >= len(attrs) {
			break
		}
		attrs = attrs[align4(l):]
	}
	addEntry(m, dst, lladdr)
	return nil
}

func align4(n int) int { return (n + 3) &^ 3 }
