package eve

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/bits"
	"net/netip"
	"strings"
	"unicode/utf8"
)

// Decoder decodes EVE lines. It keeps scratch buffers between calls, so use
// one Decoder per goroutine.
type Decoder struct {
	// Lean skips the members of tls, http and quic objects that only
	// describe (issuer, fingerprint, validity, TLS and QUIC versions, URL,
	// method, user agent, QUIC user agent), leaving those fields empty:
	// flow correlation uses the names, the subject and HTTP's status and
	// length, and a line's strings are most of what decoding costs.
	Lean bool
	// Reuse lets Decode fill the protocol objects (Flow, DNS, …) of the
	// event it decoded before, instead of allocating new ones: the caller
	// must be done with an event, and everything it points to, before it
	// decodes the next.
	Reuse bool
	spare spares

	s scanner
	// names interns MAC addresses and host names: a home network repeats
	// the same few dozen devices and a few thousand names all day, so
	// sharing one copy saves an allocation per event and memory per flow.
	names map[string]string
	// recent caches names' entries.
	recent stringCache
	// guess holds, for each kind of object, the number of the key that
	// followed each key last time (see next).
	guess guesses
	// addrs caches IPv4 addresses by their text: the LAN's devices and
	// the servers they use come back line after line.
	addrs addrCache
	// minute is the last timestamp parsed in Suricata's own form, whose
	// date, hour, minute and zone the next ones most likely share; at is
	// that minute's start.
	minute [len(suricataForm)]byte
	at     Timestamp
	// InternResets counts how often the intern table filled up and was
	// emptied (a network with more distinct names than it holds).
	InternResets uint64
}

// maxInterned bounds the intern table; it is emptied when full.
const maxInterned = 8192

func (d *Decoder) intern(b []byte) string {
	if v, ok := d.name(b); ok {
		return v
	}
	if d.names == nil || len(d.names) >= maxInterned {
		if d.names != nil {
			d.InternResets++
		}
		d.names = make(map[string]string, 256)
		d.recent = stringCache{}
	}
	v := string(b)
	d.names[v] = v
	d.recent.put(v)
	return v
}

// name looks b up among the interned names.
func (d *Decoder) name(b []byte) (string, bool) {
	if v, ok := d.recent.get(b); ok {
		return v, true
	}
	v, ok := d.names[string(b)]
	if ok {
		d.recent.put(v)
	}
	return v, ok
}

// fieldError wraps the error of a member's value with the member's name,
// after prefix ("tls.", …).
func fieldError(prefix string, key []byte, err error) error {
	return &FieldError{Field: prefix + string(key), Err: err}
}

// keyError is fieldError for the key numbered k in ks.
func keyError(prefix string, ks *keySet, k uint8, err error) error {
	return &FieldError{Field: prefix + ks.names[k%maxKeys], Err: err}
}

// suricataForm is the form of EVE timestamps.
const suricataForm = "2006-01-02T15:04:05.000000+0000"

// parseTimestamp is ParseTimestamp that, for timestamps in Suricata's
// form, parses only seconds and microseconds when the rest is that of the
// timestamp parsed last.
func (d *Decoder) parseTimestamp(b []byte) (Timestamp, error) {
	if t, ok := d.sameMinute(b); ok {
		return t, nil
	}
	const sec, frac = 17, 20
	if len(b) != len(suricataForm) || b[sec-1] != ':' || b[frac-1] != '.' {
		return ParseTimestamp(b)
	}
	n := secondsPart(b)
	if n < 0 {
		return ParseTimestamp(b) // to say what is wrong
	}
	t, err := ParseTimestamp(b)
	if err == nil {
		copy(d.minute[:], b)
		d.at = t - Timestamp(n)
	}
	return t, err
}

// sameMinute parses b when it is in Suricata's form and shares date, hour,
// minute and zone with the timestamp parsed last: every byte of it is then
// a digit, '.' or one of that timestamp's.
func (d *Decoder) sameMinute(b []byte) (Timestamp, bool) {
	const sec, frac, zone = 17, 20, 26
	if d.at == 0 || len(b) != len(suricataForm) {
		return 0, false
	}
	t := (*[len(suricataForm)]byte)(b)
	m := &d.minute
	le := binary.LittleEndian
	if le.Uint64(t[0:8]) != le.Uint64(m[0:8]) || le.Uint64(t[8:16]) != le.Uint64(m[8:16]) || t[16] != m[16] ||
		le.Uint32(t[zone:zone+4]) != le.Uint32(m[zone:zone+4]) || t[30] != m[30] || t[frac-1] != '.' {
		return 0, false
	}
	// Seconds, then the six digits of microseconds in a word (a seventh
	// would be the zone's first byte); anything else as secondsPart
	// reads it.
	var n int64
	s0, s1 := t[sec]-'0', t[sec+1]-'0'
	if k, us := digitWord(le.Uint64(t[frac : frac+8])); s0 <= 9 && s1 <= 9 && k == 6 {
		n = int64(s0*10+s1)*1e6 + int64(us)
	} else {
		n = secondsPart(b)
	}
	if n < 0 || n > 60_999_999 {
		return 0, false
	}
	return d.at + Timestamp(n), true
}

