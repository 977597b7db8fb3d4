package ubus

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync/atomic"
)

// Arg is one argument of a method signature: `ubus -v list` shows its type
// as String, Boolean, Integer, Array or Table (only INT32 is "Integer").
type Arg struct {
	Name string
	Type Type
}

// Handler answers one method call. A nil result sends no DATA, only the
// STATUS, like a libubus handler that does not reply; anything else must
// convert to a table (see TableOf) and fit MaxReplyData. An error answers
// with its status (see StatusOf): return an *Error for INVALID_ARGUMENT,
// NOT_FOUND and the like; other errors become UNKNOWN_ERROR and are logged.
// ctx is cancelled when the connection the call came on ends or the client
// closes, since the reply can no longer be delivered.
type Handler func(ctx context.Context, req *Request) (any, error)

// Method is one method of an Object.
type Method struct {
	Name string
	// Signature is what `ubus -v list` and rpcd show; ubus does not
	// enforce it, the handler checks its arguments.
	Signature []Arg
	Handler   Handler
}

// Request is one method call as the handler sees it.
type Request struct {
	Object string
	Method string
	// User and Group name the caller's uid and gid as ubusd found them
	// (SO_PEERCRED); rpcd calls on behalf of LuCI users appear as rpcd's
	// own user.
	User, Group string
	Args        Table
}

// Object is a named ubus object with methods. Register it with
// Client.AddObject; do not change it afterwards.
type Object struct {
	Name    string
	Methods []Method

	client *Client // set by AddObject; guarded by Client.regMu
	cn     *conn   // connection of the current registration; regMu
	id     atomic.Uint32
	active atomic.Bool
}

// ID returns the object id ubusd gave the object on the current connection,
// or 0 before registration.
func (o *Object) ID() uint32 { return o.id.Load() }

// HasSubscribers reports whether ubusd said the object has subscribers
// (NOTIFY with ACTIVE), so Notify can be skipped when nobody listens.
func (o *Object) HasSubscribers() bool { return o.active.Load() }

// signature is the SIGNATURE attribute: one table per method holding INT32
// type codes, as libubus writes it.
func (o *Object) signature() Table {
	sig := make(Table, 0, len(o.Methods))
	for _, m := range o.Methods {
		args := make(Table, 0, len(m.Signature))
		for _, a := range m.Signature {
			args = append(args, Field{Name: a.Name, Value: Int32(a.Type)})
		}
		sig = append(sig, Field{Name: m.Name, Value: args})
	}
	return sig
}

func (o *Object) validate() error {
	if o.Name == "" {
		return errors.New("object without a name")
	}
	seen := map[string]bool{}
	for _, m := range o.Methods {
		switch {
		case m.Name == "":
			return fmt.Errorf("object %s: method without a name", o.Name)
		case m.Handler == nil:
			return fmt.Errorf("object %s: method %s without a handler", o.Name, m.Name)
		case seen[m.Name]:
			return fmt.Errorf("object %s: method %s listed twice", o.Name, m.Name)
		}
		seen[m.Name] = true
	}
	return nil
}

// register adds the object on cn; regMu is held.
func (o *Object) register(ctx context.Context, cn *conn) error {
	o.active.Store(false)
	id, err := cn.addObject(ctx, []Attr{{AttrObjPath, o.Name}, {AttrSignature, o.signature()}}, o)
	if err != nil {
		return err
	}
	o.id.Store(id)
	o.cn = cn
	return nil
}

// AddObject registers o now if connected (returning ubusd's refusal, e.g.
// INVALID_ARGUMENT when the name is taken) and again after every reconnect;
// before Open it only records o.
func (c *Client) AddObject(ctx context.Context, o *Object) error {
	if err := o.validate(); err != nil {
		return fmt.Errorf("add object: %w", err)
	}
	c.regMu.Lock()
	defer c.regMu.Unlock()
	if o.client != nil {
		return fmt.Errorf("add object %s: already added", o.Name)
	}
	for _, x := range c.objects {
		if x.Name == o.Name {
			return fmt.Errorf("add object %s: name already used by this client", o.Name)
		}
	}
	if cn := c.current(); cn != nil {
		ctx, cancel := c.withTimeout(ctx)
		defer cancel()
		// A connection lost meanwhile is repaired by the reconnect,
		// which registers the object with the others.
		if err := o.register(ctx, cn); err != nil && !errors.Is(err, ErrDisconnected) {
			return fmt.Errorf("add object %s: %w", o.Name, err)
		}
	}
	o.client = c
	c.objects = append(c.objects, o)
	return nil
}

