package eve

import (
	"strings"
	"unicode/utf8"
)

// The decoders of the protocol objects pakon reads: dns (v2 and v3), tls,
// http, quic, dhcp and alert.

func (d *Decoder) dns(x *DNS) error {
	s := &d.s
	var (
		v2Name, v2Type string
		eventKind      string
	)
	if !s.consume('{') {
		if err := s.expectSlow('{'); err != nil {
			return err
		}
	}
	var (
		err  error
		k    uint8
		more bool
	)
	// The members after type follow the order of queries or of answers.
	g := &d.guess.dns[0]
	for {
		if l := dnsKeys.guess(g, k); s.lit(l) {
			k = l.k
		} else {
			if k, more, err = d.nextKey(dnsKeys, g, k); err != nil {
				return err
			}
			if !more {
				break
			}
		}
		switch k {
		case dnsVersion:
			var n int64
			n, err = s.int()
			x.Version = int(n)
		case dnsType:
			eventKind, err = d.internedStr()
			if eventKind == "answer" || eventKind == "response" {
				g = &d.guess.dns[1]
			}
		case dnsID:
			var n int64
			n, err = s.int()
			x.ID = int(n)
		case dnsRCode:
			x.RCode, err = d.internedStr()
		case dnsRRName:
			v2Name, err = d.hostname()
		case dnsRRType:
			v2Type, err = d.internedStr()
		case dnsQueries:
			err = d.questions(x)
		case dnsAnswers:
			err = d.answers(x)
		case dnsGrouped:
			if len(x.Answers) > 0 {
				err = s.skip() // "answers" already gave the records with their TTLs.
			} else {
				err = d.grouped(x)
			}
		case dnsQuery:
			// Suricata 7 alert: "dns": {"query": [{…v2 query…}]}
			err = d.alertQueries(x)
		case dnsAnswer:
			// Suricata 7 alert: "dns": {"answer": {…v2 answer…}}
			var sub DNS
			if err = d.dns(&sub); err == nil {
				x.Response = true
				x.Queries = append(x.Queries, sub.Queries...)
				x.Answers = append(x.Answers, sub.Answers...)
				if x.RCode == "" {
					x.RCode = sub.RCode
				}
			}
		default:
			if err := s.skip(); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return keyError("dns.", dnsKeys, k, err)
		}
	}
	switch eventKind {
	case "answer", "response":
		x.Response = true
	}
	if v2Name != "" && len(x.Queries) == 0 {
		x.Queries = append(x.Queries, Question{Name: v2Name, Type: v2Type})
	}
	if x.Version == 0 {
		x.Version = 2
	}
	return nil
}

// The keys of the dns object; the ones without a case are skipped.
const (
	dnsVersion = iota + 1
	dnsType
	dnsID
	dnsFlags
	dnsQR
	dnsAA
	dnsTC
	dnsRD
	dnsRA
	dnsZ
	dnsOpcode
	dnsTxID
	dnsRRName
	dnsRRType
	dnsRCode
	dnsQueries
	dnsAnswers
	dnsGrouped
	dnsAuthorities
	dnsAdditionals
	dnsQuery
	dnsAnswer
)

var dnsKeys = newKeySet([]string{
	dnsVersion: "version", dnsType: "type", dnsID: "id", dnsFlags: "flags", dnsQR: "qr",
	dnsAA: "aa", dnsTC: "tc", dnsRD: "rd", dnsRA: "ra", dnsZ: "z", dnsOpcode: "opcode",
	dnsTxID: "tx_id", dnsRRName: "rrname", dnsRRType: "rrtype", dnsRCode: "rcode",
	dnsQueries: "queries", dnsAnswers: "answers", dnsGrouped: "grouped",
	dnsAuthorities: "authorities", dnsAdditionals: "additionals", dnsQuery: "query", dnsAnswer: "answer",
})

// questions reads a "queries" array (v3) into x.Queries.
func (d *Decoder) questions(x *DNS) error {
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
		q, err := d.question()
		x.Queries = append(x.Queries, q)
		if err != nil {
			return err
		}
	}
}

// answers reads an "answers" array into x.Answers.
func (d *Decoder) answers(x *DNS) error {
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
		a, err := d.answer()
		if err != nil {
			return err
		}
		x.Answers = append(x.Answers, a)
	}
}

// alertQueries reads the "query" array of a Suricata 7 alert, v2 query
// objects, into x.Queries.
func (d *Decoder) alertQueries(x *DNS) error {
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
		var sub DNS
		if err := d.dns(&sub); err != nil {
			return err
		}
		x.Queries = append(x.Queries, sub.Queries...)
	}
}