// secondsPart returns the seconds and microseconds of a timestamp in
// Suricata's form as one number, or -1 when they are not digits or out of
// range.
func secondsPart(b []byte) int64 {
	const sec, zone = 17, 26
	var n int64
	for _, c := range b[sec:zone] {
		if c == '.' {
			continue
		}
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int64(c-'0')
	}
	if n > 60_999_999 {
		return -1
	}
	return n
}

// FieldError reports a field whose value has the wrong type or form.
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Err.Error() }
func (e *FieldError) Unwrap() error { return e.Err }

func (d *Decoder) internedStr() (string, error) {
	s := &d.s
	var b []byte
	// The words end within a word, without escapes: read in line, what
	// rawString does first.
	if p := s.pos; p+9 <= len(s.data) {
		w := (*[9]byte)(s.data[p : p+9])
		if m := quoteOrEscapeIn(binary.LittleEndian.Uint64(w[1:9])); w[0] == '"' && m != 0 {
			if k := 1 + bits.TrailingZeros64(m)/8; w[k] == '"' {
				s.pos = p + k + 1
				b = w[1:k]
			}
		}
	}
	if b == nil {
		if !s.quoted() && s.isNull() {
			return "", s.null()
		}
		var err error
		if b, err = s.rawString(); err != nil {
			return "", err
		}
	}
	if v, ok := word(b); ok {
		return v, nil
	}
	return string(bytesToValidUTF8IfNeeded(b)), nil
}

func bytesToValidUTF8IfNeeded(b []byte) []byte {
	for _, c := range b {
		if c >= 0x80 {
			return bytesToValidUTF8(b)
		}
	}
	return b
}

// Decode parses one EVE line into ev, which is reset first. Unknown event
// types decode their common fields and get TypeOther. The error names the
// field or offset that was wrong.
func (d *Decoder) Decode(line []byte, ev *Event) error {
	*ev = Event{}
	if n := len(line); n == 0 || line[0]-1 < ' ' || line[0] >= utf8.RuneSelf || line[n-1]-1 < ' ' || line[n-1] >= utf8.RuneSelf {
		// Only then can there be space to trim.
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			return ErrEmpty
		}
	}
	s := &d.s
	s.data, s.pos = line, 0
	eventType, err := d.event(ev)
	if err != nil {
		return err
	}
	if s.peek() != 0 {
		return s.errorf("trailing data after the event object")
	}
	if eventType == "" {
		return &FieldError{Field: "event_type", Err: fmt.Errorf("missing")}
	}
	ev.Type = typeOf(eventType)
	if err := ev.check(); err != nil {
		return err
	}
	return nil
}

// The keys of the event object. The ones without a case are skipped;
// they are listed so that the keys after them are guessed.
const (
	evTimestamp = iota + 1
	evFlowID
	evInIface
	evEventType
	evSrcIP
	evSrcPort
	evDestIP
	evDestPort
	evProto
	evPktSrc
	evAppProto
	evEther
	evDirection
	evTxID
	evFlow
	evDNS
	evTLS
	evHTTP
	evQUIC
	evDHCP
	evAlert
	evTCP
)

var eventKeys = newKeySet([]string{
	evTimestamp: "timestamp", evFlowID: "flow_id", evInIface: "in_iface", evEventType: "event_type",
	evSrcIP: "src_ip", evSrcPort: "src_port", evDestIP: "dest_ip", evDestPort: "dest_port",
	evProto: "proto", evPktSrc: "pkt_src", evAppProto: "app_proto", evEther: "ether",
	evDirection: "direction", evTxID: "tx_id", evFlow: "flow", evDNS: "dns", evTLS: "tls",
	evHTTP: "http", evQUIC: "quic", evDHCP: "dhcp", evAlert: "alert", evTCP: "tcp",
})

