package query

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/pakon/pakon/src/rules"
)

// RuleBook finds rules and classifications to explain alerts;
// *rules.Catalog satisfies it.
type RuleBook interface {
	Lookup(gid, sid uint32) (rules.Rule, bool)
	Class(name string) (rules.Class, bool)
	ClassByDescription(desc string) (rules.Class, bool)
}

var _ RuleBook = (*rules.Catalog)(nil)

// explainWindow is how far around an alert's matches Explain looks for the
// device's flows to the same host.
const explainWindow = 5 * time.Minute

// Explanation says why an alert fired and what it concerns.
type Explanation struct {
	Alert AlertRow `json:"alert"`
	// Summary is one plain sentence: which device did what, which rule
	// says what about it.
	Summary string `json:"summary"`
	// Rule is the rule as found in the rule files; nil with RuleMissing
	// saying why when it is not there (rules updated since, or not
	// readable).
	Rule        *RuleText `json:"rule,omitempty"`
	RuleMissing string    `json:"rule_missing,omitempty"`
	// Class is the rule's classification (its classtype, else the
	// alert's category).
	Class *rules.Class `json:"class,omitempty"`
	// Severity is the alert's severity in words.
	Severity string `json:"severity"`
	// References are the rule's references with their links.
	References []rules.Reference `json:"references"`
	// Flows are the device's flows the alert concerns: the matched flow
	// itself, and flows to the same host around the matches.
	Flows []Row `json:"flows"`
	// Traffic is the selection that shows the device's traffic around the
	// alert (for a link to the traffic view).
	Traffic TrafficLink `json:"traffic"`
}

// RuleText is the part of a rule an explanation shows.
type RuleText struct {
	Text      string              `json:"text"`
	Msg       string              `json:"msg"`
	Classtype string              `json:"classtype,omitempty"`
	Rev       uint32              `json:"rev"`
	Enabled   bool                `json:"enabled"`
	Metadata  map[string][]string `json:"metadata,omitempty"`
	File      string              `json:"file"`
	Line      int                 `json:"line"`
}

// TrafficLink is a flow selection: the device and host around an alert.
type TrafficLink struct {
	Start    float64 `json:"start"`
	End      float64 `json:"end"`
	Device   string  `json:"device"`
	Hostname string  `json:"hostname"`
}

