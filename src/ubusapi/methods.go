// Package ubusapi is pakon's ubus object: the method table LuCI (through
// rpcd) and scripts (`ubus call pakon …`) use, argument checking, and the
// mapping of errors to ubus statuses. docs/ubus-api.md is its contract.
//
// It is kept apart from src/ubus, which stays a generic ubus client.
package ubusapi

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pakon/pakon/src/config"
	"github.com/pakon/pakon/src/query"
	"github.com/pakon/pakon/src/store"
	"github.com/pakon/pakon/src/ubus"
)

// ObjectName is the ubus object pakon registers.
const ObjectName = "pakon"

// Defaults of the read methods' time range when no start is given.
const (
	defaultQueryRange = 24 * time.Hour
	defaultChartRange = 24 * time.Hour
)

// Backend is what the methods need from the daemon beyond the query engine.
type Backend interface {
	// Status describes the daemon (see docs/ubus-api.md).
	Status(ctx context.Context) (any, error)
	// SetDeviceName stores a user-given name; "" removes it.
	SetDeviceName(ctx context.Context, mac, name string) error
	// Clear deletes stored flows.
	Clear(ctx context.Context, f store.ClearFilter) (store.ClearStats, error)
	// Reload re-reads configuration, device names and domain lists.
	Reload(ctx context.Context) error
}