func (d *Decoder) question() (Question, error) {
	var q Question
	s := &d.s
	if !s.consume('{') {
		if err := s.expectSlow('{'); err != nil {
			return q, err
		}
	}
	var err error
	var k uint8
	for {
		if l := questionKeys.guess(&d.guess.question, k); s.lit(l) {
			k = l.k
		} else {
			var more bool
			if k, more, err = d.nextKey(questionKeys, &d.guess.question, k); err != nil || !more {
				return q, err
			}
		}
		switch k {
		case rrName:
			q.Name, err = d.hostname()
		case rrType:
			q.Type, err = d.internedStr()
		default:
			err = s.skip()
		}
		if err != nil {
			return q, err
		}
	}
}

func (d *Decoder) answer() (Answer, error) {
	var a Answer
	s := &d.s
	if !s.consume('{') {
		if err := s.expectSlow('{'); err != nil {
			return a, err
		}
	}
	var err error
	var k uint8
	for {
		if l := answerKeys.guess(&d.guess.answer, k); s.lit(l) {
			k = l.k
		} else {
			var more bool
			if k, more, err = d.nextKey(answerKeys, &d.guess.answer, k); err != nil || !more {
				return a, err
			}
		}
		switch k {
		case rrName:
			a.Name, err = d.hostname()
		case rrType:
			a.Type, err = d.internedStr()
		case rrTTL:
			var n uint64
			n, err = s.uint()
			a.TTL, a.HasTTL = uint32(min(n, 1<<31)), true
		case rrData:
			if s.peek() != '"' {
				err = s.skip() // SOA and friends log an object
			} else {
				a.Data, err = d.rdata()
			}
		default:
			err = s.skip()
		}
		if err != nil {
			return a, err
		}
	}
}

// The keys of the objects of queries and answers.
const (
	rrName = iota + 1
	rrType
	rrClass
	rrTTL
	rrData
)

var (
	questionKeys = newKeySet([]string{rrName: "rrname", rrType: "rrtype", rrClass: "rrclass"})
	answerKeys   = newKeySet([]string{rrName: "rrname", rrType: "rrtype", rrClass: "rrclass", rrTTL: "ttl", rrData: "rdata"})
)

// rdata reads a record's data: a CNAME's target is most often a name
// seen before, shared instead of copied.
func (d *Decoder) rdata() (string, error) {
	b, err := d.s.rawString()
	if err != nil {
		return "", err
	}
	if v, ok := d.name(b); ok {
		return v, nil
	}
	if !utf8.Valid(b) {
		return string(bytesToValidUTF8(b)), nil
	}
	return string(b), nil
}

// grouped reads the "grouped" answer format ({"A": ["1.2.3.4"], "CNAME": […]}).
// It carries no owner names or TTLs; the chain is attributed to the query.
func (d *Decoder) grouped(x *DNS) error {
	s := &d.s
	if !s.consume('{') {
		if err := s.expectSlow('{'); err != nil {
			return err
		}
	}
	for first := true; ; first = false {
		key, more, err := s.member(first)
		if err != nil || !more {
			return err
		}
		rrtype, ok := word(key)
		if !ok {
			rrtype = string(key)
		}
		if err := s.expect('['); err != nil {
			return err
		}
		for first := true; ; first = false {
			v, ok, err := s.stringElement(first)
			if ok {
				x.Answers = append(x.Answers, Answer{Type: rrtype, Data: v})
			}
			if err != nil {
				return err
			}
			if !ok {
				break
			}
		}
	}
}

func (d *Decoder) tls(t *TLS) error {
	s := &d.s
	if !s.consume('{') {
		if err := s.expectSlow('{'); err != nil {
			return err
		}
	}
	var err error
	var k uint8
	for {
		if l := tlsKeys.guess(&d.guess.tls, k); s.lit(l) {
			k = l.k
		} else {
			var more bool
			if k, more, err = d.nextKey(tlsKeys, &d.guess.tls, k); err != nil || !more {
				return err
			}
		}
		switch {
		case k == tlsSNI:
			t.SNI, err = d.hostname()
		case k == tlsSubject:
			t.Subject, err = s.str()
		case d.Lean:
			// The other members only describe.
			if err := s.skip(); err != nil {
				return err
			}
			continue
		case k == tlsIssuer:
			t.Issuer, err = s.str()
		case k == tlsVersion:
			t.Version, err = s.str()
		case k == tlsFingerprint:
			t.Fingerprint, err = s.str()
		case k == tlsNotAfter:
			t.NotAfter, err = s.str()
		default:
			if err := s.skip(); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return keyError("tls.", tlsKeys, k, err)
		}
	}
}