// event reads the event object's members into ev and returns its
// event_type.
func (d *Decoder) event(ev *Event) (eventType string, err error) {
	s := &d.s
	if !s.consume('{') {
		if err := s.expectSlow('{'); err != nil {
			return "", err
		}
	}
	var k uint8
	// The members after event_type follow each type's own order.
	g := &d.guess.event[0]
	for {
		if l := eventKeys.guess(g, k); s.lit(l) {
			k = l.k
		} else {
			var more bool
			if k, more, err = d.nextKey(eventKeys, g, k); err != nil || !more {
				return eventType, err
			}
		}
		switch k {
		case evTimestamp:
			ev.Timestamp, err = d.timestamp()
		case evEventType:
			eventType, err = d.internedStr()
			g = &d.guess.event[typeOf(eventType)]
		case evFlowID:
			ev.FlowID, err = s.uint()
		case evSrcIP:
			ev.SrcIP, err = d.addr()
		case evDestIP:
			ev.DestIP, err = d.addr()
		case evSrcPort:
			ev.SrcPort, err = d.port()
		case evDestPort:
			ev.DestPort, err = d.port()
		case evProto:
			ev.Proto, err = d.internedStr()
		case evAppProto:
			ev.AppProto, err = d.internedStr()
		case evEther:
			err = d.ether(ev)
		case evDirection:
			ev.Direction, err = d.internedStr()
		case evFlow:
			ev.Flow = d.newFlow()
			err = d.flow(ev.Flow)
		case evDNS:
			ev.DNS = d.newDNS()
			err = d.dns(ev.DNS)
		case evTLS:
			ev.TLS = d.newTLS()
			err = d.tls(ev.TLS)
		case evHTTP:
			ev.HTTP = d.newHTTP()
			err = d.http(ev.HTTP)
		case evQUIC:
			ev.QUIC = d.newQUIC()
			err = d.quic(ev.QUIC)
		case evDHCP:
			ev.DHCP = d.newDHCP()
			err = d.dhcp(ev.DHCP)
		case evAlert:
			ev.Alert = d.newAlert()
			err = d.alert(ev.Alert)
		default:
			if err := s.skip(); err != nil {
				return "", err
			}
			continue
		}
		if err != nil {
			return "", keyError("", eventKeys, k, err)
		}
	}
}

// typeOf returns the Type of an event_type.
func typeOf(eventType string) Type {
	switch eventType {
	case "flow":
		return TypeFlow
	case "dns":
		return TypeDNS
	case "tls":
		return TypeTLS
	case "http":
		return TypeHTTP
	case "quic":
		return TypeQUIC
	case "dhcp":
		return TypeDHCP
	case "alert":
		return TypeAlert
	}
	return TypeOther
}

// check rejects events that lack what their type needs to be of any use.
func (ev *Event) check() error {
	if ev.Timestamp == 0 && ev.Type != TypeOther {
		return &FieldError{Field: "timestamp", Err: fmt.Errorf("missing")}
	}
	switch ev.Type {
	case TypeFlow:
		if ev.Flow == nil {
			return &FieldError{Field: "flow", Err: fmt.Errorf("missing in a flow event")}
		}
		fallthrough
	case TypeTLS, TypeHTTP, TypeQUIC:
		if !ev.SrcIP.IsValid() || !ev.DestIP.IsValid() {
			return &FieldError{Field: "src_ip", Err: fmt.Errorf("missing address in a %s event", ev.Type)}
		}
	}
	if ev.Type == TypeDNS && ev.DNS == nil {
		return &FieldError{Field: "dns", Err: fmt.Errorf("missing in a dns event")}
	}
	return nil
}

func (d *Decoder) addr() (netip.Addr, error) {
	s := &d.s
	if p := s.pos; p+17 <= len(s.data) && s.data[p] == '"' {
		// Most addresses are IPv4, their text at most 15 bytes: taken
		// straight from the line's words after the quote, as the addrs
		// cache keeps it, when no escape comes first.
		w := (*[17]byte)(s.data[p : p+17])
		lo, hi := binary.LittleEndian.Uint64(w[1:9]), binary.LittleEndian.Uint64(w[9:17])
		n := 0
		if m := quoteOrEscapeIn(lo); m != 0 {
			n = bits.TrailingZeros64(m) / 8
			lo &= 1<<(8*n) - 1
			hi = 0
		} else if m := quoteOrEscapeIn(hi); m != 0 {
			n = bits.TrailingZeros64(m) / 8
			hi &= 1<<(8*n) - 1
			n += 8
		}
		if n > 0 && w[1+n] == '"' {
			s.pos = p + n + 2
			if e := &d.addrs[addrSlot(lo, hi)]; e.lo == lo && e.hi == hi && e.n == n {
				return e.a, nil
			}
			return d.parseAddr(w[1 : 1+n])
		}
	}
	b, err := s.rawString()
	if err != nil {
		return netip.Addr{}, err
	}
	if a, ok := d.addrs.get(b); ok {
		return a, nil
	}
	return d.parseAddr(b)
}

