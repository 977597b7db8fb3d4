package ubusapi

import (
	"context"
	"math"
	"time"

	"github.com/pakon/pakon/src/query"
	"github.com/pakon/pakon/src/ubus"
)

// defaultAlertRange is the alerts method's range when no start is given:
// alerts are rare and kept long, so a week rather than a day.
const defaultAlertRange = 7 * 24 * time.Hour

// AlertBackend is what the alert methods need beyond the query engine.
type AlertBackend interface {
	// RuleBook finds the rules that explain alerts; nil when there are no
	// rule files.
	RuleBook() query.RuleBook
	// AlertRules describes the rule sources and their last update.
	AlertRules(ctx context.Context) (any, error)
}

var alertsSig = []ubus.Arg{
	{Name: "start", Type: ubus.TypeString}, {Name: "end", Type: ubus.TypeString},
	{Name: "devices", Type: ubus.TypeArray}, {Name: "hostnames", Type: ubus.TypeArray},
	{Name: "severity", Type: ubus.TypeArray}, {Name: "sid", Type: ubus.TypeArray},
	{Name: "engine", Type: ubus.TypeBool}, {Name: "id", Type: ubus.TypeInt64},
	{Name: "sort", Type: ubus.TypeString}, {Name: "desc", Type: ubus.TypeBool},
	{Name: "limit", Type: ubus.TypeInt32}, {Name: "offset", Type: ubus.TypeInt32},
}

// alerts lists alerts, or explains one when id is given.
func (s *Service) alerts(ctx context.Context, req *ubus.Request) (any, error) {
	a := newArgs(req.Args, s.now())
	if a.has("id") {
		id := a.int64("id")
		if a.err != nil {
			return nil, a.err
		}
		var book query.RuleBook
		if s.Alerts != nil {
			book = s.Alerts.RuleBook()
		}
		x, err := s.Engine.Explain(ctx, id, book)
		if err != nil {
			return nil, replyErr(err)
		}
		return x, nil
	}
	p := query.AlertParams{
		Start:      a.time("start"),
		End:        a.time("end"),
		Devices:    append(a.strings("devices"), a.strings("device")...),
		Hostnames:  append(a.strings("hostnames"), a.strings("hostname")...),
		Severities: a.ints("severity", 1, 255),
		SIDs:       a.ints("sid", 1, math.MaxInt32),
		Engine:     a.boolean("engine", false),
		Sort:       a.str("sort", ""),
		Desc:       a.boolean("desc", false),
		Limit:      a.integer("limit", DefaultLimit, 1, MaxLimit),
		Offset:     a.integer("offset", 0, 0, math.MaxInt32),
	}
	if p.Start.IsZero() && !a.has("start") {
		p.Start = a.now.Add(-defaultAlertRange)
	}
	if a.err != nil {
		return nil, a.err
	}
	res, err := s.Engine.Alerts(ctx, p)
	if err != nil {
		return nil, replyErr(err)
	}
	return res, nil
}

func (s *Service) alertRules(ctx context.Context, req *ubus.Request) (any, error) {
	if s.Alerts == nil {
		return map[string]any{"sources": []string{}, "files": []any{}, "status": map[string]any{"ok": false, "message": "rules are not configured"}}, nil
	}
	return s.Alerts.AlertRules(ctx)
}

// int64 reads an integer that may exceed 32 bits (alert ids).
func (a *args) int64(name string) int64 {
	switch v := a.m[name].(type) {
	case int64:
		return v
	case float64:
		if v == math.Trunc(v) && math.Abs(v) < 1<<53 {
			return int64(v)
		}
	}
	a.fail(name, "want an integer, got %v", a.m[name])
	return 0
}
