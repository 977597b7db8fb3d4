package ubustest

import (
	"context"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/pakon/pakon/src/ubus"
)

// Call does what `ubus -s socket call path method argsJSON` does, message
// for message (LOOKUP, then INVOKE), and returns what the CLI prints on
// stdout: each DATA reply indented with tabs. A status other than OK is
// returned as *ubus.Error along with the output so far. Empty argsJSON
// sends an empty table.
func Call(ctx context.Context, socket, path, method, argsJSON string) (string, error) {
	replies, err := call(ctx, socket, path, method, argsJSON)
	var out strings.Builder
	for _, r := range replies {
		out.WriteString(ubus.FormatJSON(r, true))
		out.WriteByte('\n')
	}
	return out.String(), err
}

// CallTable is Call returning the first DATA reply decoded (nil if there
// was none), for tests that inspect values rather than text.
func CallTable(ctx context.Context, socket, path, method, argsJSON string) (ubus.Table, error) {
	replies, err := call(ctx, socket, path, method, argsJSON)
	if err != nil || len(replies) == 0 {
		return nil, err
	}
	return replies[0], nil
}

func call(ctx context.Context, socket, path, method, argsJSON string) ([]ubus.Table, error) {
	args := ubus.Table{}
	if argsJSON != "" {
		if err := args.UnmarshalJSON([]byte(argsJSON)); err != nil {
			return nil, &ubus.Error{Status: ubus.StatusParseError, Msg: err.Error()}
		}
	}
	c, err := dialCLI(ctx, socket)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	objs, st, err := c.request(ubus.MsgLookup, 0, []ubus.Attr{{ID: ubus.AttrObjPath, Value: path}})
	if err != nil {
		return nil, err
	}
	if st == ubus.StatusOK && len(objs) == 0 {
		st = ubus.StatusNotFound
	}
	if st != ubus.StatusOK {
		return nil, &ubus.Error{Status: st, Msg: "lookup " + path}
	}
	id, _ := objs[0].Uint32(ubus.AttrObjID)
	msgs, st, err := c.request(ubus.MsgInvoke, id, []ubus.Attr{
		{ID: ubus.AttrObjID, Value: id},
		{ID: ubus.AttrMethod, Value: method},
		{ID: ubus.AttrData, Value: args},
	})
	if err != nil {
		return nil, err
	}
	var replies []ubus.Table
	for _, r := range msgs {
		if data, ok := r.Table(ubus.AttrData); ok {
			replies = append(replies, data)
		}
	}
	if st != ubus.StatusOK {
		return replies, &ubus.Error{Status: st, Msg: path + " " + method}
	}
	return replies, nil
}

// List does what `ubus -s socket -v list [path]` does and returns its
// stdout: per object `'path' @id` and one line per method with argument
// types named like the CLI (String, Boolean, Integer, Array, Table,
// (unknown)). Empty path lists every object.
func List(ctx context.Context, socket, path string) (string, error) {
	c, err := dialCLI(ctx, socket)
	if err != nil {
		return "", err
	}
	defer c.Close()
	var attrs []ubus.Attr
	if path != "" {
		attrs = []ubus.Attr{{ID: ubus.AttrObjPath, Value: path}}
	}
	objs, st, err := c.request(ubus.MsgLookup, 0, attrs)
	if err != nil {
		return "", err
	}
	if st != ubus.StatusOK {
		return "", &ubus.Error{Status: st, Msg: "lookup " + path}
	}
	var out strings.Builder
	for _, o := range objs {
		p, _ := o.String(ubus.AttrObjPath)
		id, _ := o.Uint32(ubus.AttrObjID)
		fmt.Fprintf(&out, "'%s' @%08x\n", p, id)
		sig, _ := o.Table(ubus.AttrSignature)
		for _, m := range sig {
			line := ubus.FormatJSON(ubus.Table{{Name: m.Name, Value: typeNames(m.Value)}}, false)
			out.WriteString("\t" + line[1:len(line)-1] + "\n")
		}
	}
	return out.String(), nil
}

// typeNames replaces INT32 type codes by the CLI's names (format_type in
// cli.c); other values print as they are.
func typeNames(v ubus.Value) ubus.Value {
	switch x := v.(type) {
	case ubus.Int32:
		switch ubus.Type(x) {
		case ubus.TypeInt8:
			return ubus.String("Boolean")
		case ubus.TypeInt32:
			return ubus.String("Integer")
		case ubus.TypeString:
			return ubus.String("String")
		case ubus.TypeArray:
			return ubus.String("Array")
		case ubus.TypeTable:
			return ubus.String("Table")
		}
		return ubus.String("(unknown)")
	case ubus.Table:
		out := make(ubus.Table, len(x))
		for i, f := range x {
			out[i] = ubus.Field{Name: f.Name, Value: typeNames(f.Value)}
		}
		return out
	case ubus.Array:
		out := make(ubus.Array, len(x))
		for i, e := range x {
			out[i] = typeNames(e)
		}
		return out
	}
	return v
}

// cliConn is a bare connection that speaks like the ubus CLI, independent
// of ubus.Client, so tests of the client do not test it with itself.
type cliConn struct {
	net.Conn
	seq uint16
}

func dialCLI(ctx context.Context, socket string) (*cliConn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "unix", socket)
	if err != nil {
		return nil, &ubus.Error{Status: ubus.StatusConnectionFailed, Msg: err.Error()}
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(ubus.DefaultTimeout)
	}
	_ = nc.SetDeadline(deadline)
	c := &cliConn{Conn: nc}
	hello, err := c.read()
	if err != nil || hello.Type != ubus.MsgHello {
		nc.Close()
		return nil, fmt.Errorf("read HELLO: %v (got %s)", err, hello.Type)
	}
	return c, nil
}

func (c *cliConn) read() (ubus.Message, error) {
	frame, err := ubus.ReadFrame(c.Conn)
	if err != nil {
		return ubus.Message{}, err
	}
	return ubus.Decode(frame)
}

// request sends one request and collects its DATA replies until the
// STATUS with the same seq and peer.
func (c *cliConn) request(typ ubus.MsgType, peer uint32, attrs []ubus.Attr) ([]ubus.Message, ubus.Status, error) {
	c.seq++
	m := ubus.Message{Header: ubus.Header{Type: typ, Seq: c.seq, Peer: peer}, Attrs: attrs}
	b, err := m.Encode()
	if err != nil {
		return nil, 0, err
	}
	if _, err := c.Write(b); err != nil {
		return nil, 0, fmt.Errorf("send %s: %w", typ, err)
	}
	var data []ubus.Message
	for {
		r, err := c.read()
		if err != nil {
			return nil, 0, fmt.Errorf("wait for %s reply: %w", typ, err)
		}
		if r.Seq != c.seq || r.Peer != peer {
			continue
		}
		switch r.Type {
		case ubus.MsgData:
			data = append(data, r)
		case ubus.MsgStatus:
			return data, r.Status(), nil
		}
	}
}
