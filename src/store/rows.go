package store

/*
#include <stdint.h>
#include <stdlib.h>

// The few SQLite functions the batch writer calls itself; mattn/go-sqlite3
// compiles and links them (or links the system library with its
// libsqlite3 tag). sqlite3.h is not on the include path, so they are
// declared here as sqlite3.h declares them.
typedef struct sqlite3 sqlite3;
typedef struct sqlite3_stmt sqlite3_stmt;
typedef struct sqlite3_context sqlite3_context;
typedef struct sqlite3_value sqlite3_value;
typedef struct sqlite3_api_routines sqlite3_api_routines;

int sqlite3_auto_extension(void (*)(void));
int sqlite3_create_function_v2(sqlite3 *, const char *, int, int, void *,
	void (*)(sqlite3_context *, int, sqlite3_value **),
	void (*)(sqlite3_context *, int, sqlite3_value **),
	void (*)(sqlite3_context *), void (*)(void *));
sqlite3 *sqlite3_context_db_handle(sqlite3_context *);
void sqlite3_result_int64(sqlite3_context *, long long);
int sqlite3_prepare_v2(sqlite3 *, const char *, int, sqlite3_stmt **, const char **);
int sqlite3_finalize(sqlite3_stmt *);
int sqlite3_bind_double(sqlite3_stmt *, int, double);
int sqlite3_bind_int64(sqlite3_stmt *, int, long long);
int sqlite3_bind_null(sqlite3_stmt *, int);
int sqlite3_bind_text(sqlite3_stmt *, int, const char *, int, void (*)(void *));
int sqlite3_clear_bindings(sqlite3_stmt *);
int sqlite3_step(sqlite3_stmt *);
int sqlite3_reset(sqlite3_stmt *);
int sqlite3_extended_errcode(sqlite3 *);
int sqlite3_changes(sqlite3 *);
int sqlite3_get_autocommit(sqlite3 *);
const char *sqlite3_errmsg(sqlite3 *);

#define PAKON_UTF8 1
#define PAKON_DIRECTONLY 0x000080000
#define PAKON_DONE 101

// pakon_db_handle returns the connection it runs on, so that Go can
// prepare statements of its own there.
static void pakon_db_handle(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
	sqlite3_result_int64(ctx, (long long)(uintptr_t)sqlite3_context_db_handle(ctx));
}

static int pakon_conn_init(sqlite3 *db, char **err, const sqlite3_api_routines *api) {
	return sqlite3_create_function_v2(db, "pakon_db_handle", 0, PAKON_UTF8 | PAKON_DIRECTONLY, 0,
		pakon_db_handle, 0, 0, 0);
}

static int pakon_register(void) {
	return sqlite3_auto_extension((void (*)(void))pakon_conn_init);
}

static int pakon_prepare(uintptr_t db, const char *sql, int n, uintptr_t *st) {
	sqlite3_stmt *s = 0;
	int rc = sqlite3_prepare_v2((sqlite3 *)db, sql, n, &s, 0);
	*st = (uintptr_t)s;
	return rc;
}

static int pakon_finalize(uintptr_t st) { return sqlite3_finalize((sqlite3_stmt *)st); }

static const char *pakon_errmsg(uintptr_t db) { return sqlite3_errmsg((sqlite3 *)db); }

// Row layout shared with rowBuf: numInts integers, two times and
// numTexts text spans (offset, length) into text.
enum { NUM_INTS = 9, NUM_TEXTS = 7, STRIDE = NUM_INTS + 2 * NUM_TEXTS };

// bind_row binds one row's values to st's parameters first+1 … first+18.
static void bind_row(sqlite3_stmt *st, int first, const long long *num, const double *tm, const char *text) {
	const long long *sp = num + NUM_INTS;
	sqlite3_bind_int64(st, first + 1, num[0]);             // flow_key
	if (num[1]) sqlite3_bind_int64(st, first + 2, num[1]); // flow_id
	else sqlite3_bind_null(st, first + 2);
	sqlite3_bind_double(st, first + 3, tm[0]);            // start
	sqlite3_bind_double(st, first + 4, tm[1]);            // end
	sqlite3_bind_text(st, first + 5, text + sp[0], (int)sp[1], 0);   // mac
	sqlite3_bind_text(st, first + 6, text + sp[2], (int)sp[3], 0);   // src_ip
	sqlite3_bind_int64(st, first + 7, num[2]);                      // src_port
	sqlite3_bind_text(st, first + 8, text + sp[4], (int)sp[5], 0);   // dest_ip
	sqlite3_bind_int64(st, first + 9, num[3]);                      // dest_port
	sqlite3_bind_text(st, first + 10, text + sp[6], (int)sp[7], 0);  // proto
	sqlite3_bind_text(st, first + 11, text + sp[8], (int)sp[9], 0);  // app_proto
	sqlite3_bind_text(st, first + 12, text + sp[10], (int)sp[11], 0); // observed_name
	sqlite3_bind_text(st, first + 13, text + sp[12], (int)sp[13], 0); // name_source
	sqlite3_bind_int64(st, first + 14, num[4]);
	sqlite3_bind_int64(st, first + 15, num[5]);
	sqlite3_bind_int64(st, first + 16, num[6]);
	sqlite3_bind_int64(st, first + 17, num[7]);
	sqlite3_bind_int64(st, first + 18, num[8]); // active
}

// pakon_insert_flows writes n rows: k at a time through many (an INSERT
// OR IGNORE of k rows, when many is not 0), the rest one at a time
// through one (sqlInsertFlow). It returns how many rows went in; *rc
// holds the extended error code of the row that did not.
static int pakon_insert_flows(uintptr_t db, uintptr_t onep, uintptr_t manyp, int k, int n,
	const long long *num, const double *tm, const char *text, int *rc) {
	sqlite3_stmt *one = (sqlite3_stmt *)onep, *many = (sqlite3_stmt *)manyp;
	int i = 0, j;
	*rc = 0;
	if (many) {
		for (; i + k <= n; i += k) {
			for (j = 0; j < k; j++) {
				bind_row(many, j * 18, num + (i + j) * STRIDE, tm + (i + j) * 2, text);
			}
			int r = sqlite3_step(many);
			sqlite3_reset(many);
			if (r != PAKON_DONE) {
				if (sqlite3_get_autocommit((sqlite3 *)db)) {
					// The transaction is gone with the error.
					*rc = sqlite3_extended_errcode((sqlite3 *)db);
					sqlite3_clear_bindings(many);
					return i;
				}
				// The statement was undone: the rows one at a time
				// find the one refused.
				break;
			}
			if (sqlite3_changes((sqlite3 *)db) == k) {
				continue;
			}
			// A row was there already (input replayed): the upsert
			// updates it. Those this statement just inserted take the
			// same values again.
			for (j = 0; j < k; j++) {
				bind_row(one, 0, num + (i + j) * STRIDE, tm + (i + j) * 2, text);
				r = sqlite3_step(one);
				sqlite3_reset(one);
				if (r != PAKON_DONE) {
					*rc = sqlite3_extended_errcode((sqlite3 *)db);
					sqlite3_clear_bindings(one);
					sqlite3_clear_bindings(many);
					return i + j;
				}
			}
		}
		// The texts were bound without a copy; the buffer is Go's.
		sqlite3_clear_bindings(many);
	}
	for (; i < n; i++) {
		bind_row(one, 0, num + i * STRIDE, tm + i * 2, text);
		if (sqlite3_step(one) != PAKON_DONE) {
			sqlite3_reset(one);
			*rc = sqlite3_extended_errcode((sqlite3 *)db);
			break;
		}
		sqlite3_reset(one);
	}
	sqlite3_clear_bindings(one);
	return i;
}
*/
import "C"

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"unsafe"

	"github.com/mattn/go-sqlite3"

	"github.com/pakon/pakon/src/flow"
)