// parseAddr parses an address addr did not find in its cache.
func (d *Decoder) parseAddr(b []byte) (netip.Addr, error) {
	if a, ok := parseIPv4(b); ok {
		d.addrs.put(b, a)
		return a, nil
	}
	a, err := netip.ParseAddr(string(b))
	if err != nil {
		return netip.Addr{}, fmt.Errorf("invalid IP address %q", b)
	}
	return a.Unmap(), nil
}

// parseIPv4 parses dotted-quad IPv4 without allocating; anything else is
// left to netip.ParseAddr.
func parseIPv4(b []byte) (netip.Addr, bool) {
	var ip [4]byte
	field, n, digits := 0, 0, 0
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			if digits > 0 && n == 0 { // leading zero
				return netip.Addr{}, false
			}
			n = n*10 + int(c-'0')
			digits++
			if n > 255 {
				return netip.Addr{}, false
			}
		case c == '.' && digits > 0 && field < 3:
			ip[field] = byte(n)
			field, n, digits = field+1, 0, 0
		default:
			return netip.Addr{}, false
		}
	}
	if field != 3 || digits == 0 {
		return netip.Addr{}, false
	}
	ip[3] = byte(n)
	return netip.AddrFrom4(ip), true
}

func (d *Decoder) port() (uint16, error) {
	n, err := d.s.uint()
	if err != nil {
		return 0, err
	}
	if n > 65535 {
		return 0, fmt.Errorf("port %d out of range", n)
	}
	return uint16(n), nil
}

func (d *Decoder) mac() (string, error) {
	b, err := d.s.rawString()
	if err != nil {
		return "", err
	}
	if v, ok := d.name(b); ok {
		return v, nil // seen before, so already valid and normalized
	}
	m, err := NormalizeMAC(b)
	if err != nil {
		return "", err
	}
	if string(b) == m {
		return d.intern(b), nil
	}
	return m, nil
}

// NormalizeMAC returns a MAC address as lower-case colon-separated hex, the
// form pakon stores, accepting '-' separators too.
func NormalizeMAC(b []byte) (string, error) {
	if len(b) != 17 {
		return "", fmt.Errorf("invalid MAC address %q", b)
	}
	var out [17]byte
	for i, c := range b {
		if i%3 == 2 {
			if c != ':' && c != '-' {
				return "", fmt.Errorf("invalid MAC address %q", b)
			}
			out[i] = ':'
			continue
		}
		switch {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f':
			out[i] = c
		case c >= 'A' && c <= 'F':
			out[i] = c + 'a' - 'A'
		default:
			return "", fmt.Errorf("invalid MAC address %q", b)
		}
	}
	return string(out[:]), nil
}

func (d *Decoder) ether(ev *Event) error {
	s := &d.s
	if !s.consume('{') {
		if err := s.expectSlow('{'); err != nil {
			return err
		}
	}
	var err error
	var k uint8
	for {
		if l := etherKeys.guess(&d.guess.ether, k); s.lit(l) {
			k = l.k
		} else {
			var more bool
			if k, more, err = d.nextKey(etherKeys, &d.guess.ether, k); err != nil || !more {
				return err
			}
		}
		switch k {
		case etSrcMAC:
			ev.SrcMAC, err = d.mac()
		case etDestMAC:
			ev.DestMAC, err = d.mac()
		case etSrcMACs:
			err = d.firstMAC(&ev.SrcMAC)
		case etDestMACs:
			err = d.firstMAC(&ev.DestMAC)
		default:
			if err := s.skip(); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return keyError("", etherKeys, k, err)
		}
	}
}

// The keys of the ether object.
const (
	etSrcMAC = iota + 1
	etDestMAC
	etSrcMACs
	etDestMACs
)

var etherKeys = newKeySet([]string{
	etSrcMAC: "src_mac", etDestMAC: "dest_mac", etSrcMACs: "src_macs", etDestMACs: "dest_macs",
})