// The keys of the tls object; the ones without a case are skipped.
const (
	tlsSubject = iota + 1
	tlsIssuer
	tlsSerial
	tlsFingerprint
	tlsSNI
	tlsVersion
	tlsNotBefore
	tlsNotAfter
	tlsJA3
	tlsJA3S
	tlsJA4
	tlsSessionResumed
)

var tlsKeys = newKeySet([]string{
	tlsSubject: "subject", tlsIssuer: "issuerdn", tlsSerial: "serial", tlsFingerprint: "fingerprint",
	tlsSNI: "sni", tlsVersion: "version", tlsNotBefore: "notbefore", tlsNotAfter: "notafter",
	tlsJA3: "ja3", tlsJA3S: "ja3s", tlsJA4: "ja4", tlsSessionResumed: "session_resumed",
})

func (d *Decoder) http(h *HTTP) error {
	s := &d.s
	if !s.consume('{') {
		if err := s.expectSlow('{'); err != nil {
			return err
		}
	}
	var err error
	var k uint8
	for {
		if l := httpKeys.guess(&d.guess.http, k); s.lit(l) {
			k = l.k
		} else {
			var more bool
			if k, more, err = d.nextKey(httpKeys, &d.guess.http, k); err != nil || !more {
				return err
			}
		}
		switch {
		case k == httpHostname:
			h.Hostname, err = d.hostname()
		case k == httpStatus:
			var n int64
			n, err = s.int()
			h.Status = int(n)
		case k == httpLength:
			h.Length, err = s.uint()
		case d.Lean:
			// The other members only describe.
			if err := s.skip(); err != nil {
				return err
			}
			continue
		case k == httpURL:
			h.URL, err = s.str()
		case k == httpMethod:
			h.Method, err = s.str()
		case k == httpUserAgent:
			h.UserAgent, err = s.str()
		default:
			if err := s.skip(); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return keyError("http.", httpKeys, k, err)
		}
	}
}

// The keys of the http object; the ones without a case are skipped.
const (
	httpHostname = iota + 1
	httpPort
	httpURL
	httpUserAgent
	httpContentType
	httpRefer
	httpMethod
	httpProtocol
	httpStatus
	httpRedirect
	httpLength
)

var httpKeys = newKeySet([]string{
	httpHostname: "hostname", httpPort: "http_port", httpURL: "url", httpUserAgent: "http_user_agent",
	httpContentType: "http_content_type", httpRefer: "http_refer", httpMethod: "http_method",
	httpProtocol: "protocol", httpStatus: "status", httpRedirect: "redirect", httpLength: "length",
})

func (d *Decoder) quic(q *QUIC) error {
	s := &d.s
	if !s.consume('{') {
		if err := s.expectSlow('{'); err != nil {
			return err
		}
	}
	var err error
	var k uint8
	for {
		if l := quicKeys.guess(&d.guess.quic, k); s.lit(l) {
			k = l.k
		} else {
			var more bool
			if k, more, err = d.nextKey(quicKeys, &d.guess.quic, k); err != nil || !more {
				return err
			}
		}
		switch {
		case k == quicSNI:
			q.SNI, err = d.hostname()
		case d.Lean:
			// The other members only describe.
			if err := s.skip(); err != nil {
				return err
			}
			continue
		case k == quicVersion:
			if s.peek() == '"' {
				q.Version, err = s.str()
			} else {
				var b []byte
				b, err = s.number()
				q.Version = string(b)
			}
		case k == quicUA:
			q.UA, err = s.str()
		default:
			if err := s.skip(); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return keyError("quic.", quicKeys, k, err)
		}
	}
}

// The keys of the quic object; the ones without a case are skipped.
const (
	quicVersion = iota + 1
	quicSNI
	quicUA
	quicCYU
	quicJA3
	quicJA4
	quicExtensions
)

var quicKeys = newKeySet([]string{
	quicVersion: "version", quicSNI: "sni", quicUA: "ua", quicCYU: "cyu",
	quicJA3: "ja3", quicJA4: "ja4", quicExtensions: "extensions",
})

