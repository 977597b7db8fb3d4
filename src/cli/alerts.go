package cli

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/pakon/pakon/src/query"
)

// WriteAlertsTable writes alerts: last match, severity, count, device,
// host, signature id and message.
func WriteAlertsTable(w io.Writer, res *query.AlertResult, opts TableOptions) error {
	if len(res.Rows) == 0 {
		_, err := fmt.Fprintln(w, NoRecords)
		return err
	}
	t := table{cols: []column{
		{title: "Last", trim: 5}, {title: "Severity"}, {title: "Count", right: true},
		{title: "Device", shrink: elideRight, min: 12}, {title: "Hostname", shrink: elideLeft, min: 16},
		{title: "SID", drop: 2}, {title: "ID", drop: 1}, {title: "Signature", shrink: elideRight, min: 20},
	}}
	for i := range res.Rows {
		a := &res.Rows[i]
		dev := a.MAC
		if a.Device != nil {
			dev = printable(*a.Device)
		} else if dev == "" {
			dev = a.SrcIP
		}
		h := a.Hostname
		if a.HostnameUnicode != "" {
			h = a.HostnameUnicode
		}
		if a.Inbound {
			h = "← " + h
		}
		t.add(opts.time(a.LastSeen), a.SeverityName, strconv.FormatInt(a.Count, 10), dev, printable(h),
			strconv.FormatUint(uint64(a.SID), 10), strconv.FormatInt(a.ID, 10), printable(a.Signature))
	}
	return t.write(w, opts.Width)
}

// WriteAlertsCSV writes alerts as CSV with a header row.
func WriteAlertsCSV(w io.Writer, res *query.AlertResult) error {
	cw := newCSV(w)
	cw.Write([]string{"id", "first_seen", "last_seen", "count", "mac", "device", "src_ip", "dest_ip", "dest_port",
		"proto", "app_proto", "hostname", "inbound", "gid", "sid", "rev", "signature", "category", "severity",
		"severity_name", "action", "engine"})
	for _, a := range res.Rows {
		cw.Write([]string{strconv.FormatInt(a.ID, 10), isoTime(a.FirstSeen), isoTime(a.LastSeen), strconv.FormatInt(a.Count, 10),
			a.MAC, deref(a.Device), a.SrcIP, a.DestIP, strconv.Itoa(a.DestPort), a.Proto, a.AppProto, a.Hostname,
			strconv.FormatBool(a.Inbound), strconv.FormatUint(uint64(a.GID), 10), strconv.FormatUint(uint64(a.SID), 10),
			strconv.FormatUint(uint64(a.Rev), 10), a.Signature, a.Category, strconv.Itoa(a.Severity), a.SeverityName,
			a.Action, strconv.FormatBool(a.Engine)})
	}
	cw.Flush()
	return cw.Error()
}

// WriteExplanation writes an alert's explanation as text: the summary,
// the rule, its classification and references, and the flows it concerns.
func WriteExplanation(w io.Writer, x *query.Explanation, opts TableOptions) error {
	var b strings.Builder
	a := &x.Alert
	fmt.Fprintf(&b, "%s\n\n", x.Summary)
	fmt.Fprintf(&b, "Alert:     %s, %d:%d rev %d, %s\n", printable(a.Signature), a.GID, a.SID, a.Rev, x.Severity)
	fmt.Fprintf(&b, "Seen:      %s .. %s, %d times\n", opts.time(a.FirstSeen), opts.time(a.LastSeen), a.Count)
	fmt.Fprintf(&b, "Endpoints: %s:%d → %s:%d %s", a.SrcIP, a.SrcPort, a.DestIP, a.DestPort, a.Proto)
	if a.Inbound {
		b.WriteString(" (started by the remote side)")
	}
	b.WriteString("\n")
	if x.Class != nil {
		fmt.Fprintf(&b, "Class:     %s", printable(x.Class.Description))
		if x.Class.Name != "" {
			fmt.Fprintf(&b, " (%s, priority %d)", x.Class.Name, x.Class.Priority)
		}
		b.WriteString("\n")
	}
	if x.Rule != nil {
		fmt.Fprintf(&b, "Rule:      %s:%d\n  %s\n", x.Rule.File, x.Rule.Line, printable(x.Rule.Text))
		if !x.Rule.Enabled {
			b.WriteString("  (disabled in the rule file now)\n")
		}
	} else if x.RuleMissing != "" {
		fmt.Fprintf(&b, "Rule:      %s\n", x.RuleMissing)
	}
	for _, r := range x.References {
		link := r.URL
		if link == "" {
			link = r.Type + "," + r.Value
		}
		fmt.Fprintf(&b, "Reference: %s\n", printable(link))
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	if len(x.Flows) == 0 {
		_, err := fmt.Fprintln(w, "\nNo stored flows of the device to this host around the alert.")
		return err
	}
	fmt.Fprintln(w, "\nFlows:")
	return WriteTable(w, &query.Result{Rows: x.Flows, Total: len(x.Flows)}, opts)
}
