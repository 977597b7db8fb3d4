// Package query answers questions about stored flows: which flows overlap a
// time range, for which devices and hosts, paged and sorted. The CLI, ubus
// and the web page all go through it.
package query

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/pakon/pakon/src/store"
)

// Params select and order flows. Zero values mean "no restriction".
type Params struct {
	// From and To select flows that overlap [From, To]: a flow that
	// started before From but was still running counts.
	From, To time.Time
	// MACs restricts to these devices (lower-case, colon-separated).
	MACs []string
	// ActiveOnly keeps only flows still in progress.
	ActiveOnly bool
	// Limit and Offset page the rows; Limit 0 means all.
	Limit, Offset int
	// Sort is a column name (start, end, duration, bytes, …); Desc
	// reverses it. Default: start, oldest first.
	Sort string
	Desc bool
}

// Row is one flow as shown to users. JSON names are the documented contract
// of `pakon show -j` and the ubus query method.
type Row struct {
	Start         float64 `json:"start"`
	End           float64 `json:"end"`
	Duration      float64 `json:"duration"`
	MAC           string  `json:"mac"`
	Device        *string `json:"device"`
	SrcIP         string  `json:"src_ip"`
	SrcPort       int     `json:"src_port"`
	DestIP        string  `json:"dest_ip"`
	DestPort      int     `json:"dest_port"`
	Proto         string  `json:"proto"`
	AppProto      string  `json:"app_proto"`
	Hostname      string  `json:"hostname"`
	ObservedName  string  `json:"observed_name"`
	NameSource    string  `json:"name_source"`
	BytesSent     int64   `json:"bytes_sent"`
	BytesReceived int64   `json:"bytes_received"`
	Active        bool    `json:"active"`
	Flows         int     `json:"flows"`
}

// Result is a page of rows and the number of rows matching in all.
type Result struct {
	Rows  []Row `json:"rows"`
	Total int   `json:"total"`
}

var sortColumns = map[string]string{
	"start":    "f.start",
	"end":      "f.end",
	"duration": "(f.end - f.start)",
	"bytes":    "(f.bytes_sent + f.bytes_received)",
	"sent":     "f.bytes_sent",
	"received": "f.bytes_received",
	"mac":      "f.mac",
	"hostname": "f.observed_name",
	"port":     "f.dest_port",
}

// SortKeys lists the accepted Sort values.
func SortKeys() []string {
	return []string{"start", "end", "duration", "bytes", "sent", "received", "mac", "hostname", "port"}
}

// where builds the filter; every value is a bound parameter.
func (p *Params) where() (string, []any) {
	var conds []string
	var args []any
	if !p.From.IsZero() {
		conds = append(conds, "f.end >= ?")
		args = append(args, seconds(p.From))
	}
	if !p.To.IsZero() {
		conds = append(conds, "f.start <= ?")
		args = append(args, seconds(p.To))
	}
	if len(p.MACs) > 0 {
		conds = append(conds, "f.mac IN ("+placeholders(len(p.MACs))+")")
		for _, m := range p.MACs {
			args = append(args, m)
		}
	}
	if p.ActiveOnly {
		conds = append(conds, "f.active = 1")
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

func seconds(t time.Time) float64 { return float64(t.UnixMicro()) / 1e6 }

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

// Flows returns the flows matching p.
func Flows(ctx context.Context, db *store.DB, p Params) (*Result, error) {
	order := "f.start"
	if p.Sort != "" {
		col, ok := sortColumns[p.Sort]
		if !ok {
			return nil, fmt.Errorf("sort: unknown key %q (want one of %s)", p.Sort, strings.Join(SortKeys(), ", "))
		}
		order = col
	}
	dir := "ASC"
	if p.Desc {
		dir = "DESC"
	}
	where, args := p.where()
	res := &Result{Rows: []Row{}}
	if err := db.SQL().QueryRowContext(ctx, "SELECT count(*) FROM "+store.AllFlows+" f"+where, args...).Scan(&res.Total); err != nil {
		return nil, fmt.Errorf("count flows: %w", err)
	}
	q := `SELECT f.start, f.end, f.mac, d.dhcp_name, f.src_ip, f.src_port, f.dest_ip, f.dest_port,
		f.proto, f.app_proto, f.observed_name, f.name_source, f.bytes_sent, f.bytes_received, f.active, f.flows
		FROM ` + store.AllFlows + ` f LEFT JOIN devices d ON d.mac = f.mac` + where +
		" ORDER BY " + order + " " + dir + ", f.id " + dir
	if p.Limit > 0 {
		q += " LIMIT ? OFFSET ?"
		args = append(args, p.Limit, max(p.Offset, 0))
	} else if p.Offset > 0 {
		q += " LIMIT -1 OFFSET ?"
		args = append(args, p.Offset)
	}
	rows, err := db.SQL().QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("query flows: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r Row
		var name sql.NullString
		if err := rows.Scan(&r.Start, &r.End, &r.MAC, &name, &r.SrcIP, &r.SrcPort, &r.DestIP, &r.DestPort,
			&r.Proto, &r.AppProto, &r.ObservedName, &r.NameSource, &r.BytesSent, &r.BytesReceived, &r.Active, &r.Flows); err != nil {
			return nil, fmt.Errorf("query flows: %w", err)
		}
		if name.Valid && name.String != "" {
			r.Device = &name.String
		}
		r.Duration = r.End - r.Start
		r.Hostname = r.ObservedName
		res.Rows = append(res.Rows, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query flows: %w", err)
	}
	return res, nil
}