func (d *Decoder) dhcp(x *DHCP) error {
	s := &d.s
	if !s.consume('{') {
		if err := s.expectSlow('{'); err != nil {
			return err
		}
	}
	var err error
	var k uint8
	for {
		if l := dhcpKeys.guess(&d.guess.dhcp, k); s.lit(l) {
			k = l.k
		} else {
			var more bool
			if k, more, err = d.nextKey(dhcpKeys, &d.guess.dhcp, k); err != nil || !more {
				return err
			}
		}
		switch k {
		case dhcpType:
			x.Type, err = d.internedStr()
		case dhcpDHCPType:
			x.DHCPType, err = d.internedStr()
		case dhcpClientMAC:
			x.ClientMAC, err = d.mac()
		case dhcpClientIP:
			x.ClientIP, err = d.addr()
		case dhcpAssignedIP:
			x.AssignedIP, err = d.addr()
		case dhcpHostname:
			var v string
			v, err = s.str()
			// Some clients send the host name option NUL-terminated.
			x.Hostname = strings.TrimRight(v, "\x00")
		case dhcpLeaseTime:
			var n uint64
			n, err = s.uint()
			x.LeaseTime = uint32(min(n, 1<<32-1))
		default:
			if err := s.skip(); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return keyError("dhcp.", dhcpKeys, k, err)
		}
	}
}

// The keys of the dhcp object; the ones without a case are skipped.
const (
	dhcpType = iota + 1
	dhcpID
	dhcpClientMAC
	dhcpAssignedIP
	dhcpClientIP
	dhcpRelayIP
	dhcpNextServerIP
	dhcpDHCPType
	dhcpHostname
	dhcpLeaseTime
	dhcpRenewalTime
	dhcpRebindingTime
	dhcpSubnetMask
	dhcpRouters
	dhcpDNSServers
	dhcpRequestedIP
	dhcpParams
)

var dhcpKeys = newKeySet([]string{
	dhcpType: "type", dhcpID: "id", dhcpClientMAC: "client_mac", dhcpAssignedIP: "assigned_ip",
	dhcpClientIP: "client_ip", dhcpRelayIP: "relay_ip", dhcpNextServerIP: "next_server_ip",
	dhcpDHCPType: "dhcp_type", dhcpHostname: "hostname", dhcpLeaseTime: "lease_time",
	dhcpRenewalTime: "renewal_time", dhcpRebindingTime: "rebinding_time", dhcpSubnetMask: "subnet_mask",
	dhcpRouters: "routers", dhcpDNSServers: "dns_servers", dhcpRequestedIP: "requested_ip", dhcpParams: "params",
})

func (d *Decoder) alert(a *Alert) error {
	s := &d.s
	if !s.consume('{') {
		if err := s.expectSlow('{'); err != nil {
			return err
		}
	}
	var err error
	var k uint8
	for {
		if l := alertKeys.guess(&d.guess.alert, k); s.lit(l) {
			k = l.k
		} else {
			var more bool
			if k, more, err = d.nextKey(alertKeys, &d.guess.alert, k); err != nil || !more {
				return err
			}
		}
		switch k {
		case alAction:
			a.Action, err = d.internedStr()
		case alGID:
			a.GID, err = s.uint32()
		case alSignatureID:
			a.SignatureID, err = s.uint32()
		case alRev:
			a.Rev, err = s.uint32()
		case alSignature:
			a.Signature, err = s.str()
		case alCategory:
			a.Category, err = s.str()
		case alSeverity:
			var n int64
			n, err = s.int()
			a.Severity = int(n)
		case alMetadata:
			a.Metadata = map[string][]string{}
			err = d.metadata(a.Metadata)
		default:
			if err := s.skip(); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return keyError("alert.", alertKeys, k, err)
		}
	}
}

// The keys of the alert object; the ones without a case are skipped.
const (
	alAction = iota + 1
	alGID
	alSignatureID
	alRev
	alSignature
	alCategory
	alSeverity
	alMetadata
)

var alertKeys = newKeySet([]string{
	alAction: "action", alGID: "gid", alSignatureID: "signature_id", alRev: "rev",
	alSignature: "signature", alCategory: "category", alSeverity: "severity", alMetadata: "metadata",
})

// uint32 reads an unsigned integer, capped at the largest uint32.
func (s *scanner) uint32() (uint32, error) {
	n, err := s.uint()
	return uint32(min(n, 1<<32-1)), err
}

// metadata reads a rule's metadata object (key → array of strings).
func (d *Decoder) metadata(m map[string][]string) error {
	s := &d.s
	if !s.consume('{') {
		if err := s.expectSlow('{'); err != nil {
			return err
		}
	}
	for first := true; ; first = false {
		k, more, err := s.member(first)
		if err != nil || !more {
			return err
		}
		name := string(k)
		if err := s.expect('['); err != nil {
			return err
		}
		for first := true; ; first = false {
			v, ok, err := s.stringElement(first)
			if ok {
				m[name] = append(m[name], v)
			}
			if err != nil {
				return err
			}
			if !ok {
				break
			}
		}
	}
}