// A batch's flows are written by the writing connection itself: most of
// them are new rows, and those go to SQLite a run at a time, one cgo call
// binding and stepping the inserts for every row of the run (sixteen rows
// a statement, see sqlInsertFlowRun), with the values laid out in flat
// buffers (rowBuf). Through the driver, each of the 18 values was a cgo
// call of its own, and the step and reset two more: at a hundred thousand
// flows a second those calls cost more than a third of the store's work.
// The rarer updates (an active row completed or discarded) still go
// through the driver's prepared statements. The batch's transaction,
// begun through database/sql on the same connection, bounds both.

// registerHandle makes every SQLite connection opened afterwards answer
// pakon_db_handle(), its own handle: Go prepares the insert on the
// connection's handle with it. Open calls it before opening any.
var registerHandle = sync.OnceValue(func() error {
	if rc := C.pakon_register(); rc != 0 {
		return fmt.Errorf("register pakon_db_handle: %w", sqlite3.Error{Code: sqlite3.ErrNo(rc)})
	}
	return nil
})

// flowWriter writes a batch's flows on one connection.
type flowWriter struct {
	sc     *sqlite3.SQLiteConn
	handle C.uintptr_t // sc's sqlite3 *
	ins    C.uintptr_t // sqlInsertFlow on handle: a run's last rows, and rows already stored
	insRun C.uintptr_t // sqlInsertFlowRun on handle: the rest of a run, sixteen at a time
	rows   *rowBuf
	// The driver's statements, prepared when the batch has an update that
	// needs them.
	insert, complete, discard driver.StmtExecContext
	closers                   []driver.Stmt
	args                      [18]driver.NamedValue
	// ips holds the text of recent addresses: a home's devices repeat
	// all day, and the servers they talk to often do.
	ips map[netip.Addr]string
}

