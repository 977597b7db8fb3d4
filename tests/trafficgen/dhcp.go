package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"
)

// DHCP message types (RFC 2132, option 53).
const (
	dhcpDiscover = 1
	dhcpOffer    = 2
	dhcpRequest  = 3
	dhcpAck      = 5
	dhcpNak      = 6
)

var dhcpCookie = []byte{99, 130, 83, 99}

// dhcpReply is the part of an OFFER or ACK the lab reports.
type dhcpReply struct {
	msgType byte
	yiaddr  netip.Addr
	server  netip.Addr
	lease   uint32
	router  netip.Addr
	dns     []string
}

func dhcpPacket(xid uint32, mac net.HardwareAddr, msgType byte, hostname string, reqIP, server netip.Addr) []byte {
	b := make([]byte, 236)
	b[0], b[1], b[2] = 1, 1, 6 // BOOTREQUEST, Ethernet, 6-byte address
	binary.BigEndian.PutUint32(b[4:], xid)
	binary.BigEndian.PutUint16(b[10:], 0x8000) // broadcast: we have no address to unicast to
	copy(b[28:], mac)
	b = append(b, dhcpCookie...)
	b = append(b, 53, 1, msgType)
	b = append(b, 61, 7, 1)
	b = append(b, mac...)
	if hostname != "" {
		b = append(b, 12, byte(len(hostname)))
		b = append(b, hostname...)
	}
	if reqIP.IsValid() {
		b = append(b, 50, 4)
		b = append(b, reqIP.AsSlice()...)
	}
	if server.IsValid() {
		b = append(b, 54, 4)
		b = append(b, server.AsSlice()...)
	}
	b = append(b, 55, 4, 1, 3, 6, 15) // subnet mask, router, DNS, domain name
	return append(b, 255)
}

func parseDHCP(b []byte, xid uint32, mac net.HardwareAddr) (*dhcpReply, error) {
	if len(b) < 240 || b[0] != 2 || binary.BigEndian.Uint32(b[4:]) != xid ||
		!bytes.Equal(b[28:34], mac) || !bytes.Equal(b[236:240], dhcpCookie) {
		return nil, errors.New("not for us")
	}
	r := &dhcpReply{}
	r.yiaddr, _ = netip.AddrFromSlice(b[16:20])
	opts := b[240:]
	for len(opts) > 0 {
		code := opts[0]
		if code == 255 {
			break
		}
		if code == 0 {
			opts = opts[1:]
			continue
		}
		if len(opts) < 2 || len(opts) < 2+int(opts[1]) {
			return nil, errors.New("truncated option")
		}
		v := opts[2 : 2+int(opts[1])]
		switch {
		case code == 53 && len(v) == 1:
			r.msgType = v[0]
		case code == 54 && len(v) == 4:
			r.server, _ = netip.AddrFromSlice(v)
		case code == 51 && len(v) == 4:
			r.lease = binary.BigEndian.Uint32(v)
		case code == 3 && len(v) >= 4:
			r.router, _ = netip.AddrFromSlice(v[:4])
		case code == 6:
			for i := 0; i+4 <= len(v); i += 4 {
				a, _ := netip.AddrFromSlice(v[i : i+4])
				r.dns = append(r.dns, a.String())
			}
		}
		opts = opts[2+len(v):]
	}
	return r, nil
}

// runDHCP does one DISCOVER/OFFER/REQUEST/ACK exchange on an interface and
// prints the lease. It does not configure the address.
func runDHCP(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("dhcp", flag.ContinueOnError)
	iface := fs.String("iface", "", "interface to run on")
	hostname := fs.String("hostname", "", "host name to send (option 12)")
	timeout := fs.Duration("timeout", 5*time.Second, "time to wait for each reply")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ifi, err := net.InterfaceByName(*iface)
	if err != nil {
		return fmt.Errorf("interface %q: %w", *iface, err)
	}
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			for _, o := range []int{syscall.SO_REUSEADDR, syscall.SO_BROADCAST} {
				if serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, o, 1); serr != nil {
					return
				}
			}
			serr = syscall.BindToDevice(int(fd), ifi.Name)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	pc, err := lc.ListenPacket(ctx, "udp4", "0.0.0.0:68")
	if err != nil {
		return fmt.Errorf("listen dhcp client port: %w", err)
	}
	defer pc.Close()
	var xb [4]byte
	rand.Read(xb[:])
	xid := binary.BigEndian.Uint32(xb[:])
	bcast := &net.UDPAddr{IP: net.IPv4bcast, Port: 67}
	exchange := func(pkt []byte, want byte) (*dhcpReply, error) {
		if _, err := pc.WriteTo(pkt, bcast); err != nil {
			return nil, fmt.Errorf("send: %w", err)
		}
		pc.SetReadDeadline(time.Now().Add(*timeout))
		buf := make([]byte, 1500)
		for {
			n, _, err := pc.ReadFrom(buf)
			if err != nil {
				return nil, fmt.Errorf("wait for reply: %w", err)
			}
			r, err := parseDHCP(buf[:n], xid, ifi.HardwareAddr)
			if err != nil {
				continue
			}
			if r.msgType == dhcpNak {
				return nil, errors.New("server sent NAK")
			}
			if r.msgType == want {
				return r, nil
			}
		}
	}
	offer, err := exchange(dhcpPacket(xid, ifi.HardwareAddr, dhcpDiscover, *hostname, netip.Addr{}, netip.Addr{}), dhcpOffer)
	if err != nil {
		return fmt.Errorf("discover: %w", err)
	}
	ack, err := exchange(dhcpPacket(xid, ifi.HardwareAddr, dhcpRequest, *hostname, offer.yiaddr, offer.server), dhcpAck)
	if err != nil {
		return fmt.Errorf("request: %w", err)
	}
	ev := map[string]any{"event": "dhcp", "iface": ifi.Name, "mac": ifi.HardwareAddr.String(),
		"hostname": *hostname, "ip": ack.yiaddr.String(), "server": ack.server.String(),
		"lease_seconds": ack.lease, "dns": ack.dns}
	if ack.router.IsValid() {
		ev["router"] = ack.router.String()
	}
	emit(ev)
	return nil
}