// firstMAC reads an array of MACs into *dst, unless it holds one already:
// the first is the one pakon keeps.
func (d *Decoder) firstMAC(dst *string) error {
	s := &d.s
	if !s.consume('[') {
		if err := s.expectSlow('['); err != nil {
			return err
		}
	}
	for first := true; ; first = false {
		more, err := s.element(first)
		if err != nil || !more {
			return err
		}
		m, err := d.mac()
		if err != nil {
			return err
		}
		if *dst == "" {
			*dst = m
		}
	}
}

func (d *Decoder) timestamp() (Timestamp, error) {
	s := &d.s
	// Most timestamps share their minute with the last: parsed in place,
	// without looking for the string's end, which is where that form
	// ends (its bytes are digits and the last timestamp's).
	const n = len(suricataForm)
	if p := s.pos; p+n+2 <= len(s.data) && s.data[p] == '"' && s.data[p+n+1] == '"' {
		if t, ok := d.sameMinute(s.data[p+1 : p+1+n]); ok {
			s.pos = p + n + 2
			return t, nil
		}
	}
	b, err := s.rawString()
	if err != nil {
		return 0, err
	}
	return d.parseTimestamp(b)
}

func (d *Decoder) flow(f *Flow) error {
	s := &d.s
	if !s.consume('{') {
		if err := s.expectSlow('{'); err != nil {
			return err
		}
	}
	var err error
	var k uint8
	for {
		if l := flowKeys.guess(&d.guess.flow, k); s.lit(l) {
			k = l.k
		} else {
			var more bool
			if k, more, err = d.nextKey(flowKeys, &d.guess.flow, k); err != nil || !more {
				return err
			}
		}
		switch k {
		case flPktsToServer:
			f.PktsToServer, err = s.uint()
		case flPktsToClient:
			f.PktsToClient, err = s.uint()
		case flBytesToServer:
			f.BytesToServer, err = s.uint()
		case flBytesToClient:
			f.BytesToClient, err = s.uint()
		case flStart:
			f.Start, err = d.timestamp()
		case flEnd:
			f.End, err = d.timestamp()
		case flState:
			f.State, err = d.internedStr()
		case flReason:
			f.Reason, err = d.internedStr()
		case flAlerted:
			f.Alerted, err = s.boolean()
		case flSrcIP:
			f.SrcIP, err = d.addr()
		case flDestIP:
			f.DestIP, err = d.addr()
		case flSrcPort:
			f.SrcPort, err = d.port()
		case flDestPort:
			f.DestPort, err = d.port()
		default:
			if err := s.skip(); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return keyError("", flowKeys, k, err)
		}
	}
}

// The keys of the flow object; age is skipped.
const (
	flPktsToServer = iota + 1
	flPktsToClient
	flBytesToServer
	flBytesToClient
	flStart
	flEnd
	flAge
	flState
	flReason
	flAlerted
	flSrcIP
	flDestIP
	flSrcPort
	flDestPort
)

var flowKeys = newKeySet([]string{
	flPktsToServer: "pkts_toserver", flPktsToClient: "pkts_toclient",
	flBytesToServer: "bytes_toserver", flBytesToClient: "bytes_toclient",
	flStart: "start", flEnd: "end", flAge: "age", flState: "state", flReason: "reason",
	flAlerted: "alerted", flSrcIP: "src_ip", flDestIP: "dest_ip", flSrcPort: "src_port", flDestPort: "dest_port",
})

// hostname reads a host name and returns it lower-case without a trailing
// dot, interned when it already was in that form.
func (d *Decoder) hostname() (string, error) {
	s := &d.s
	if !s.quoted() && s.isNull() {
		return "", s.null()
	}
	b, err := s.rawString()
	if err != nil {
		return "", err
	}
	if v, ok := d.name(b); ok {
		return v, nil
	}
	if len(b) == 0 || len(b) > 255 || !isNormalHostname(b) {
		return NormalizeHostname(string(bytesToValidUTF8IfNeeded(b))), nil
	}
	return d.intern(b), nil
}

func isNormalHostname(b []byte) bool {
	if b[len(b)-1] == '.' {
		return false
	}
	for _, c := range b {
		if c >= 'A' && c <= 'Z' || c >= 0x80 {
			return false
		}
	}
	return true
}

// NormalizeHostname lower-cases a host name and drops a trailing dot.
func NormalizeHostname(v string) string {
	v = strings.TrimSuffix(v, ".")
	for i := 0; i < len(v); i++ {
		if c := v[i]; c >= 'A' && c <= 'Z' {
			return strings.ToLower(v)
		}
	}
	return v
}
