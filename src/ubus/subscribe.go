package ubus

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
)

// systemObjectEvent is UBUS_SYSTEM_OBJECT_EVENT, ubusd's event object.
const systemObjectEvent = 1

// objectAddEvent is the event ubusd sends when an object with a path
// appears, with DATA {"id": int32, "path": string}.
const objectAddEvent = "ubus.object.add"

// NotifyFunc receives one notification (e.g. dnsmasq's "dhcp.ack") or one
// event. Callbacks of a client run one at a time, in arrival order, so
// they see notifications in the order the notifier sent them; a callback
// that blocks delays the ones after it.
type NotifyFunc func(typ string, data Table)

// Subscription follows the notifications of the object at one path, like
// `ubus subscribe`. It survives ubusd restarts and the object going away
// and coming back (e.g. dnsmasq restarting).
type Subscription struct {
	c      *Client
	path   string
	fn     NotifyFunc
	closed atomic.Bool

	// State on the current connection, guarded by Client.regMu.
	cn     *conn
	objID  uint32 // our anonymous subscriber object
	target uint32 // the subscribed object, 0 while it is missing
}

// Subscribe registers a subscriber for path and calls fn for every
// notification. A missing object is not an error: the subscription starts
// when ubusd announces the object (ubus.object.add), as libubus's
// auto-subscribers do.
func (c *Client) Subscribe(ctx context.Context, path string, fn NotifyFunc) (*Subscription, error) {
	if path == "" || fn == nil {
		return nil, errors.New("subscribe: need a path and a callback")
	}
	s := &Subscription{c: c, path: path, fn: fn}
	c.regMu.Lock()
	defer c.regMu.Unlock()
	if cn := c.current(); cn != nil {
		ctx, cancel := c.withTimeout(ctx)
		defer cancel()
		// A connection lost meanwhile is repaired by the reconnect,
		// which registers the subscription again.
		if err := s.register(ctx, cn); err != nil && !errors.Is(err, ErrDisconnected) {
			if s.objID != 0 {
				cn.removeTarget(s.objID)
				_ = cn.requestOK(ctx, MsgRemoveObject, 0, []Attr{{AttrObjID, s.objID}}, nil)
			}
			return nil, fmt.Errorf("subscribe %s: %w", path, err)
		}
	}
	c.subs = append(c.subs, s)
	return s, nil
}

// Subscribed reports whether the subscription is active on ubusd now, and
// the id of the object it follows.
func (s *Subscription) Subscribed() (bool, uint32) {
	s.c.regMu.Lock()
	defer s.c.regMu.Unlock()
	ok := s.target != 0 && s.cn != nil && s.cn == s.c.current()
	return ok, s.target
}

// Close ends the subscription.
func (s *Subscription) Close(ctx context.Context) error {
	c := s.c
	c.regMu.Lock()
	defer c.regMu.Unlock()
	if s.closed.Swap(true) {
		return nil
	}
	for i, x := range c.subs {
		if x == s {
			c.subs = append(c.subs[:i], c.subs[i+1:]...)
			break
		}
	}
	return c.removeAnonymous(ctx, s.cn, s.objID)
}

// removeAnonymous removes a subscriber or listener object; ubusd drops its
// subscriptions and event patterns with it. regMu is held.
func (c *Client) removeAnonymous(ctx context.Context, cn *conn, id uint32) error {
	if cn == nil || cn != c.current() || id == 0 {
		return nil
	}
	cn.removeTarget(id)
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	if err := cn.requestOK(ctx, MsgRemoveObject, 0, []Attr{{AttrObjID, id}}, nil); err != nil {
		return fmt.Errorf("remove object %08x: %w", id, err)
	}
	return nil
}

// register creates the subscriber object on cn and subscribes; regMu is
// held.
func (s *Subscription) register(ctx context.Context, cn *conn) error {
	s.cn, s.objID, s.target = cn, 0, 0
	id, err := cn.addObject(ctx, nil, s)
	if err != nil {
		return err
	}
	s.objID = id
	return s.resolve(ctx, cn)
}

