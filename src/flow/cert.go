package flow

import "strings"

// CertName returns the host name in a certificate subject as Suricata logs
// it ("C=CZ, O=Example, CN=www.example.test"; older builds print OpenSSL's
// "/C=CZ/O=Example/CN=www.example.test"), or "" when the subject has no CN
// that is a host name. The subject is parsed attribute by attribute, with
// RFC 4514 escapes and quoting, so that a CN is never glued to the attribute
// after it; the most specific (last) CN wins and a wildcard's "*." is dropped.
func CertName(subject string) string {
	var cn string
	for _, attr := range splitRDNs(subject) {
		key, value, ok := strings.Cut(attr, "=")
		if !ok {
			continue
		}
		switch strings.ToLower(strings.TrimSpace(key)) {
		case "cn", "commonname", "2.5.4.3":
			cn = unescapeDN(strings.TrimSpace(value))
		}
	}
	cn = strings.TrimPrefix(strings.ToLower(cn), "*.")
	if !isHostname(cn) {
		return ""
	}
	return strings.TrimSuffix(cn, ".")
}

// splitRDNs splits a subject into "key=value" attributes at unescaped,
// unquoted separators: ',' and '+' (multi-valued RDNs) in RFC 4514 form, '/'
// in OpenSSL's legacy form.
func splitRDNs(s string) []string {
	legacy := strings.HasPrefix(s, "/")
	if legacy {
		s = s[1:]
	}
	var out []string
	start, quoted := 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case quoted:
		case legacy && c == '/', !legacy && (c == ',' || c == '+' || c == ';'):
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

func unescapeDN(v string) string {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		v = v[1 : len(v)-1]
	}
	if !strings.Contains(v, `\`) {
		return v
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] == '\\' && i+1 < len(v) {
			i++
		}
		b.WriteByte(v[i])
	}
	return b.String()
}

// isHostname accepts DNS names with at least two labels made of letters,
// digits, '-' and '_'. Certificate CNs are often free text ("Fritz!Box",
// "Kindle boss"), which would make poor host names.
func isHostname(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if len(s) == 0 || len(s) > 253 || !strings.Contains(s, ".") {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if len(label) == 0 || len(label) > 63 {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}
