package ubustest_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/pakon/pakon/src/ubus"
	"github.com/pakon/pakon/src/ubus/ubustest"
)

// rawServer registers an object with a captured ADD_OBJECT and answers
// INVOKEs like the example server: hello → DATA {message}, watch without
// "id" → INVALID_ARGUMENT, anything else → METHOD_NOT_FOUND.
func rawServer(t *testing.T, b *ubustest.Broker, add vector) uint32 {
	t.Helper()
	c, err := net.Dial("unix", b.Path())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	read := func() ubus.Message {
		frame, err := ubus.ReadFrame(c)
		if err != nil {
			t.Errorf("raw server: %v", err)
			return ubus.Message{}
		}
		m, _ := ubus.Decode(frame)
		return m
	}
	write := func(m ubus.Message) {
		enc, _ := m.Encode()
		c.Write(enc)
	}
	read() // HELLO
	write(add.msg)
	data := read()
	if st := read(); st.Status() != ubus.StatusOK {
		t.Fatalf("ADD_OBJECT %s: %v", add, st.Status())
	}
	id, _ := data.Uint32(ubus.AttrObjID)
	go func() {
		for {
			frame, err := ubus.ReadFrame(c)
			if err != nil {
				return
			}
			m, _ := ubus.Decode(frame)
			method, _ := m.String(ubus.AttrMethod)
			args, _ := m.Table(ubus.AttrData)
			status := ubus.StatusOK
			switch method {
			case "hello":
				msg, _ := args.Get("msg")
				s, _ := msg.(ubus.String)
				write(ubus.Message{Header: ubus.Header{Type: ubus.MsgData, Seq: m.Seq, Peer: m.Peer}, Attrs: []ubus.Attr{
					{ID: ubus.AttrObjID, Value: id},
					{ID: ubus.AttrData, Value: ubus.Table{{Name: "message", Value: ubus.String("test received a message: " + string(s))}}},
				}})
			case "watch":
				status = ubus.StatusInvalidArgument
			default:
				status = ubus.StatusMethodNotFound
			}
			write(ubus.Message{Header: ubus.Header{Type: ubus.MsgStatus, Seq: m.Seq, Peer: m.Peer}, Attrs: []ubus.Attr{
				{ID: ubus.AttrStatus, Value: uint32(status)}, {ID: ubus.AttrObjID, Value: id},
			}})
		}
	}()
	return id
}

// TestList checks `ubus -v list` output for the example server's object
// (add_object.hex [2]) and the helper's (blobmsg_types.hex [2]), whose
// type names the README lists: String, Boolean, (unknown), Integer,
// (unknown), (unknown), Array, Table, (unknown).
func TestList(t *testing.T) {
	b := ubustest.Start(t)
	testID := rawServer(t, b, loadVectors(t, "add_object.hex")[1])
	typesID := rawServer(t, b, loadVectors(t, "blobmsg_types.hex")[1])
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	wantTest := fmt.Sprintf("'test' @%08x\n"+
		"\t\"hello\":{\"id\":\"Integer\",\"msg\":\"String\"}\n"+
		"\t\"watch\":{\"id\":\"Integer\",\"counter\":\"Integer\"}\n"+
		"\t\"count\":{\"to\":\"Integer\",\"string\":\"String\"}\n", testID)
	wantTypes := fmt.Sprintf("'types' @%08x\n"+
		"\t\"all\":{}\n\t\"echo\":{}\n\t\"notify\":{}\n"+
		"\t\"sig\":{\"s\":\"String\",\"b\":\"Boolean\",\"i16\":\"(unknown)\",\"i32\":\"Integer\",\"i64\":\"(unknown)\",\"d\":\"(unknown)\",\"a\":\"Array\",\"t\":\"Table\",\"u\":\"(unknown)\"}\n", typesID)
	cases := []struct{ path, want string }{
		{"test", wantTest},
		{"types", wantTypes},
		{"", wantTest + wantTypes},
		{"t*", wantTest + wantTypes},
	}
	for _, c := range cases {
		got, err := ubustest.List(ctx, b.Path(), c.path)
		if err != nil || got != c.want {
			t.Errorf("List(%q) =\n%s\nerr %v, want\n%s", c.path, got, err, c.want)
		}
	}
	if _, err := ubustest.List(ctx, b.Path(), "nosuchobj"); !errors.Is(err, &ubus.Error{Status: ubus.StatusNotFound}) {
		t.Errorf("List(nosuchobj): %v, want NOT_FOUND", err)
	}
}

// TestCall mirrors invoke.hex and call_error.hex through the broker.
func TestCall(t *testing.T) {
	b := ubustest.Start(t)
	rawServer(t, b, loadVectors(t, "add_object.hex")[1])
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := ubustest.Call(ctx, b.Path(), "test", "hello", `{"id":1,"msg":"hi"}`)
	if want := "{\n\t\"message\": \"test received a message: hi\"\n}\n"; err != nil || out != want {
		t.Errorf("Call hello = %q, %v; want %q", out, err, want)
	}
	tab, err := ubustest.CallTable(ctx, b.Path(), "test", "hello", `{"msg":"x"}`)
	if err != nil || !equalJSON(tab, `{"message":"test received a message: x"}`) {
		t.Errorf("CallTable = %v, %v", tab, err)
	}
	errs := []struct {
		path, method, args string
		want               ubus.Status
	}{
		{"test", "nosuch", "{}", ubus.StatusMethodNotFound}, // call_error.hex [1-8]
		{"test", "watch", "{}", ubus.StatusInvalidArgument}, // call_error.hex [9-16]
		{"nosuchobj", "hello", "{}", ubus.StatusNotFound},   // call_error.hex [17-19]
		{"test", "hello", "[1]", ubus.StatusParseError},     // the CLI refuses non-objects
		{"test", "hello", "{", ubus.StatusParseError},
	}
	for _, e := range errs {
		if _, err := ubustest.Call(ctx, b.Path(), e.path, e.method, e.args); ubus.StatusOf(err) != e.want {
			t.Errorf("Call %s %s %s: %v, want %v", e.path, e.method, e.args, err, e.want)
		}
	}
}

func equalJSON(t ubus.Table, want string) bool {
	got, _ := t.MarshalJSON()
	return string(got) == want
}
