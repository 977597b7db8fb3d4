package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// DNS record types and response codes used by the lab.
const (
	typeA     = 1
	typeNS    = 2
	typeCNAME = 5
	typePTR   = 12
	typeMX    = 15
	typeTXT   = 16
	typeAAAA  = 28

	rcodeNoError  = 0
	rcodeFormErr  = 1
	rcodeServFail = 2
	rcodeNXDomain = 3
)

var typeNames = map[uint16]string{
	typeA: "A", typeNS: "NS", typeCNAME: "CNAME", typePTR: "PTR",
	typeMX: "MX", typeTXT: "TXT", typeAAAA: "AAAA",
}

var rcodeNames = map[int]string{
	rcodeNoError: "NOERROR", rcodeFormErr: "FORMERR",
	rcodeServFail: "SERVFAIL", rcodeNXDomain: "NXDOMAIN",
}

func typeName(t uint16) string {
	if n, ok := typeNames[t]; ok {
		return n
	}
	return "TYPE" + strconv.Itoa(int(t))
}

func rcodeName(c int) string {
	if n, ok := rcodeNames[c]; ok {
		return n
	}
	return "RCODE" + strconv.Itoa(c)
}

func parseType(s string) (uint16, error) {
	for t, n := range typeNames {
		if strings.EqualFold(n, s) {
			return t, nil
		}
	}
	return 0, fmt.Errorf("unknown record type %q", s)
}

// rr is one resource record in presentation form: Data is an address for
// A/AAAA and a host name for CNAME, NS and PTR.
type rr struct {
	Name string `json:"name"`
	Type string `json:"type"`
	TTL  uint32 `json:"ttl"`
	Data string `json:"data"`
}

// dnsMsg is the part of a DNS message the lab uses: one question, answers.
type dnsMsg struct {
	ID       uint16
	Flags    uint16
	QName    string
	QType    uint16
	Answers  []rr
	Response bool
}

func (m *dnsMsg) rcode() int { return int(m.Flags & 0x000f) }

var errShort = errors.New("message too short")

// canonical lower-cases a name and strips the trailing dot.
func canonical(name string) string {
	return strings.TrimSuffix(strings.ToLower(name), ".")
}

func appendName(b []byte, name string) ([]byte, error) {
	name = canonical(name)
	if name != "" {
		for _, label := range strings.Split(name, ".") {
			if label == "" || len(label) > 63 {
				return nil, fmt.Errorf("bad label in %q", name)
			}
			b = append(b, byte(len(label)))
			b = append(b, label...)
		}
	}
	return append(b, 0), nil
}

// pack encodes m without name compression.
func (m *dnsMsg) pack() ([]byte, error) {
	b := make([]byte, 12, 512)
	binary.BigEndian.PutUint16(b[0:], m.ID)
	binary.BigEndian.PutUint16(b[2:], m.Flags)
	binary.BigEndian.PutUint16(b[4:], 1)
	binary.BigEndian.PutUint16(b[6:], uint16(len(m.Answers)))
	var err error
	if b, err = appendName(b, m.QName); err != nil {
		return nil, err
	}
	b = binary.BigEndian.AppendUint16(b, m.QType)
	b = binary.BigEndian.AppendUint16(b, 1)
	for _, a := range m.Answers {
		t, err := parseType(a.Type)
		if err != nil {
			return nil, err
		}
		if b, err = appendName(b, a.Name); err != nil {
			return nil, err
		}
		b = binary.BigEndian.AppendUint16(b, t)
		b = binary.BigEndian.AppendUint16(b, 1)
		b = binary.BigEndian.AppendUint32(b, a.TTL)
		rdata, err := packRData(t, a.Data)
		if err != nil {
			return nil, fmt.Errorf("record %s %s: %w", a.Name, a.Type, err)
		}
		b = binary.BigEndian.AppendUint16(b, uint16(len(rdata)))
		b = append(b, rdata...)
	}
	return b, nil
}

func packRData(t uint16, data string) ([]byte, error) {
	switch t {
	case typeA, typeAAAA:
		ip, err := netip.ParseAddr(data)
		if err != nil {
			return nil, err
		}
		if t == typeA && !ip.Is4() || t == typeAAAA && !ip.Is6() {
			return nil, fmt.Errorf("address %s does not fit the type", ip)
		}
		return ip.AsSlice(), nil
	case typeCNAME, typeNS, typePTR:
		return appendName(nil, data)
	case typeTXT:
		if len(data) > 255 {
			return nil, fmt.Errorf("TXT longer than 255")
		}
		return append([]byte{byte(len(data))}, data...), nil
	}
	return nil, fmt.Errorf("cannot encode type %d", t)
}

// readName decodes a possibly compressed name at off and returns the offset
// after it.
func readName(msg []byte, off int) (string, int, error) {
	var labels []string
	end := -1
	for jumps := 0; ; {
		if off >= len(msg) {
			return "", 0, errShort
		}
		n := int(msg[off])
		switch {
		case n == 0:
			if end < 0 {
				end = off + 1
			}
			return strings.Join(labels, "."), end, nil
		case n&0xc0 == 0xc0:
			if off+1 >= len(msg) {
				return "", 0, errShort
			}
			if end < 0 {
				end = off + 2
			}
			if jumps++; jumps > 16 {
				return "", 0, errors.New("compression loop")
			}
			off = int(binary.BigEndian.Uint16(msg[off:]) & 0x3fff)
		default:
			if off+1+n > len(msg) {
				return "", 0, errShort
			}
			labels = append(labels, strings.ToLower(string(msg[off+1:off+1+n])))
			off += 1 + n
		}
	}
}

// unpack decodes the header, the first question and the answer section.
func unpack(msg []byte) (*dnsMsg, error) {
	if len(msg) < 12 {
		return nil, errShort
	}
	m := &dnsMsg{
		ID:    binary.BigEndian.Uint16(msg[0:]),
		Flags: binary.BigEndian.Uint16(msg[2:]),
	}
	m.Response = m.Flags&0x8000 != 0
	qd := int(binary.BigEndian.Uint16(msg[4:]))
	an := int(binary.BigEndian.Uint16(msg[6:]))
	off := 12
	for i := 0; i < qd; i++ {
		name, next, err := readName(msg, off)
		if err != nil {
			return nil, fmt.Errorf("question: %w", err)
		}
		if next+4 > len(msg) {
			return nil, errShort
		}
		if i == 0 {
			m.QName = name
			m.QType = binary.BigEndian.Uint16(msg[next:])
		}
		off = next + 4
	}
	for i := 0; i < an; i++ {
		name, next, err := readName(msg, off)
		if err != nil {
			return nil, fmt.Errorf("answer: %w", err)
		}
		if next+10 > len(msg) {
			return nil, errShort
		}
		t := binary.BigEndian.Uint16(msg[next:])
		ttl := binary.BigEndian.Uint32(msg[next+4:])
		rdlen := int(binary.BigEndian.Uint16(msg[next+8:]))
		rdOff := next + 10
		if rdOff+rdlen > len(msg) {
			return nil, errShort
		}
		a := rr{Name: name, Type: typeName(t), TTL: ttl}
		switch t {
		case typeA, typeAAAA:
			if ip, ok := netip.AddrFromSlice(msg[rdOff : rdOff+rdlen]); ok {
				a.Data = ip.String()
			}
		case typeCNAME, typeNS, typePTR:
			if a.Data, _, err = readName(msg, rdOff); err != nil {
				return nil, fmt.Errorf("answer rdata: %w", err)
			}
		}
		m.Answers = append(m.Answers, a)
		off = rdOff + rdlen
	}
	return m, nil
}
