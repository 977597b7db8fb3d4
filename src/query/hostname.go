package query

import (
	"net/netip"
	"strings"
	"unicode"

	"github.com/pakon/pakon/src/lists"
)

// hostPattern is one parsed hostname parameter.
type hostPattern struct {
	name  string // lower case, no trailing dot; ASCII or Unicode as given
	exact bool
}

// hostFilter holds the hostname parameters split into names and
// addresses.
type hostFilter struct {
	names []hostPattern
	ips   []string // canonical text form
}

func (h *hostFilter) empty() bool { return len(h.names) == 0 && len(h.ips) == 0 }

// parseHostnames validates the hostname parameters.
func parseHostnames(values []string) (hostFilter, error) {
	var h hostFilter
	for _, v := range values {
		s := strings.TrimSpace(v)
		if ip, ok := parseIP(s); ok {
			h.ips = append(h.ips, ip)
			continue
		}
		var p hostPattern
		if rest, ok := strings.CutPrefix(s, "="); ok {
			p.exact, s = true, rest
		} else if rest, ok := strings.CutPrefix(s, "*."); ok {
			s = rest
		} else {
			s = strings.TrimPrefix(s, ".")
		}
		s = strings.ToLower(strings.TrimSuffix(s, "."))
		if s == "" {
			return h, invalidf("hostname", "empty host name %q", v)
		}
		if len(s) > 253 || strings.ContainsFunc(s, func(r rune) bool {
			return unicode.IsSpace(r) || unicode.IsControl(r) || strings.ContainsRune("/\\@:,;*=?#[]", r)
		}) || strings.Contains(s, "..") || strings.HasPrefix(s, ".") {
			return h, invalidf("hostname", "invalid host name %q (want example.com, =www.example.com or an IP address)", v)
		}
		h.names = append(h.names, p)
		h.names[len(h.names)-1].name = s
	}
	return h, nil
}

// parseIP reads an IP literal, optionally in URL brackets, in canonical
// form (IPv4-mapped IPv6 unmapped, as the store keeps addresses).
func parseIP(s string) (string, bool) {
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return "", false
	}
	return a.Unmap().String(), true
}

// nameInfo is what the lists make of one observed name.
type nameInfo struct {
	display string // "" for the empty name (the flow shows dest_ip)
	unicode string // display in Unicode form, "" if the same
	ignored bool
}

// infos evaluates observed names against one version of the lists, each
// name once.
type infos struct {
	lists *lists.Lists
	m     map[string]nameInfo
}

func newInfos(l *lists.Lists) *infos {
	return &infos{lists: l, m: make(map[string]nameInfo)}
}

func (in *infos) get(observed string) nameInfo {
	if ni, ok := in.m[observed]; ok {
		return ni
	}
	display, ignored := in.lists.Lookup(observed)
	ni := nameInfo{display: display, ignored: ignored}
	if u := lists.Unicode(display); u != display {
		ni.unicode = u
	}
	in.m[observed] = ni
	return ni
}

// matches reports whether a flow with this observed name passes the
// hostname name patterns (addresses are matched in SQL).
func (h *hostFilter) matches(observed string, ni nameInfo) bool {
	if observed == "" {
		return false
	}
	cands := [4]string{observed, ni.display, ni.unicode, lists.Unicode(observed)}
	for _, p := range h.names {
		for _, c := range cands {
			if c == "" {
				continue
			}
			c = strings.ToLower(strings.TrimSuffix(c, "."))
			if c == p.name || !p.exact && strings.HasSuffix(c, p.name) && c[len(c)-len(p.name)-1] == '.' {
				return true
			}
		}
	}
	return false
}
