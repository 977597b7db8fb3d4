package ubus

import (
	"context"
	"fmt"
	"strings"
)

// ObjectInfo is one object as LOOKUP reports it.
type ObjectInfo struct {
	Path   string
	ID     uint32
	TypeID uint32
	// Signature holds one table per method, mapping argument names to
	// Int32 type codes.
	Signature Table
}

// Lookup lists objects: all of them for path "", the one named path, or
// those starting with prefix for "prefix*". Like ubusd, an unknown path is
// an *Error with StatusNotFound.
func (c *Client) Lookup(ctx context.Context, path string) ([]ObjectInfo, error) {
	cn, err := c.currentConn()
	if err != nil {
		return nil, fmt.Errorf("lookup %q: %w", path, err)
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	objs, err := cn.lookup(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("lookup %q: %w", path, err)
	}
	return objs, nil
}

func (cn *conn) lookup(ctx context.Context, path string) ([]ObjectInfo, error) {
	var attrs []Attr
	if path != "" {
		attrs = []Attr{{AttrObjPath, path}}
	}
	objs := []ObjectInfo{}
	err := cn.requestOK(ctx, MsgLookup, 0, attrs, func(m *Message) {
		var o ObjectInfo
		o.Path, _ = m.String(AttrObjPath)
		o.ID, _ = m.Uint32(AttrObjID)
		o.TypeID, _ = m.Uint32(AttrObjType)
		o.Signature, _ = m.Table(AttrSignature)
		objs = append(objs, o)
	})
	return objs, err
}

// Call invokes method on the object at path with args (anything TableOf
// takes, nil for none) and returns the reply's DATA, or nil when the callee
// sent none. Like the CLI it looks the path up first. A status other than
// OK is an *Error. Only the first DATA of a reply is kept.
func (c *Client) Call(ctx context.Context, path, method string, args any) (Table, error) {
	tab, err := TableOf(args)
	if err != nil {
		return nil, fmt.Errorf("call %s %s: %w", path, method, err)
	}
	if path == "" || strings.HasSuffix(path, "*") {
		return nil, fmt.Errorf("call %q %s: %w", path, method, &Error{Status: StatusInvalidArgument, Msg: "need one object path"})
	}
	cn, err := c.currentConn()
	if err != nil {
		return nil, fmt.Errorf("call %s %s: %w", path, method, err)
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	objs, err := cn.lookup(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("call %s %s: %w", path, method, err)
	}
	if len(objs) == 0 {
		return nil, fmt.Errorf("call %s %s: %w", path, method, &Error{Status: StatusNotFound})
	}
	reply, err := cn.invoke(ctx, objs[0].ID, method, tab)
	if err != nil {
		return nil, fmt.Errorf("call %s %s: %w", path, method, err)
	}
	return reply, nil
}

// invoke calls a method by object id; the reply comes from that object.
func (cn *conn) invoke(ctx context.Context, id uint32, method string, args Table) (Table, error) {
	var (
		reply Table
		got   bool
	)
	attrs := []Attr{{AttrObjID, id}, {AttrMethod, method}, {AttrData, args}}
	err := cn.requestOK(ctx, MsgInvoke, id, attrs, func(m *Message) {
		if !got {
			reply, got = m.Table(AttrData)
		}
	})
	if err != nil {
		return nil, err
	}
	return reply, nil
}