// maxIPText bounds flowWriter.ips; it is emptied when full.
const maxIPText = 4096

// rowBuf holds a run of new rows in the layout pakon_insert_flows reads:
// per row numInts integers and numTexts (offset, length) spans of text in
// num, the start and end in times.
type rowBuf struct {
	num   []int64
	times []float64
	text  []byte
	// updates holds each row's index in the batch, for errors.
	updates []int
}

const (
	numInts   = C.NUM_INTS
	numTexts  = C.NUM_TEXTS
	rowStride = C.STRIDE
)

func (b *rowBuf) reset() {
	b.num, b.times, b.text, b.updates = b.num[:0], b.times[:0], b.text[:0], b.updates[:0]
}

func (b *rowBuf) span(s string) {
	b.num = append(b.num, int64(len(b.text)), int64(len(s)))
	b.text = append(b.text, s...)
}

func newFlowWriter(sc *sqlite3.SQLiteConn, ips map[netip.Addr]string, rows *rowBuf) (*flowWriter, error) {
	w := &flowWriter{sc: sc, ips: ips, rows: rows}
	// The handle is asked for on every batch: a connection closed and
	// another opened may reuse the address of its SQLiteConn.
	r, err := sc.Query("SELECT pakon_db_handle()", nil)
	if err != nil {
		return nil, fmt.Errorf("connection handle: %w", err)
	}
	dest := []driver.Value{nil}
	err = r.Next(dest)
	r.Close()
	h, ok := dest[0].(int64)
	if err != nil || !ok || h == 0 {
		return nil, fmt.Errorf("connection handle: %v (%v)", dest[0], err)
	}
	w.handle = C.uintptr_t(h)
	q := C.CString(sqlInsertFlow)
	defer C.free(unsafe.Pointer(q))
	if rc := C.pakon_prepare(w.handle, q, -1, &w.ins); rc != 0 {
		return nil, fmt.Errorf("prepare flow insert: %w", w.sqliteError(rc))
	}
	qr := C.CString(sqlInsertFlowRun)
	defer C.free(unsafe.Pointer(qr))
	if rc := C.pakon_prepare(w.handle, qr, -1, &w.insRun); rc != 0 {
		err := fmt.Errorf("prepare flow run insert: %w", w.sqliteError(rc))
		C.pakon_finalize(w.ins)
		return nil, err
	}
	for i := range w.args {
		w.args[i].Ordinal = i + 1
	}
	return w, nil
}

