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
	if err := s.expect('{'); err != nil {
		return err
	}
	for first := true; ; first = false {
		key, more, err := s.member(first)
		if err != nil {
			return err
		}
		if !more {
			break
		}
		switch string(key) {
		case "version":
			var n int64
			n, err = s.int()
			x.Version = int(n)
		case "type":
			eventKind, err = d.internedStr()
		case "id":
			var n int64
			n, err = s.int()
			x.ID = int(n)
		case "rcode":
			x.RCode, err = d.internedStr()
		case "rrname":
			v2Name, err = d.hostname()
		case "rrtype":
			v2Type, err = d.internedStr()
		case "queries":
			err = d.questions(x)
		case "answers":
			err = d.answers(x)
		case "grouped":
			if len(x.Answers) > 0 {
				err = s.skip() // "answers" already gave the records with their TTLs.
			} else {
				err = d.grouped(x)
			}
		case "query":
			// Suricata 7 alert: "dns": {"query": [{…v2 query…}]}
			err = d.alertQueries(x)
		case "answer":
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
			return fieldError("dns.", key, err)
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

// questions reads a "queries" array (v3) into x.Queries.
func (d *Decoder) questions(x *DNS) error {
	s := &d.s
	if err := s.expect('['); err != nil {
		return err
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
	if err := s.expect('['); err != nil {
		return err
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
	if err := s.expect('['); err != nil {
		return err
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
	if err := s.expect('{'); err != nil {
		return q, err
	}
	for first := true; ; first = false {
		key, more, err := s.member(first)
		if err != nil || !more {
			return q, err
		}
		switch string(key) {
		case "rrname":
			q.Name, err = d.hostname()
		case "rrtype":
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
	if err := s.expect('{'); err != nil {
		return a, err
	}
	for first := true; ; first = false {
		key, more, err := s.member(first)
		if err != nil || !more {
			return a, err
		}
		switch string(key) {
		case "rrname":
			a.Name, err = d.hostname()
		case "rrtype":
			a.Type, err = d.internedStr()
		case "ttl":
			var n uint64
			n, err = s.uint()
			a.TTL, a.HasTTL = uint32(min(n, 1<<31)), true
		case "rdata":
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
	if err := s.expect('{'); err != nil {
		return err
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
	if err := s.expect('{'); err != nil {
		return err
	}
	for first := true; ; first = false {
		key, more, err := s.member(first)
		if err != nil || !more {
			return err
		}
		switch {
		case string(key) == "sni":
			t.SNI, err = d.hostname()
		case string(key) == "subject":
			t.Subject, err = s.str()
		case d.Lean:
			// The other members only describe.
			if err := s.skip(); err != nil {
				return err
			}
			continue
		case string(key) == "issuerdn":
			t.Issuer, err = s.str()
		case string(key) == "version":
			t.Version, err = s.str()
		case string(key) == "fingerprint":
			t.Fingerprint, err = s.str()
		case string(key) == "notafter":
			t.NotAfter, err = s.str()
		default:
			if err := s.skip(); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return fieldError("tls.", key, err)
		}
	}
}

func (d *Decoder) http(h *HTTP) error {
	s := &d.s
	if err := s.expect('{'); err != nil {
		return err
	}
	for first := true; ; first = false {
		key, more, err := s.member(first)
		if err != nil || !more {
			return err
		}
		switch {
		case string(key) == "hostname":
			h.Hostname, err = d.hostname()
		case string(key) == "status":
			var n int64
			n, err = s.int()
			h.Status = int(n)
		case string(key) == "length":
			h.Length, err = s.uint()
		case d.Lean:
			// The other members only describe.
			if err := s.skip(); err != nil {
				return err
			}
			continue
		case string(key) == "url":
			h.URL, err = s.str()
		case string(key) == "http_method":
			h.Method, err = s.str()
		case string(key) == "http_user_agent":
			h.UserAgent, err = s.str()
		default:
			if err := s.skip(); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return fieldError("http.", key, err)
		}
	}
}

func (d *Decoder) quic(q *QUIC) error {
	s := &d.s
	if err := s.expect('{'); err != nil {
		return err
	}
	for first := true; ; first = false {
		key, more, err := s.member(first)
		if err != nil || !more {
			return err
		}
		switch {
		case string(key) == "sni":
			q.SNI, err = d.hostname()
		case d.Lean:
			// The other members only describe.
			if err := s.skip(); err != nil {
				return err
			}
			continue
		case string(key) == "version":
			if s.peek() == '"' {
				q.Version, err = s.str()
			} else {
				var b []byte
				b, err = s.number()
				q.Version = string(b)
			}
		case string(key) == "ua":
			q.UA, err = s.str()
		default:
			if err := s.skip(); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return fieldError("quic.", key, err)
		}
	}
}

func (d *Decoder) dhcp(x *DHCP) error {
	s := &d.s
	if err := s.expect('{'); err != nil {
		return err
	}
	for first := true; ; first = false {
		key, more, err := s.member(first)
		if err != nil || !more {
			return err
		}
		switch string(key) {
		case "type":
			x.Type, err = d.internedStr()
		case "dhcp_type":
			x.DHCPType, err = d.internedStr()
		case "client_mac":
			x.ClientMAC, err = d.mac()
		case "client_ip":
			x.ClientIP, err = d.addr()
		case "assigned_ip":
			x.AssignedIP, err = d.addr()
		case "hostname":
			var v string
			v, err = s.str()
			// Some clients send the host name option NUL-terminated.
			x.Hostname = strings.TrimRight(v, "\x00")
		case "lease_time":
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
			return fieldError("dhcp.", key, err)
		}
	}
}

func (d *Decoder) alert(a *Alert) error {
	s := &d.s
	if err := s.expect('{'); err != nil {
		return err
	}
	for first := true; ; first = false {
		key, more, err := s.member(first)
		if err != nil || !more {
			return err
		}
		switch string(key) {
		case "action":
			a.Action, err = d.internedStr()
		case "gid":
			a.GID, err = s.uint32()
		case "signature_id":
			a.SignatureID, err = s.uint32()
		case "rev":
			a.Rev, err = s.uint32()
		case "signature":
			a.Signature, err = s.str()
		case "category":
			a.Category, err = s.str()
		case "severity":
			var n int64
			n, err = s.int()
			a.Severity = int(n)
		case "metadata":
			a.Metadata = map[string][]string{}
			err = d.metadata(a.Metadata)
		default:
			if err := s.skip(); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return fieldError("alert.", key, err)
		}
	}
}

// uint32 reads an unsigned integer, capped at the largest uint32.
func (s *scanner) uint32() (uint32, error) {
	n, err := s.uint()
	return uint32(min(n, 1<<32-1)), err
}

// metadata reads a rule's metadata object (key → array of strings).
func (d *Decoder) metadata(m map[string][]string) error {
	s := &d.s
	if err := s.expect('{'); err != nil {
		return err
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
