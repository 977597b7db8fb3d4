package lists

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"unicode/utf8"
)

// Limits of RFC 1035 on names in text form.
const (
	maxLabelLen = 63
	maxNameLen  = 253
)

// normalize turns an observed host name into the form used for matching:
// ASCII lower case, without one trailing dot, non-ASCII labels encoded as
// Punycode. ip is true for IP literals, which are returned unchanged and
// never matched.
func normalize(s string) (key string, ip bool) {
	if s == "" {
		return "", false
	}
	if isIPLiteral(s) {
		return s, true
	}
	if s[len(s)-1] == '.' {
		s = s[:len(s)-1]
	}
	upper, wide := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			wide = true
			break
		}
		if c >= 'A' && c <= 'Z' {
			upper = true
		}
	}
	switch {
	case wide:
		return toASCII(s), false
	case upper:
		return lowerASCII(s), false
	}
	return s, false
}

// isIPLiteral reports whether s is an IPv4 or IPv6 address, optionally in
// the brackets of a URL host.
func isIPLiteral(s string) bool {
	if len(s) > 2 && s[0] == '[' && s[len(s)-1] == ']' {
		s = s[1 : len(s)-1]
		if strings.IndexByte(s, ':') < 0 {
			return false
		}
	}
	last := s[len(s)-1]
	if strings.IndexByte(s, ':') < 0 && (last < '0' || last > '9') {
		// A host name's top-level label is never numeric, so only
		// strings ending in a digit or holding a colon can be addresses.
		return false
	}
	_, err := netip.ParseAddr(s)
	return err == nil
}

// lowerASCII lower-cases the ASCII letters of s.
func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// toASCII lower-cases s and encodes each label holding non-ASCII
// characters as "xn--" Punycode. It applies Unicode simple case folding
// only, not the full IDNA mapping of UTS #46, which observed names (from
// DNS, SNI and HTTP, already ASCII on the wire) do not need. A label that
// cannot be encoded is kept as it is; it then matches no list entry.
func toASCII(s string) string {
	s = strings.ToLower(s)
	labels := strings.Split(s, ".")
	for i, label := range labels {
		if isASCII(label) {
			continue
		}
		enc, err := punyEncode([]rune(label))
		if err != nil {
			continue
		}
		labels[i] = acePrefix + enc
	}
	return strings.Join(labels, ".")
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// errNotDomain is wrapped by every pattern validation error.
var errNotDomain = errors.New("not a domain name")

// checkDomain validates a normalized domain name used as a list pattern or
// a replacement: 1 to 63 characters per label from a–z, 0–9, "-" and "_",
// no label starting or ending with "-", at most 253 characters, and a
// top-level label that is not all digits (those are IP addresses). If
// wildcard is true, the last label may be "*".
func checkDomain(name string, wildcard bool) error {
	if name == "" {
		return fmt.Errorf("empty name: %w", errNotDomain)
	}
	if len(name) > maxNameLen {
		return fmt.Errorf("%d characters, more than %d: %w", len(name), maxNameLen, errNotDomain)
	}
	labels := strings.Split(name, ".")
	last := len(labels) - 1
	for i, label := range labels {
		if i == last && wildcard && label == "*" {
			if i == 0 {
				return fmt.Errorf("%q: a wildcard needs a label before it: %w", name, errNotDomain)
			}
			continue
		}
		if err := checkLabel(label); err != nil {
			return fmt.Errorf("%q: %w", name, err)
		}
	}
	if allDigits(labels[last]) {
		return fmt.Errorf("%q: numeric top-level label (IP addresses are never matched): %w", name, errNotDomain)
	}
	return nil
}

func checkLabel(label string) error {
	switch {
	case label == "":
		return fmt.Errorf("empty label: %w", errNotDomain)
	case len(label) > maxLabelLen:
		return fmt.Errorf("label of %d characters, more than %d: %w", len(label), maxLabelLen, errNotDomain)
	case label[0] == '-' || label[len(label)-1] == '-':
		return fmt.Errorf("label %q starts or ends with \"-\": %w", label, errNotDomain)
	}
	for i := 0; i < len(label); i++ {
		c := label[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("label %q has character %q: %w", label, rune(c), errNotDomain)
		}
	}
	return nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