// Service answers pakon's methods.
type Service struct {
	Engine  *query.Engine
	Backend Backend
	// Alerts serves rule texts and the rule status to the alert methods;
	// nil explains alerts without rule text and reports no rules.
	Alerts AlertBackend
	// Now is the clock for relative times; nil means time.Now.
	Now func() time.Time
	// Writers decides from the caller's user and group (as ubusd found
	// them) who may call the write methods; nil lets only root (see
	// MayWrite). It is asked on every call, so it may follow reloads.
	Writers func(user, group string) bool
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Signature types shown by `ubus -v list pakon`.
var (
	selection = []ubus.Arg{
		{Name: "start", Type: ubus.TypeString}, {Name: "end", Type: ubus.TypeString},
		{Name: "devices", Type: ubus.TypeArray}, {Name: "hostnames", Type: ubus.TypeArray},
		{Name: "app_proto", Type: ubus.TypeString}, {Name: "dest_port", Type: ubus.TypeInt32},
		{Name: "proto", Type: ubus.TypeString}, {Name: "active", Type: ubus.TypeBool},
		{Name: "filter", Type: ubus.TypeBool},
	}
	paging = []ubus.Arg{
		{Name: "sort", Type: ubus.TypeString}, {Name: "desc", Type: ubus.TypeBool},
		{Name: "limit", Type: ubus.TypeInt32}, {Name: "offset", Type: ubus.TypeInt32},
	}
)

func sig(parts ...[]ubus.Arg) []ubus.Arg {
	var out []ubus.Arg
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// ReadMethods and WriteMethods split the methods as the rpcd ACL does.
var (
	ReadMethods  = []string{"query", "devices", "top", "histogram", "status", "alerts", "alert_rules"}
	WriteMethods = []string{"set_device_name", "clear", "reload"}
)

// Object returns the ubus object with every method; the write methods
// refuse callers that Writers refuses with PERMISSION_DENIED.
func (s *Service) Object() *ubus.Object {
	return s.guardWrites(&ubus.Object{Name: ObjectName, Methods: []ubus.Method{
		{Name: "query", Handler: s.query, Signature: sig(selection,
			[]ubus.Arg{{Name: "aggregate", Type: ubus.TypeBool}}, paging)},
		{Name: "devices", Handler: s.devices, Signature: sig(selection, paging)},
		{Name: "top", Handler: s.top, Signature: sig(selection, []ubus.Arg{
			{Name: "by", Type: ubus.TypeString}, {Name: "metric", Type: ubus.TypeString}, {Name: "limit", Type: ubus.TypeInt32}})},
		{Name: "histogram", Handler: s.histogram, Signature: sig(selection, []ubus.Arg{
			{Name: "bucket", Type: ubus.TypeInt32}, {Name: "group", Type: ubus.TypeString}, {Name: "series", Type: ubus.TypeInt32}})},
		{Name: "status", Handler: s.status},
		{Name: "alerts", Handler: s.alerts, Signature: alertsSig},
		{Name: "alert_rules", Handler: s.alertRules},
		{Name: "set_device_name", Handler: s.setDeviceName, Signature: []ubus.Arg{
			{Name: "mac", Type: ubus.TypeString}, {Name: "name", Type: ubus.TypeString}}},
		{Name: "clear", Handler: s.clear, Signature: []ubus.Arg{
			{Name: "all", Type: ubus.TypeBool}, {Name: "devices", Type: ubus.TypeArray}, {Name: "before", Type: ubus.TypeString}}},
		{Name: "reload", Handler: s.reload},
	}})
}

// replyErr maps engine errors to ubus statuses.
func replyErr(err error) error {
	var qe *query.Error
	if errors.As(err, &qe) {
		status := ubus.StatusInvalidArgument
		if qe.Code == query.CodeNotFound {
			status = ubus.StatusNotFound
		}
		return ubus.Errorf(status, "%s", qe.Error())
	}
	return err
}

func (s *Service) query(ctx context.Context, req *ubus.Request) (any, error) {
	a := newArgs(req.Args, s.now())
	p := a.params(defaultQueryRange)
	aggregate := a.boolean("aggregate", false)
	if a.err != nil {
		return nil, a.err
	}
	var res *query.Result
	var err error
	if aggregate {
		res, err = s.Engine.Aggregate(ctx, p)
	} else {
		res, err = s.Engine.Flows(ctx, p)
	}
	if err != nil {
		return nil, replyErr(err)
	}
	return res, nil
}

func (s *Service) devices(ctx context.Context, req *ubus.Request) (any, error) {
	a := newArgs(req.Args, s.now())
	p := a.params(0)
	if a.err != nil {
		return nil, a.err
	}
	res, err := s.Engine.Devices(ctx, p)
	if err != nil {
		return nil, replyErr(err)
	}
	return res, nil
}

func (s *Service) top(ctx context.Context, req *ubus.Request) (any, error) {
	a := newArgs(req.Args, s.now())
	p := query.TopParams{Params: a.params(defaultChartRange)}
	p.By = a.str("by", query.ByHostname)
	p.Metric = a.str("metric", query.MetricBytes)
	p.N = a.integer("limit", 10, 1, MaxLimit)
	p.Limit, p.Offset = 0, 0
	if a.err != nil {
		return nil, a.err
	}
	res, err := s.Engine.Top(ctx, p)
	if err != nil {
		return nil, replyErr(err)
	}
	return res, nil
}

func (s *Service) histogram(ctx context.Context, req *ubus.Request) (any, error) {
	a := newArgs(req.Args, s.now())
	p := query.HistogramParams{Params: a.params(defaultChartRange)}
	p.Bucket = time.Duration(a.integer("bucket", 0, 0, 366*86400)) * time.Second
	p.By = a.str("group", "")
	if p.By == "none" {
		p.By = ""
	}
	p.Series = a.integer("series", 0, 0, 100)
	p.Limit, p.Offset = 0, 0
	if a.err != nil {
		return nil, a.err
	}
	res, err := s.Engine.Histogram(ctx, p)
	if err != nil {
		return nil, replyErr(err)
	}
	return res, nil
}

func (s *Service) status(ctx context.Context, req *ubus.Request) (any, error) {
	return s.Backend.Status(ctx)
}

func (s *Service) setDeviceName(ctx context.Context, req *ubus.Request) (any, error) {
	a := newArgs(req.Args, s.now())
	mac := a.str("mac", "")
	name := strings.TrimSpace(a.str("name", ""))
	if a.err != nil {
		return nil, a.err
	}
	norm, err := config.NormalizeMAC(mac)
	if err != nil {
		return nil, ubus.Errorf(ubus.StatusInvalidArgument, "mac: invalid MAC address %q", mac)
	}
	if name != "" {
		if err := config.CheckDeviceName(name); err != nil {
			return nil, ubus.Errorf(ubus.StatusInvalidArgument, "name: %v", err)
		}
	}
	if err := s.Backend.SetDeviceName(ctx, norm, name); err != nil {
		return nil, err
	}
	return map[string]any{"mac": norm, "name": name}, nil
}

func (s *Service) clear(ctx context.Context, req *ubus.Request) (any, error) {
	a := newArgs(req.Args, s.now())
	all := a.boolean("all", false)
	devices := a.strings("devices")
	before := a.time("before")
	if a.err != nil {
		return nil, a.err
	}
	if !all && len(devices) == 0 && before.IsZero() {
		return nil, ubus.Errorf(ubus.StatusInvalidArgument, "clear: give all, devices or before")
	}
	if all && (len(devices) > 0 || !before.IsZero()) {
		return nil, ubus.Errorf(ubus.StatusInvalidArgument, "all: not together with devices or before")
	}
	filters := []store.ClearFilter{{Before: before}}
	if len(devices) > 0 {
		filters = filters[:0]
		for _, d := range devices {
			mac, err := config.NormalizeMAC(d)
			if err != nil {
				return nil, ubus.Errorf(ubus.StatusInvalidArgument, "devices: invalid MAC address %q", d)
			}
			filters = append(filters, store.ClearFilter{MAC: mac, Before: before})
		}
	}
	var deleted int64
	for _, f := range filters {
		st, err := s.Backend.Clear(ctx, f)
		if err != nil {
			return nil, fmt.Errorf("clear: %w", err)
		}
		deleted += st.LiveFlows + st.ArchivedRows + st.Alerts
	}
	return map[string]any{"deleted": deleted}, nil
}

func (s *Service) reload(ctx context.Context, req *ubus.Request) (any, error) {
	if err := s.Backend.Reload(ctx); err != nil {
		return nil, err
	}
	return map[string]any{}, nil
}
