package ubustest_test

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pakon/pakon/src/ubus"
	"github.com/pakon/pakon/src/ubus/ubustest"
)

// The captures: shared/ beside the repository when present, else the
// copies that src/ubus keeps (and checks against shared/).
const (
	sharedVectors = "../../../../shared/ubus-vectors"
	localVectors  = "../testdata/vectors"
)

type vector struct {
	file    string
	index   int
	conn    string
	fromBus bool
	msg     ubus.Message
}

func (v vector) String() string { return fmt.Sprintf("%s[%d] (%s)", v.file, v.index, v.conn) }

func loadVectors(t *testing.T, file string) []vector {
	t.Helper()
	dir := localVectors
	if st, err := os.Stat(sharedVectors); err == nil && st.IsDir() {
		dir = sharedVectors
	}
	f, err := os.Open(filepath.Join(dir, file))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		out  []vector
		conn string
	)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if c, ok := strings.CutPrefix(line, "# @conn "); ok {
			conn = c
			continue
		}
		if !strings.HasPrefix(line, "< ") && !strings.HasPrefix(line, "> ") {
			continue
		}
		b, err := hex.DecodeString(line[2:])
		if err != nil {
			t.Fatal(err)
		}
		m, err := ubus.Decode(b)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		out = append(out, vector{file: file, index: len(out) + 1, conn: conn, fromBus: line[0] == '<', msg: m})
	}
	return out
}

// replayer plays the client side of the captures against the broker and
// compares every message the broker sends with the captured ubusd message.
// Ids are random in both, so it learns which broker id stands for which
// captured id the first time one appears in a message from the broker.
type replayer struct {
	t           *testing.T
	b           *ubustest.Broker
	conns       map[string]net.Conn
	readers     map[string]*bufio.Reader
	ids         map[uint32]uint32 // captured id → broker id
	user, group string
}

// id checks a broker id against a captured one, learning new pairs. Ids
// below 1024 are fixed (system objects, peer 0).
func (r *replayer) id(captured, got uint32) bool {
	if captured < 1024 {
		return captured == got
	}
	if m, ok := r.ids[captured]; ok {
		return m == got
	}
	for c, m := range r.ids {
		if m == got && c != captured {
			return false
		}
	}
	r.ids[captured] = got
	return true
}

// toBroker translates a captured id for sending.
func (r *replayer) toBroker(captured uint32) uint32 {
	if m, ok := r.ids[captured]; ok {
		return m
	}
	return captured
}

func (r *replayer) translate(m ubus.Message) ubus.Message {
	out := m
	out.Peer = r.toBroker(m.Peer)
	out.Attrs = nil
	for _, a := range m.Attrs {
		switch v := a.Value.(type) {
		case uint32:
			if a.ID != ubus.AttrStatus {
				a.Value = r.toBroker(v)
			}
		case ubus.Table:
			a.Value = r.translateValue(v)
		}
		out.Attrs = append(out.Attrs, a)
	}
	return out
}

// translateValue maps Int32 values that are known ids (the "object" of an
// event registration).
func (r *replayer) translateValue(v ubus.Value) ubus.Value {
	switch x := v.(type) {
	case ubus.Table:
		out := ubus.Table{}
		for _, f := range x {
			out = append(out, ubus.Field{Name: f.Name, Value: r.translateValue(f.Value)})
		}
		return out
	case ubus.Int32:
		return ubus.Int32(r.toBroker(uint32(x)))
	}
	return v
}

func (r *replayer) match(want, got ubus.Message) error {
	if want.Type != got.Type || want.Seq != got.Seq || !r.id(want.Peer, got.Peer) {
		return fmt.Errorf("header %s seq %d peer %08x, want %s seq %d peer %08x (captured)", got.Type, got.Seq, got.Peer, want.Type, want.Seq, want.Peer)
	}
	if len(want.Attrs) != len(got.Attrs) {
		return fmt.Errorf("attributes %v, want %v", got.Attrs, want.Attrs)
	}
	for i, wa := range want.Attrs {
		ga := got.Attrs[i]
		if wa.ID != ga.ID {
			return fmt.Errorf("attribute %d is %s, want %s", i, ga.ID, wa.ID)
		}
		ok := true
		switch wv := wa.Value.(type) {
		case uint32:
			if wa.ID == ubus.AttrStatus {
				ok = wv == ga.Value.(uint32)
			} else {
				ok = r.id(wv, ga.Value.(uint32))
			}
		case []uint32:
			gv := ga.Value.([]uint32)
			ok = len(wv) == len(gv)
			for j := 0; ok && j < len(wv); j++ {
				ok = r.id(wv[j], gv[j])
			}
		case string:
			// The captures ran as root; the broker names our own user.
			switch wa.ID {
			case ubus.AttrUser:
				ok = ga.Value == r.user
			case ubus.AttrGroup:
				ok = ga.Value == r.group
			default:
				ok = wv == ga.Value
			}
		case ubus.Table:
			ok = reflect.DeepEqual(r.translateValue(wv), ga.Value)
		default:
			ok = reflect.DeepEqual(wv, ga.Value)
		}
		if !ok {
			return fmt.Errorf("%s = %v, want %v (captured)", wa.ID, ga.Value, wa.Value)
		}
	}
	return nil
}