// resolve subscribes to the object at s.path, or watches for it to appear
// when it is missing; regMu is held.
func (s *Subscription) resolve(ctx context.Context, cn *conn) error {
	ok, err := s.trySubscribe(ctx, cn)
	if err != nil || ok {
		return err
	}
	if err := s.c.ensureWatch(ctx, cn); err != nil {
		return err
	}
	// The object may have appeared before the watch was in place.
	_, err = s.trySubscribe(ctx, cn)
	return err
}

func (s *Subscription) trySubscribe(ctx context.Context, cn *conn) (bool, error) {
	objs, err := cn.lookup(ctx, s.path)
	if errors.Is(err, &Error{Status: StatusNotFound}) || (err == nil && len(objs) == 0) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return s.subscribeTo(ctx, cn, objs[0].ID)
}

func (s *Subscription) subscribeTo(ctx context.Context, cn *conn, id uint32) (bool, error) {
	err := cn.requestOK(ctx, MsgSubscribe, 0, []Attr{{AttrObjID, s.objID}, {AttrTarget, id}}, nil)
	if errors.Is(err, &Error{Status: StatusNotFound}) {
		return false, nil // gone again; the watch will bring it back
	}
	if err != nil {
		return false, err
	}
	s.target = id
	cn.log.Debug("subscribed", "path", s.path, "object_id", fmt.Sprintf("%08x", id))
	return true, nil
}

// handle receives notifications (INVOKE on the subscriber object) and
// ubusd's UNSUBSCRIBE when the followed object goes away.
func (s *Subscription) handle(cn *conn, m *Message) {
	switch m.Type {
	case MsgInvoke:
		typ, _ := m.String(AttrMethod)
		data, _ := m.Table(AttrData)
		if noReply, _ := m.Uint8(AttrNoReply); noReply == 0 {
			cn.reply(m, s.objIDOf(m), StatusOK)
		}
		s.c.enqueue("notification "+typ+" of "+s.path, func() {
			if !s.closed.Load() {
				s.fn(typ, data)
			}
		})
	case MsgUnsubscribe:
		gone, _ := m.Uint32(AttrTarget)
		s.c.enqueue("unsubscribe of "+s.path, func() { s.targetGone(cn, gone) })
	}
}

func (s *Subscription) objIDOf(m *Message) uint32 {
	id, _ := m.Uint32(AttrObjID)
	return id
}

// targetGone runs in the dispatcher after ubusd said the followed object
// was removed: wait for it to come back.
func (s *Subscription) targetGone(cn *conn, gone uint32) {
	c := s.c
	c.regMu.Lock()
	defer c.regMu.Unlock()
	if s.closed.Load() || s.cn != cn || s.target != gone || cn != c.current() {
		return
	}
	s.target = 0
	cn.log.Info("subscribed object went away", "path", s.path)
	ctx, cancel := c.withTimeout(c.ctx)
	defer cancel()
	if err := s.resolve(ctx, cn); err != nil {
		cn.log.Warn("resubscribe", "path", s.path, "err", err)
	}
}

// ensureWatch listens for ubus.object.add on cn; regMu is held.
func (c *Client) ensureWatch(ctx context.Context, cn *conn) error {
	if c.watch != nil && c.watch.cn == cn {
		return nil
	}
	l := &Listener{c: c, pattern: objectAddEvent, fn: c.objectAdded}
	if err := l.register(ctx, cn); err != nil {
		return fmt.Errorf("watch for new objects: %w", err)
	}
	c.watch = l
	return nil
}

