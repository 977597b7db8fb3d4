package eve

import (
	"strings"
)

// The decoders of the protocol objects pakon reads: dns (v2 and v3), tls,
// http, quic, dhcp and alert.

func (d *Decoder) dns(x *DNS) error {
	s := &d.s
	var (
		v2Name, v2Type string
		eventKind      string
	)
	err := d.fields("dns.", func(key []byte) (err error) {
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
			err = s.array(func() error {
				q, err := d.question()
				x.Queries = append(x.Queries, q)
				return err
			})
		case "answers":
			err = s.array(func() error {
				a, err := d.answer()
				if err == nil {
					x.Answers = append(x.Answers, a)
				}
				return err
			})
		case "grouped":
			if len(x.Answers) > 0 {
				return s.skip() // "answers" already gave the records with their TTLs.
			}
			err = d.grouped(x)
		case "query":
			// Suricata 7 alert: "dns": {"query": [{…v2 query…}]}
			err = s.array(func() error {
				var sub DNS
				if err := d.dns(&sub); err != nil {
					return err
				}
				x.Queries = append(x.Queries, sub.Queries...)
				return nil
			})
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
			return errUnknownField
		}
		return err
	})
	if err != nil {
		return err
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

func (d *Decoder) question() (Question, error) {
	var q Question
	s := &d.s
	err := s.object(func(key []byte) error {
		var err error
		switch string(key) {
		case "rrname":
			q.Name, err = d.hostname()
		case "rrtype":
			q.Type, err = d.internedStr()
		default:
			return s.skip()
		}
		return err
	})
	return q, err
}

func (d *Decoder) answer() (Answer, error) {
	var a Answer
	s := &d.s
	err := s.object(func(key []byte) error {
		var err error
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
				return s.skip() // SOA and friends log an object
			}
			a.Data, err = s.str()
		default:
			return s.skip()
		}
		return err
	})
	return a, err
}

// grouped reads the "grouped" answer format ({"A": ["1.2.3.4"], "CNAME": […]}).
// It carries no owner names or TTLs; the chain is attributed to the query.
func (d *Decoder) grouped(x *DNS) error {
	s := &d.s
	return s.object(func(key []byte) error {
		rrtype, ok := d.word(key)
		if !ok {
			rrtype = string(key)
		}
		return s.array(func() error {
			if s.peek() != '"' {
				return s.skip()
			}
			v, err := s.str()
			x.Answers = append(x.Answers, Answer{Type: rrtype, Data: v})
			return err
		})
	})
}

func (d *Decoder) tls(t *TLS) error {
	s := &d.s
	return d.fields("tls.", func(key []byte) (err error) {
		switch string(key) {
		case "sni":
			t.SNI, err = d.hostname()
		case "subject":
			t.Subject, err = s.str()
		case "issuerdn":
			if d.Lean {
				return errUnknownField
			}
			t.Issuer, err = s.str()
		case "version":
			if d.Lean {
				return errUnknownField
			}
			t.Version, err = s.str()
		case "fingerprint":
			if d.Lean {
				return errUnknownField
			}
			t.Fingerprint, err = s.str()
		case "notafter":
			if d.Lean {
				return errUnknownField
			}
			t.NotAfter, err = s.str()
		default:
			return errUnknownField
		}
		return err
	})
}

func (d *Decoder) http(h *HTTP) error {
	s := &d.s
	return d.fields("http.", func(key []byte) (err error) {
		switch string(key) {
		case "hostname":
			h.Hostname, err = d.hostname()
		case "url":
			if d.Lean {
				return errUnknownField
			}
			h.URL, err = s.str()
		case "http_method":
			if d.Lean {
				return errUnknownField
			}
			h.Method, err = s.str()
		case "http_user_agent":
			if d.Lean {
				return errUnknownField
			}
			h.UserAgent, err = s.str()
		case "status":
			var n int64
			n, err = s.int()
			h.Status = int(n)
		case "length":
			h.Length, err = s.uint()
		default:
			return errUnknownField
		}
		return err
	})
}

func (d *Decoder) quic(q *QUIC) error {
	s := &d.s
	return d.fields("quic.", func(key []byte) (err error) {
		switch string(key) {
		case "sni":
			q.SNI, err = d.hostname()
		case "version":
			if d.Lean {
				return errUnknownField
			}
			if s.peek() == '"' {
				q.Version, err = s.str()
			} else {
				var b []byte
				b, err = s.number()
				q.Version = string(b)
			}
		case "ua":
			if d.Lean {
				return errUnknownField
			}
			q.UA, err = s.str()
		default:
			return errUnknownField
		}
		return err
	})
}

func (d *Decoder) dhcp(x *DHCP) error {
	s := &d.s
	return d.fields("dhcp.", func(key []byte) (err error) {
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
			return errUnknownField
		}
		return err
	})
}

func (d *Decoder) alert(a *Alert) error {
	s := &d.s
	u32 := func() (uint32, error) {
		n, err := s.uint()
		return uint32(min(n, 1<<32-1)), err
	}
	return d.fields("alert.", func(key []byte) (err error) {
		switch string(key) {
		case "action":
			a.Action, err = d.internedStr()
		case "gid":
			a.GID, err = u32()
		case "signature_id":
			a.SignatureID, err = u32()
		case "rev":
			a.Rev, err = u32()
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
			err = s.object(func(k []byte) error {
				name := string(k)
				return s.array(func() error {
					if s.peek() != '"' {
						return s.skip()
					}
					v, err := s.str()
					a.Metadata[name] = append(a.Metadata[name], v)
					return err
				})
			})
		default:
			return errUnknownField
		}
		return err
	})
}