// Explain explains the alert with this id (AlertRow.ID), using book for
// the rule text (nil: no rule files). An unknown id is an *Error with
// CodeNotFound.
func (e *Engine) Explain(ctx context.Context, id int64, book RuleBook) (*Explanation, error) {
	e.refreshNames()
	devs, err := e.loadDeviceNames(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := e.db.SQL().QueryContext(ctx, alertSelect+" WHERE a.key = ?", id)
	if err != nil {
		return nil, fmt.Errorf("explain alert %d: %w", id, err)
	}
	var a AlertRow
	found := false
	if rows.Next() {
		a, err = scanAlert(rows)
		found = err == nil
	}
	rows.Close()
	if err != nil {
		return nil, fmt.Errorf("explain alert %d: %w", id, err)
	}
	if !found {
		return nil, &Error{Code: CodeNotFound, Param: "id", Msg: fmt.Sprintf("no alert %d", id)}
	}
	finishAlert(&a, devs)
	x := &Explanation{Alert: a, Severity: rules.SeverityName(a.Severity), References: []rules.Reference{}, Flows: []Row{}}
	if book != nil {
		if r, ok := book.Lookup(a.GID, a.SID); ok {
			x.Rule = &RuleText{Text: r.Text, Msg: r.Msg, Classtype: r.Classtype, Rev: r.Rev, Enabled: r.Enabled,
				Metadata: r.Metadata, File: r.File, Line: r.Line}
			x.References = append(x.References, r.References...)
			if c, ok := book.Class(r.Classtype); ok {
				x.Class = &c
			}
		} else {
			x.RuleMissing = fmt.Sprintf("rule %d:%d is not in the rule files (updated or removed since the alert)", a.GID, a.SID)
		}
		if x.Class == nil && a.Category != "" {
			if c, ok := book.ClassByDescription(a.Category); ok {
				x.Class = &c
			}
		}
	} else {
		x.RuleMissing = "no rule files configured"
	}
	if x.Class == nil && a.Category != "" {
		x.Class = &rules.Class{Description: a.Category, Priority: a.Severity}
	}
	device := a.MAC
	if device == "" {
		device = a.SrcIP
	}
	from := time.UnixMicro(int64(a.FirstSeen * 1e6)).Add(-explainWindow)
	to := time.UnixMicro(int64(a.LastSeen * 1e6)).Add(explainWindow)
	x.Traffic = TrafficLink{Start: seconds(from), End: seconds(to), Device: device, Hostname: a.Hostname}
	if x.Flows, err = e.alertFlows(ctx, &a, device, from, to); err != nil {
		return nil, err
	}
	x.Summary = summary(&a, x)
	return x, nil
}

// alertFlows finds the flow the latest match was on (by flow_id, while it
// is raw in the live database) and the device's flows to the same host
// around the matches.
func (e *Engine) alertFlows(ctx context.Context, a *AlertRow, device string, from, to time.Time) ([]Row, error) {
	out := []Row{}
	var own Row
	if a.FlowID != 0 {
		err := e.db.SQL().QueryRowContext(ctx, `SELECT f.start, f.end, f.mac, f.src_ip, f.src_port, f.dest_ip, f.dest_port,
			f.proto, f.app_proto, f.observed_name, f.name_source, f.bytes_sent, f.bytes_received, f.active, f.flows
			`+fromFlows+` WHERE f.flow_id = ? ORDER BY f.start DESC LIMIT 1`, a.FlowID).
			Scan(&own.Start, &own.End, &own.MAC, &own.SrcIP, &own.SrcPort, &own.DestIP, &own.DestPort, &own.Proto,
				&own.AppProto, &own.ObservedName, &own.NameSource, &own.BytesSent, &own.BytesReceived, &own.Active, &own.Flows)
		switch {
		case err == nil:
			devs, derr := e.loadDeviceNames(ctx)
			if derr != nil {
				return nil, derr
			}
			(&plan{infos: newInfos(e.Lists()), devs: devs}).finish(&own)
			out = append(out, own)
		case err != sql.ErrNoRows:
			return nil, fmt.Errorf("explain alert: flow %d: %w", a.FlowID, err)
		}
	}
	host := a.Hostname
	if host != a.DestIP {
		host = "=" + host
	}
	res, err := e.Flows(ctx, Params{Start: from, End: to, Devices: []string{device}, Hostnames: []string{host},
		NoFilter: true, Limit: 20})
	if err != nil {
		return nil, err
	}
	for _, r := range res.Rows {
		if len(out) > 0 && r.Start == own.Start && r.SrcPort == own.SrcPort && r.DestIP == own.DestIP {
			continue
		}
		out = append(out, r)
	}
	return out, nil
}

// summary says in one sentence what happened.
func summary(a *AlertRow, x *Explanation) string {
	dev := a.MAC
	if a.Device != nil {
		dev = fmt.Sprintf("%s (%s)", *a.Device, a.MAC)
	}
	if dev == "" {
		dev = a.SrcIP
	}
	var did string
	switch {
	case a.Inbound:
		did = fmt.Sprintf("was contacted by %s", a.DestIP)
	case a.NameSource == "dns" && a.AppProto == "dns":
		did = fmt.Sprintf("looked up %s", a.Hostname)
	case a.Hostname != a.DestIP:
		did = fmt.Sprintf("connected to %s (%s)", a.Hostname, a.DestIP)
	default:
		did = fmt.Sprintf("connected to %s", a.DestIP)
	}
	times := "once"
	if a.Count > 1 {
		times = fmt.Sprintf("%d times", a.Count)
	}
	why := a.Signature
	if x.Rule != nil && x.Rule.Msg != "" {
		why = x.Rule.Msg
	}
	s := fmt.Sprintf("%s %s; rule %d (%q) matched %s", dev, did, a.SID, why, times)
	if x.Class != nil && x.Class.Description != "" {
		s += fmt.Sprintf(": %s", strings.TrimSuffix(x.Class.Description, "."))
	}
	return s + fmt.Sprintf(", %s severity.", x.Severity)
}