// objectAdded runs in the dispatcher for every ubus.object.add and
// subscribes the subscriptions waiting for that path.
func (c *Client) objectAdded(_ string, data Table) {
	pv, _ := data.Get("path")
	iv, _ := data.Get("id")
	path, ok1 := pv.(String)
	id, ok2 := iv.(Int32)
	if !ok1 || !ok2 {
		return
	}
	c.regMu.Lock()
	defer c.regMu.Unlock()
	cn := c.current()
	for _, s := range c.subs {
		if s.path != string(path) || s.cn != cn || cn == nil || s.target != 0 || s.closed.Load() {
			continue
		}
		ctx, cancel := c.withTimeout(c.ctx)
		_, err := s.subscribeTo(ctx, cn, uint32(id))
		cancel()
		if err != nil {
			cn.log.Warn("subscribe to new object", "path", s.path, "err", err)
		}
	}
}

// Listener receives ubus events matching a pattern, like `ubus listen`.
type Listener struct {
	c       *Client
	pattern string
	fn      NotifyFunc
	closed  atomic.Bool

	cn    *conn // guarded by Client.regMu
	objID uint32
}

// Listen calls fn for every event whose name matches pattern: the exact
// name, or a prefix followed by "*". ubusd does not deliver a client's own
// events back to it.
func (c *Client) Listen(ctx context.Context, pattern string, fn NotifyFunc) (*Listener, error) {
	if pattern == "" || fn == nil {
		return nil, errors.New("listen: need a pattern and a callback")
	}
	l := &Listener{c: c, pattern: pattern, fn: fn}
	c.regMu.Lock()
	defer c.regMu.Unlock()
	if cn := c.current(); cn != nil {
		ctx, cancel := c.withTimeout(ctx)
		defer cancel()
		if err := l.register(ctx, cn); err != nil && !errors.Is(err, ErrDisconnected) {
			_ = c.removeAnonymous(ctx, cn, l.objID)
			return nil, fmt.Errorf("listen %s: %w", pattern, err)
		}
	}
	c.listeners = append(c.listeners, l)
	return l, nil
}

// Close stops the listener.
func (l *Listener) Close(ctx context.Context) error {
	c := l.c
	c.regMu.Lock()
	defer c.regMu.Unlock()
	if l.closed.Swap(true) {
		return nil
	}
	for i, x := range c.listeners {
		if x == l {
			c.listeners = append(c.listeners[:i], c.listeners[i+1:]...)
			break
		}
	}
	return c.removeAnonymous(ctx, l.cn, l.objID)
}

// register creates the listener object and registers the pattern with
// ubusd's event object, as ubus_register_event_handler does.
func (l *Listener) register(ctx context.Context, cn *conn) error {
	l.cn, l.objID = cn, 0
	id, err := cn.addObject(ctx, nil, l)
	if err != nil {
		return err
	}
	l.objID = id
	args := Table{{"object", Int32(id)}, {"pattern", String(l.pattern)}}
	_, err = cn.invoke(ctx, systemObjectEvent, "register", args)
	return err
}

// handle receives an event: an INVOKE from ubusd with peer 0. libubus
// answers it although ubusd drops the answer; so do we.
func (l *Listener) handle(cn *conn, m *Message) {
	if m.Type != MsgInvoke {
		return
	}
	name, _ := m.String(AttrMethod)
	data, _ := m.Table(AttrData)
	id, _ := m.Uint32(AttrObjID)
	cn.reply(m, id, StatusOK)
	l.c.enqueue("event "+name, func() {
		if !l.closed.Load() {
			l.fn(name, data)
		}
	})
}

// Send sends an event to the listeners of other clients, like `ubus send`.
// ubusd refuses names starting with "ubus." (PERMISSION_DENIED).
func (c *Client) Send(ctx context.Context, event string, data any) error {
	tab, err := TableOf(data)
	if err != nil {
		return fmt.Errorf("send event %s: %w", event, err)
	}
	cn, err := c.currentConn()
	if err != nil {
		return fmt.Errorf("send event %s: %w", event, err)
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	args := Table{{"id", String(event)}, {"data", tab}}
	if _, err := cn.invoke(ctx, systemObjectEvent, "send", args); err != nil {
		return fmt.Errorf("send event %s: %w", event, err)
	}
	return nil
}
