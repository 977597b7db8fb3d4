package ubusapi

import (
	"fmt"
	"math"
	"time"

	"github.com/pakon/pakon/src/cli"
	"github.com/pakon/pakon/src/query"
	"github.com/pakon/pakon/src/ubus"
)

// args reads a call's arguments. Unknown keys (LuCI adds
// ubus_rpc_session) are ignored; the first wrong type or value is kept and
// reported as INVALID_ARGUMENT naming the argument.
type args struct {
	m   map[string]any
	now time.Time
	err error
}

func newArgs(t ubus.Table, now time.Time) *args {
	return &args{m: t.Map(), now: now}
}

func (a *args) fail(name, format string, v ...any) {
	if a.err == nil {
		a.err = ubus.Errorf(ubus.StatusInvalidArgument, "%s: %s", name, fmt.Sprintf(format, v...))
	}
}

func (a *args) has(name string) bool {
	_, ok := a.m[name]
	return ok
}

// time reads epoch seconds or a string in pakon-show's time syntax.
func (a *args) time(name string) time.Time {
	switch v := a.m[name].(type) {
	case nil:
		return time.Time{}
	case int64:
		return a.epoch(name, float64(v))
	case float64:
		return a.epoch(name, v)
	case string:
		t, err := cli.ParseTime(v, a.now, time.Local)
		if err != nil {
			a.fail(name, "%v", err)
		}
		return t
	default:
		a.fail(name, "want epoch seconds or a time string, got %s", typeName(v))
		return time.Time{}
	}
}

func (a *args) epoch(name string, sec float64) time.Time {
	if math.IsNaN(sec) || sec < 0 || sec > 1e11 {
		a.fail(name, "epoch seconds %v out of range", sec)
		return time.Time{}
	}
	return time.UnixMicro(int64(sec * 1e6))
}

// strings reads a string or an array of strings.
func (a *args) strings(name string) []string {
	switch v := a.m[name].(type) {
	case nil:
		return nil
	case string:
		if v == "" {
			return nil
		}
		return []string{v}
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				a.fail(name, "want strings, got %s in the array", typeName(e))
				return nil
			}
			out = append(out, s)
		}
		return out
	default:
		a.fail(name, "want a string or an array of strings, got %s", typeName(v))
		return nil
	}
}

func (a *args) str(name, def string) string {
	switch v := a.m[name].(type) {
	case nil:
		return def
	case string:
		return v
	default:
		a.fail(name, "want a string, got %s", typeName(v))
		return def
	}
}

func (a *args) boolean(name string, def bool) bool {
	switch v := a.m[name].(type) {
	case nil:
		return def
	case bool:
		return v
	case int64: // some callers send 0/1
		if v == 0 || v == 1 {
			return v == 1
		}
	}
	a.fail(name, "want a boolean, got %v", a.m[name])
	return def
}

func (a *args) integer(name string, def, lo, hi int) int {
	var n int64
	switch v := a.m[name].(type) {
	case nil:
		return def
	case int64:
		n = v
	case float64:
		if v != math.Trunc(v) {
			a.fail(name, "want an integer, got %v", v)
			return def
		}
		n = int64(v)
	default:
		a.fail(name, "want an integer, got %s", typeName(v))
		return def
	}
	if n < int64(lo) || n > int64(hi) {
		a.fail(name, "%d out of range %d-%d", n, lo, hi)
		return def
	}
	return int(n)
}

// ints reads an integer or an array of integers.
func (a *args) ints(name string, lo, hi int) []int {
	v, ok := a.m[name]
	if !ok || v == nil {
		return nil
	}
	list, isList := v.([]any)
	if !isList {
		list = []any{v}
	}
	out := make([]int, 0, len(list))
	for _, e := range list {
		n, ok := e.(int64)
		if !ok || n < int64(lo) || n > int64(hi) {
			a.fail(name, "want integers %d-%d, got %v", lo, hi, e)
			return nil
		}
		out = append(out, int(n))
	}
	return out
}

func typeName(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case int64, float64:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case map[string]any:
		return "a table"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}

// Limits of paged replies: every reply stays well under ubus's 1 MiB.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// params reads the selection shared by the read methods. defaultRange,
// when non-zero, applies when start is not given (the last day, say).
func (a *args) params(defaultRange time.Duration) query.Params {
	p := query.Params{
		Start:     a.time("start"),
		End:       a.time("end"),
		Devices:   a.strings("devices"),
		Hostnames: a.strings("hostnames"),
		AppProtos: a.strings("app_proto"),
		DestPorts: a.ints("dest_port", 0, 65535),
		Protos:    a.strings("proto"),
		Active:    a.boolean("active", false),
		NoFilter:  !a.boolean("filter", true),
		Sort:      a.str("sort", ""),
		Desc:      a.boolean("desc", false),
		Limit:     a.integer("limit", DefaultLimit, 1, MaxLimit),
		Offset:    a.integer("offset", 0, 0, math.MaxInt32),
	}
	if a.has("device") { // the singular, as scripts tend to write it
		p.Devices = append(p.Devices, a.strings("device")...)
	}
	if a.has("hostname") {
		p.Hostnames = append(p.Hostnames, a.strings("hostname")...)
	}
	if p.Start.IsZero() && defaultRange > 0 && !a.has("start") {
		p.Start = a.now.Add(-defaultRange)
	}
	if !p.Start.IsZero() && !p.End.IsZero() && p.End.Before(p.Start) {
		a.fail("end", "%s is before start %s", p.End.UTC().Format(time.RFC3339), p.Start.UTC().Format(time.RFC3339))
	}
	return p
}