// RemoveObject unregisters o.
func (c *Client) RemoveObject(ctx context.Context, o *Object) error {
	c.regMu.Lock()
	defer c.regMu.Unlock()
	if o.client != c {
		return fmt.Errorf("remove object %s: not added to this client", o.Name)
	}
	for i, x := range c.objects {
		if x == o {
			c.objects = append(c.objects[:i], c.objects[i+1:]...)
			break
		}
	}
	o.client = nil
	cn := o.cn
	o.cn = nil
	if cn == nil || cn != c.current() {
		return nil
	}
	id := o.id.Swap(0)
	cn.removeTarget(id)
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	if err := cn.requestOK(ctx, MsgRemoveObject, 0, []Attr{{AttrObjID, id}}, nil); err != nil {
		return fmt.Errorf("remove object %s: %w", o.Name, err)
	}
	return nil
}

// Notify sends a notification of type typ with data (anything TableOf
// takes) to the subscribers of o. It waits for ubusd's acknowledgement, not
// for the subscribers.
func (c *Client) Notify(ctx context.Context, o *Object, typ string, data any) error {
	tab, err := TableOf(data)
	if err != nil {
		return fmt.Errorf("notify %s %s: %w", o.Name, typ, err)
	}
	c.regMu.Lock()
	cn, id := o.cn, o.id.Load()
	c.regMu.Unlock()
	if cn == nil || cn != c.current() {
		return fmt.Errorf("notify %s %s: %w", o.Name, typ, ErrDisconnected)
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	attrs := []Attr{{AttrObjID, id}, {AttrMethod, typ}, {AttrData, tab}}
	if err := cn.requestOK(ctx, MsgNotify, id, attrs, nil); err != nil {
		return fmt.Errorf("notify %s %s: %w", o.Name, typ, err)
	}
	return nil
}

// handle answers INVOKE and takes note of NOTIFY (subscriber state).
func (o *Object) handle(cn *conn, m *Message) {
	switch m.Type {
	case MsgNotify:
		if a, ok := m.Uint8(AttrActive); ok {
			o.active.Store(a != 0)
		}
		return
	case MsgInvoke:
	default:
		return
	}
	id, _ := m.Uint32(AttrObjID)
	noReply, _ := m.Uint8(AttrNoReply)
	fail := func(s Status) {
		if noReply == 0 {
			cn.reply(m, id, s)
		}
	}
	// The checks and their order are libubus's (ubus_process_invoke).
	name, ok := m.String(AttrMethod)
	if !ok {
		fail(StatusInvalidArgument)
		return
	}
	var meth *Method
	for i := range o.Methods {
		if o.Methods[i].Name == name {
			meth = &o.Methods[i]
			break
		}
	}
	if meth == nil {
		fail(StatusMethodNotFound)
		return
	}
	args, ok := m.Table(AttrData)
	if !ok {
		fail(StatusInvalidArgument)
		return
	}
	req := &Request{Object: o.Name, Method: name, Args: args}
	req.User, _ = m.String(AttrUser)
	req.Group, _ = m.String(AttrGroup)

	c := cn.client
	if c.queued.Add(1) > int64(c.opts.Concurrency+maxQueuedCalls) {
		c.queued.Add(-1)
		cn.log.Warn("refuse method call: too many calls waiting", "object", o.Name, "method", name)
		fail(StatusUnknownError)
		return
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer c.queued.Add(-1)
		select {
		case c.sem <- struct{}{}:
		case <-cn.ctx.Done():
			return
		}
		defer func() { <-c.sem }()
		o.answer(cn, m, id, meth, req, noReply != 0)
	}()
}

// answer runs the handler and sends DATA (if any) and STATUS.
func (o *Object) answer(cn *conn, m *Message, id uint32, meth *Method, req *Request, noReply bool) {
	res, err := runHandler(cn.ctx, meth.Handler, req)
	status := StatusOf(err)
	if err != nil {
		level := cn.log.Debug
		if status == StatusUnknownError {
			level = cn.log.Warn
		}
		level("method call failed", "object", o.Name, "method", req.Method, "status", status.String(), "err", err)
	} else if res != nil && !noReply {
		tab, err := TableOf(res)
		if err == nil {
			err = cn.send(Message{
				Header: Header{Type: MsgData, Seq: m.Seq, Peer: m.Peer},
				Attrs:  []Attr{{AttrObjID, id}, {AttrData, tab}},
			})
		}
		if err != nil {
			cn.log.Warn("send method reply", "object", o.Name, "method", req.Method, "err", err)
			if !errors.Is(err, ErrDisconnected) {
				status = StatusUnknownError
			}
		}
	}
	if !noReply {
		cn.reply(m, id, status)
	}
}

func runHandler(ctx context.Context, h Handler, req *Request) (res any, err error) {
	defer func() {
		if r := recover(); r != nil {
			res, err = nil, fmt.Errorf("handler %s.%s panicked: %v\n%s", req.Object, req.Method, r, debug.Stack())
		}
	}()
	return h(ctx, req)
}
