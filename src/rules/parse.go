package rules

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrNotRule is returned by Parse for lines that are not rules (blank
// lines and comments).
var ErrNotRule = errors.New("not a rule")

// Parse parses one line of a rule file. A rule commented out with "#" is
// parsed with Enabled false; other comments and blank lines give
// ErrNotRule.
func Parse(line string) (Rule, error) {
	var r Rule
	s := strings.TrimSpace(line)
	r.Enabled = true
	if strings.HasPrefix(s, "#") {
		r.Enabled = false
		s = strings.TrimSpace(strings.TrimLeft(s, "#"))
	}
	if s == "" {
		return r, ErrNotRule
	}
	open := strings.IndexByte(s, '(')
	if open < 0 || !strings.HasSuffix(s, ")") {
		return r, ErrNotRule
	}
	head := strings.Fields(s[:open])
	if len(head) == 0 || !isAction(head[0]) {
		return r, ErrNotRule
	}
	r.Action, r.Header, r.Text = head[0], strings.Join(head[1:], " "), s
	r.GID = 1
	opts, err := splitOptions(s[open+1 : len(s)-1])
	if err != nil {
		return r, err
	}
	for _, o := range opts {
		switch o.key {
		case "msg":
			r.Msg = unquote(o.val)
		case "sid":
			n, err := strconv.ParseUint(o.val, 10, 32)
			if err != nil {
				return r, fmt.Errorf("sid %q: %w", o.val, err)
			}
			r.SID = uint32(n)
		case "gid":
			n, err := strconv.ParseUint(o.val, 10, 32)
			if err != nil {
				return r, fmt.Errorf("gid %q: %w", o.val, err)
			}
			r.GID = uint32(n)
		case "rev":
			n, _ := strconv.ParseUint(o.val, 10, 32)
			r.Rev = uint32(n)
		case "classtype":
			r.Classtype = o.val
		case "priority":
			r.Priority, _ = strconv.Atoi(o.val)
		case "reference":
			typ, val, ok := strings.Cut(o.val, ",")
			if ok {
				r.References = append(r.References, Reference{Type: strings.TrimSpace(typ), Value: strings.TrimSpace(val)})
			}
		case "metadata":
			for _, kv := range strings.Split(o.val, ",") {
				k, v, _ := strings.Cut(strings.TrimSpace(kv), " ")
				if k == "" {
					continue
				}
				if r.Metadata == nil {
					r.Metadata = map[string][]string{}
				}
				r.Metadata[k] = append(r.Metadata[k], strings.TrimSpace(v))
			}
		}
	}
	if r.SID == 0 {
		return r, errors.New("rule without sid")
	}
	return r, nil
}

func isAction(s string) bool {
	switch s {
	case "alert", "drop", "pass", "reject", "rejectsrc", "rejectdst", "rejectboth", "config":
		return true
	}
	return false
}

type option struct{ key, val string }

// splitOptions splits "k: v; k2; k3: \"a;b\";" on unescaped semicolons
// outside quotes.
func splitOptions(s string) ([]option, error) {
	var out []option
	var cur strings.Builder
	quoted, escaped := false, false
	flush := func() {
		part := strings.TrimSpace(cur.String())
		cur.Reset()
		if part == "" {
			return
		}
		k, v, _ := strings.Cut(part, ":")
		out = append(out, option{key: strings.TrimSpace(k), val: strings.TrimSpace(v)})
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case escaped:
			escaped = false
			cur.WriteByte(c)
			continue
		case c == '\\':
			escaped = true
			cur.WriteByte(c)
			continue
		case c == '"':
			quoted = !quoted
		case c == ';' && !quoted:
			flush()
			continue
		}
		cur.WriteByte(c)
	}
	if quoted {
		return nil, errors.New("unterminated quote in rule options")
	}
	flush()
	return out, nil
}

// unquote removes the quotes of a msg and its backslash escapes.
func unquote(s string) string {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
