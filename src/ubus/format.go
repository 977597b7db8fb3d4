package ubus

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// FormatJSON renders v the way the ubus CLI prints blobmsg data
// (libubox blobmsg_format_json): with indent as `ubus call` prints a reply
// (tabs, ": " after names), without as `ubus listen` prints an event
// payload. Tables and arrays print as lists, Int8 as true/false, doubles
// with C's "%lf", strings are cut at the first NUL like the C string they
// are. The output is what a router shows, byte for byte, so golden files
// can hold real CLI output.
func FormatJSON(v Value, indent bool) string {
	f := cliFormatter{indent: indent}
	switch x := v.(type) {
	case Table:
		f.list(x, nil)
	case Array:
		f.list(nil, x)
	default:
		f.element("", v, true)
	}
	return f.b.String()
}

type cliFormatter struct {
	b      strings.Builder
	indent bool
	level  int
}

func (f *cliFormatter) separator() {
	if !f.indent {
		return
	}
	// add_separator writes "\n" plus one tab per level, capped at 16 tabs.
	f.b.WriteByte('\n')
	f.b.WriteString(strings.Repeat("\t", min(f.level, 16)))
}

func (f *cliFormatter) list(t Table, a Array) {
	open, end := byte('{'), byte('}')
	n := len(t)
	if a != nil {
		open, end = '[', ']'
		n = len(a)
	}
	f.b.WriteByte(open)
	f.level++
	f.separator()
	for i := range n {
		if i > 0 {
			f.b.WriteByte(',')
			f.separator()
		}
		if a != nil {
			f.element("", a[i], true)
		} else {
			f.element(t[i].Name, t[i].Value, false)
		}
	}
	f.level--
	f.separator()
	f.b.WriteByte(end)
}

func (f *cliFormatter) element(name string, v Value, withoutName bool) {
	if !withoutName && cString(name) != "" {
		f.str(name)
		if f.indent {
			f.b.WriteString(": ")
		} else {
			f.b.WriteByte(':')
		}
	}
	switch x := v.(type) {
	case Int8:
		f.b.WriteString(strconv.FormatBool(x != 0))
	case Int16:
		f.b.WriteString(strconv.FormatInt(int64(x), 10))
	case Int32:
		f.b.WriteString(strconv.FormatInt(int64(x), 10))
	case Int64:
		f.b.WriteString(strconv.FormatInt(int64(x), 10))
	case Double:
		f.b.WriteString(formatDouble(float64(x)))
	case String:
		f.str(string(x))
	case Array:
		f.list(nil, x)
	case Table:
		f.list(x, nil)
	default:
		f.b.WriteString("null")
	}
}

// str writes s quoted like blobmsg_format_string.
func (f *cliFormatter) str(s string) {
	s = cString(s)
	f.b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '\b':
			f.b.WriteString(`\b`)
		case '\n':
			f.b.WriteString(`\n`)
		case '\t':
			f.b.WriteString(`\t`)
		case '\r':
			f.b.WriteString(`\r`)
		case '"', '\\':
			f.b.WriteByte('\\')
			f.b.WriteByte(c)
		default:
			if c < ' ' {
				fmt.Fprintf(&f.b, `\u00%02x`, c)
			} else {
				f.b.WriteByte(c)
			}
		}
	}
	f.b.WriteByte('"')
}

func cString(s string) string {
	if i := strings.IndexByte(s, 0); i >= 0 {
		return s[:i]
	}
	return s
}

// formatDouble is C's "%lf", including glibc's spelling of NaN and infinity.
func formatDouble(x float64) string {
	switch {
	case math.IsNaN(x):
		if math.Signbit(x) {
			return "-nan"
		}
		return "nan"
	case math.IsInf(x, 1):
		return "inf"
	case math.IsInf(x, -1):
		return "-inf"
	}
	return strconv.FormatFloat(x, 'f', 6, 64)
}
