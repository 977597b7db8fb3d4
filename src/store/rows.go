package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"net/netip"

	"github.com/mattn/go-sqlite3"

	"github.com/pakon/pakon/src/flow"
)

// flowWriter writes a batch's flows through the driver's statements
// directly. database/sql costs several allocations and a context watch per
// statement, and the driver runs a statement whose context can be cancelled
// on a goroutine of its own: at a hundred thousand flows a second that is
// more than SQLite's own work. The batch's transaction, begun through
// database/sql on the same connection, still bounds it in time.
type flowWriter struct {
	insert, complete, discard driver.StmtExecContext
	closers                   []driver.Stmt
	args                      [18]driver.NamedValue
	// ips holds the text of recent addresses: a home's devices repeat
	// all day, and the servers they talk to often do.
	ips map[netip.Addr]string
}

// maxIPText bounds flowWriter.ips; it is emptied when full.
const maxIPText = 4096

func newFlowWriter(sc *sqlite3.SQLiteConn, ips map[netip.Addr]string) (*flowWriter, error) {
	w := &flowWriter{ips: ips}
	for _, s := range []struct {
		dst *driver.StmtExecContext
		sql string
	}{
		{&w.insert, sqlInsertFlow}, {&w.complete, sqlCompleteFlow}, {&w.discard, sqlDiscardActive},
	} {
		st, err := sc.Prepare(s.sql)
		if err != nil {
			w.close()
			return nil, fmt.Errorf("prepare flow statements: %w", err)
		}
		w.closers = append(w.closers, st)
		*s.dst = st.(driver.StmtExecContext)
	}
	for i := range w.args {
		w.args[i].Ordinal = i + 1
	}
	return w, nil
}

func (w *flowWriter) close() {
	for _, st := range w.closers {
		st.Close()
	}
}

// writeFlows applies the flow updates of a batch on sc, inside the
// transaction its caller began; ips caches addresses' text.
func writeFlows(sc *sqlite3.SQLiteConn, ips map[netip.Addr]string, updates []flow.Update) error {
	if len(updates) == 0 {
		return nil
	}
	w, err := newFlowWriter(sc, ips)
	if err != nil {
		return err
	}
	defer w.close()
	for i := range updates {
		u := &updates[i]
		if u.Op == flow.OpDiscard {
			if _, err := w.exec(w.discard, flowID(u.Record.FlowID)); err != nil {
				return fmt.Errorf("discard flow %d: %w", u.Record.FlowID, err)
			}
			continue
		}
		if err := w.write(u); err != nil {
			return fmt.Errorf("flow %d: %w", u.Record.FlowID, err)
		}
	}
	return nil
}

// noCancel has no Done channel, so the driver runs statements inline.
var noCancel = context.Background()

func (w *flowWriter) exec(st driver.StmtExecContext, args ...driver.Value) (driver.Result, error) {
	for i, v := range args {
		w.args[i].Value = v
	}
	return st.ExecContext(noCancel, w.args[:len(args)])
}

func (w *flowWriter) addr(a netip.Addr) string {
	if s, ok := w.ips[a]; ok {
		return s
	}
	if len(w.ips) >= maxIPText {
		clear(w.ips)
	}
	s := addrString(a)
	w.ips[a] = s
	return s
}

// set fills the argument list from r, starting at argument first, in the
// order of flowColumns after flow_key and flow_id.
func (w *flowWriter) set(first int, r *flow.Record) {
	a := w.args[first:]
	a[0].Value = r.Start.Seconds()
	a[1].Value = r.End.Seconds()
	a[2].Value = r.MAC
	a[3].Value = w.addr(r.SrcIP)
	a[4].Value = int64(r.SrcPort)
	a[5].Value = w.addr(r.DestIP)
	a[6].Value = int64(r.DestPort)
	a[7].Value = r.Proto
	a[8].Value = r.AppProto
	a[9].Value = r.Name
	a[10].Value = r.Source.String()
	a[11].Value = clamp(r.BytesSent)
	a[12].Value = clamp(r.BytesReceived)
	a[13].Value = clamp(r.PktsSent)
	a[14].Value = clamp(r.PktsReceived)
}

func (w *flowWriter) write(u *flow.Update) error {
	r := &u.Record
	if u.Written && !r.Active {
		w.args[0].Value = FlowKey(r)
		w.set(1, r)
		w.args[16].Value = flowID(r.FlowID)
		res, err := w.complete.ExecContext(noCancel, w.args[:17])
		var se sqlite3.Error
		if errors.As(err, &se) && se.Code == sqlite3.ErrConstraint {
			// The completed flow is stored already (replayed input): the
			// active row is a duplicate.
			_, err = w.exec(w.discard, flowID(r.FlowID))
			return err
		}
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n > 0 {
			return nil
		}
	}
	w.args[0].Value = FlowKey(r)
	w.args[1].Value = flowID(r.FlowID)
	w.set(2, r)
	w.args[17].Value = r.Active
	_, err := w.insert.ExecContext(noCancel, w.args[:18])
	return err
}