func (r *replayer) conn(name string) (net.Conn, *bufio.Reader) {
	if c := r.conns[name]; c != nil {
		return c, r.readers[name]
	}
	c, err := net.Dial("unix", r.b.Path())
	if err != nil {
		r.t.Fatalf("dial broker: %v", err)
	}
	r.conns[name], r.readers[name] = c, bufio.NewReader(c)
	return c, r.readers[name]
}

func (r *replayer) read(name string, timeout time.Duration) (ubus.Message, error) {
	c, br := r.conn(name)
	_ = c.SetReadDeadline(time.Now().Add(timeout))
	frame, err := ubus.ReadFrame(br)
	if err != nil {
		return ubus.Message{}, err
	}
	return ubus.Decode(frame)
}

// TestBrokerReplaysCaptures replays, in capture order, the client side of
// add_object.hex, list.hex, invoke.hex, call_error.hex, event.hex,
// blobmsg_types.hex, subscribe_notify.hex and ubusd_direct.hex (all one
// ubusd session) and requires every ubusd message of those files from the
// broker, with the same type, seq, attributes and values (ids mapped).
// A client connection closes after its last captured message, except the
// two servers, which stayed up in the capture. Subtests are named
// file/index of the message that failed.
func TestBrokerReplaysCaptures(t *testing.T) {
	b := ubustest.Start(t)
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	grp, err := user.LookupGroupId(me.Gid)
	if err != nil {
		t.Fatal(err)
	}
	r := &replayer{t: t, b: b, conns: map[string]net.Conn{}, readers: map[string]*bufio.Reader{}, ids: map[uint32]uint32{}, user: me.Username, group: grp.Name}
	files := []string{"add_object.hex", "list.hex", "invoke.hex", "call_error.hex", "event.hex", "blobmsg_types.hex", "subscribe_notify.hex", "ubusd_direct.hex"}
	var all []vector
	for _, f := range files {
		all = append(all, loadVectors(t, f)...)
	}
	last := map[string]int{}
	for i, v := range all {
		last[v.conn] = i
	}
	keep := map[string]bool{"server": true, "types_server": true}
	checked := 0
	for i, v := range all {
		if v.fromBus {
			got, err := r.read(v.conn, 2*time.Second)
			if err != nil {
				t.Fatalf("%s: no message from the broker: %v", v, err)
			}
			if err := r.match(v.msg, got); err != nil {
				t.Fatalf("%s: %v", v, err)
			}
			checked++
		} else {
			c, _ := r.conn(v.conn)
			out := r.translate(v.msg)
			b, err := out.Encode()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Write(b); err != nil {
				t.Fatalf("%s: write: %v", v, err)
			}
		}
		if last[v.conn] == i && !keep[v.conn] {
			r.conns[v.conn].Close()
		}
	}
	// grep -c '^<' over the eight files.
	if checked != 82 {
		t.Errorf("checked %d broker messages, want 82", checked)
	}
	// Nothing beyond the capture: no stray events or replies.
	for name := range keep {
		if m, err := r.read(name, 100*time.Millisecond); err == nil {
			t.Errorf("conn %s: unexpected message %s seq %d", name, m.Type, m.Seq)
		}
	}
}

// TestBrokerHelloAndRestart: HELLO carries a random id ≥ 1024 (never 0 or
// 1, hello.hex), and a restart drops every client and registration.
func TestBrokerHelloAndRestart(t *testing.T) {
	b := ubustest.Start(t)
	seen := map[uint32]bool{}
	for range 20 {
		c, err := net.Dial("unix", b.Path())
		if err != nil {
			t.Fatal(err)
		}
		frame, err := ubus.ReadFrame(c)
		c.Close()
		if err != nil {
			t.Fatal(err)
		}
		m, _ := ubus.Decode(frame)
		if m.Type != ubus.MsgHello || m.Peer < 1024 || len(m.Attrs) != 0 || seen[m.Peer] {
			t.Fatalf("HELLO %+v", m)
		}
		seen[m.Peer] = true
	}
	c, err := net.Dial("unix", b.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := ubus.ReadFrame(c); err != nil {
		t.Fatal(err)
	}
	reg := ubus.Message{Header: ubus.Header{Type: ubus.MsgAddObject, Seq: 1}, Attrs: []ubus.Attr{{ID: ubus.AttrObjPath, Value: "x"}, {ID: ubus.AttrSignature, Value: ubus.Table{}}}}
	enc, _ := reg.Encode()
	if _, err := c.Write(enc); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	br := bufio.NewReader(c)
	for range 2 { // DATA, STATUS
		if _, err := ubus.ReadFrame(br); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	if out, err := ubustest.List(ctx, b.Path(), "x"); err != nil || !strings.HasPrefix(out, "'x' @") {
		t.Fatalf("List after ADD_OBJECT: %q, %v", out, err)
	}
	if err := b.Restart(); err != nil {
		t.Fatal(err)
	}
	if _, err := ubus.ReadFrame(br); !errors.Is(err, io.EOF) {
		t.Errorf("old connection after restart: %v, want EOF", err)
	}
	if _, err := ubustest.List(ctx, b.Path(), "x"); !errors.Is(err, &ubus.Error{Status: ubus.StatusNotFound}) {
		t.Errorf("List after restart: %v, want NOT_FOUND", err)
	}
}