// sqliteError is SQLite's error rc on w's connection, as the driver
// reports one (IsBusy and the constraint checks look at its code).
func (w *flowWriter) sqliteError(rc C.int) error {
	msg := C.GoString(C.pakon_errmsg(w.handle))
	return fmt.Errorf("%s: %w", msg, sqlite3.Error{Code: sqlite3.ErrNo(rc & 0xff), ExtendedCode: sqlite3.ErrNoExtended(rc)})
}

// prepare prepares the driver's statements for updates of active rows.
func (w *flowWriter) prepare() error {
	if w.closers != nil {
		return nil
	}
	for _, s := range []struct {
		dst *driver.StmtExecContext
		sql string
	}{
		{&w.insert, sqlInsertFlow}, {&w.complete, sqlCompleteFlow}, {&w.discard, sqlDiscardActive},
	} {
		st, err := w.sc.Prepare(s.sql)
		if err != nil {
			return fmt.Errorf("prepare flow statements: %w", err)
		}
		w.closers = append(w.closers, st)
		*s.dst = st.(driver.StmtExecContext)
	}
	return nil
}

func (w *flowWriter) close() {
	C.pakon_finalize(w.ins)
	C.pakon_finalize(w.insRun)
	for _, st := range w.closers {
		st.Close()
	}
}

// writeFlows applies the flow updates of a batch on sc, inside the
// transaction its caller began; ips caches addresses' text, rows is the
// buffer for runs of new rows.
func writeFlows(sc *sqlite3.SQLiteConn, ips map[netip.Addr]string, rows *rowBuf, updates []flow.Update) error {
	if len(updates) == 0 {
		return nil
	}
	w, err := newFlowWriter(sc, ips, rows)
	if err != nil {
		return err
	}
	defer w.close()
	rows.reset()
	for i := range updates {
		u := &updates[i]
		if u.Op == flow.OpUpsert && !u.Written {
			w.add(i, &u.Record)
			continue
		}
		// Updates apply in order: the run before this one goes first.
		if err := w.flush(updates); err != nil {
			return err
		}
		if err := w.prepare(); err != nil {
			return err
		}
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
	return w.flush(updates)
}

// add appends a new row to the run, in the order of flowColumns.
func (w *flowWriter) add(i int, r *flow.Record) {
	b := w.rows
	var id int64
	if r.FlowID != 0 {
		id = int64(r.FlowID)
	}
	var active int64
	if r.Active {
		active = 1
	}
	b.num = append(b.num, FlowKey(r), id, int64(r.SrcPort), int64(r.DestPort),
		clamp(r.BytesSent), clamp(r.BytesReceived), clamp(r.PktsSent), clamp(r.PktsReceived), active)
	b.span(r.MAC)
	b.span(w.addr(r.SrcIP))
	b.span(w.addr(r.DestIP))
	b.span(r.Proto)
	b.span(r.AppProto)
	b.span(r.Name)
	b.span(r.Source.String())
	b.times = append(b.times, r.Start.Seconds(), r.End.Seconds())
	b.updates = append(b.updates, i)
}

// flush inserts the run of new rows.
func (w *flowWriter) flush(updates []flow.Update) error {
	b := w.rows
	n := len(b.updates)
	if n == 0 {
		return nil
	}
	// Text needs a first byte to point at even when every value is empty.
	b.text = append(b.text, 0)
	var rc C.int
	done := int(C.pakon_insert_flows(w.handle, w.ins, w.insRun, insertRunRows, C.int(n), (*C.longlong)(unsafe.Pointer(&b.num[0])),
		(*C.double)(unsafe.Pointer(&b.times[0])), (*C.char)(unsafe.Pointer(&b.text[0])), &rc))
	if done < n {
		id := updates[b.updates[done]].Record.FlowID
		b.reset()
		return fmt.Errorf("flow %d: %w", id, w.sqliteError(rc))
	}
	b.reset()
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

// write applies an update of a flow whose active row was written before.
func (w *flowWriter) write(u *flow.Update) error {
	r := &u.Record
	if !r.Active {
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
