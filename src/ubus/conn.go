package ubus

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"
)

// writeTimeout bounds one write to ubusd. A write that blocks this long means
// ubusd stopped reading; the connection is dropped and re-established.
const writeTimeout = 10 * time.Second

// conn is one connection to ubusd, from HELLO to EOF. The Client replaces it
// when ubusd restarts; everything registered on it dies with it.
type conn struct {
	client *Client
	nc     net.Conn
	id     uint32 // our client id, from HELLO
	log    *slog.Logger

	// ctx is cancelled when the connection ends; handlers of calls that
	// arrived on it get it, since their replies can no longer be sent.
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{} // closed when the read loop has returned

	wmu sync.Mutex // one message at a time on the socket

	mu      sync.Mutex
	err     error // why the connection ended; set once
	seq     uint16
	pending map[reqKey]*request
	targets map[uint32]target // our object ids → what handles them
}

// reqKey matches replies to requests like libubus: ubusd echoes seq, and
// peer is 0 for requests ubusd answers itself or the object id for INVOKE.
type reqKey struct {
	seq  uint16
	peer uint32
}

type request struct {
	onData func(m *Message) // runs in the read loop, before the STATUS
	status Message
	done   chan struct{}
}

// target is what receives INVOKE, NOTIFY and UNSUBSCRIBE for one of our
// object ids: an *Object, a *Subscription or a *Listener.
type target interface {
	handle(cn *conn, m *Message)
}

// dialConn connects to ubusd at path and reads its HELLO.
func dialConn(ctx context.Context, c *Client, path string) (*conn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("dial ubus socket: %w", err)
	}
	deadline := time.Now().Add(c.opts.Timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = nc.SetReadDeadline(deadline)
	r := bufio.NewReader(nc)
	frame, err := ReadFrame(r)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("read HELLO from %s: %w", path, err)
	}
	hello, err := Decode(frame)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("read HELLO from %s: %w", path, err)
	}
	if hello.Type != MsgHello || hello.Peer <= 1 {
		nc.Close()
		return nil, fmt.Errorf("%w: %s: first message %s with peer %#x, want HELLO with a client id", ErrFraming, path, hello.Type, hello.Peer)
	}
	_ = nc.SetReadDeadline(time.Time{})
	cn := &conn{
		client:  c,
		nc:      nc,
		id:      hello.Peer,
		log:     c.log.With("client_id", fmt.Sprintf("%08x", hello.Peer)),
		done:    make(chan struct{}),
		pending: map[reqKey]*request{},
		targets: map[uint32]target{},
	}
	cn.ctx, cn.cancel = context.WithCancel(c.ctx)
	// Closing the client cancels c.ctx; the socket must close with it so
	// that the read loop ends even on a connection not yet published.
	context.AfterFunc(cn.ctx, func() { nc.Close() })
	c.wg.Add(1)
	go cn.readLoop(r)
	return cn, nil
}

// fail ends the connection with err (the first error wins).
func (cn *conn) fail(err error) {
	cn.mu.Lock()
	if cn.err == nil {
		cn.err = err
	}
	cn.mu.Unlock()
	cn.cancel()
	cn.nc.Close()
}

// Err returns why the connection ended, or nil while it is up.
func (cn *conn) Err() error {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	return cn.err
}

func (cn *conn) readLoop(r io.Reader) {
	defer cn.client.wg.Done()
	defer close(cn.done)
	for {
		frame, err := ReadFrame(r)
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = fmt.Errorf("ubusd closed the connection: %w", err)
			}
			cn.fail(err)
			return
		}
		m, err := Decode(frame)
		if err != nil {
			// The frame length was sound, so the stream is still in
			// step; only this message is lost.
			cn.log.Warn("drop undecodable message from ubusd", "err", err, "bytes", len(frame))
			continue
		}
		cn.dispatch(&m)
	}
}

func (cn *conn) dispatch(m *Message) {
	switch m.Type {
	case MsgStatus, MsgData:
		key := reqKey{m.Seq, m.Peer}
		cn.mu.Lock()
		r := cn.pending[key]
		if r != nil && m.Type == MsgStatus {
			delete(cn.pending, key)
		}
		cn.mu.Unlock()
		if r == nil {
			// Late replies after a timeout, and subscribers' answers to
			// our NOTIFY, which we do not wait for.
			cn.log.Debug("drop unmatched reply", "type", m.Type, "seq", m.Seq, "peer", m.Peer)
			return
		}
		if m.Type == MsgData {
			if r.onData != nil {
				r.onData(m)
			}
			return
		}
		r.status = *m
		close(r.done)
	case MsgInvoke, MsgNotify, MsgUnsubscribe:
		id, ok := m.Uint32(AttrObjID)
		if !ok {
			cn.log.Warn("drop message without OBJID", "type", m.Type, "seq", m.Seq)
			return
		}
		cn.mu.Lock()
		t := cn.targets[id]
		cn.mu.Unlock()
		if t == nil {
			cn.log.Debug("drop message for unknown object", "type", m.Type, "object_id", id)
			return
		}
		t.handle(cn, m)
	default:
		cn.log.Debug("ignore message", "type", m.Type, "seq", m.Seq)
	}
}

func (cn *conn) addTarget(id uint32, t target) {
	cn.mu.Lock()
	cn.targets[id] = t
	cn.mu.Unlock()
}

func (cn *conn) removeTarget(id uint32) {
	cn.mu.Lock()
	delete(cn.targets, id)
	cn.mu.Unlock()
}

// send writes one message. A message over MaxMessageLen is refused before
// anything is written, with an error wrapping ErrTooLarge.
func (cn *conn) send(m Message) error {
	b, err := m.Encode()
	if err != nil {
		return err
	}
	cn.wmu.Lock()
	defer cn.wmu.Unlock()
	if err := cn.Err(); err != nil {
		return fmt.Errorf("%w: %v", ErrDisconnected, err)
	}
	_ = cn.nc.SetWriteDeadline(time.Now().Add(writeTimeout))
	if _, err := cn.nc.Write(b); err != nil {
		err = fmt.Errorf("write %s to ubusd: %w", m.Type, err)
		cn.fail(err)
		return fmt.Errorf("%w: %v", ErrDisconnected, err)
	}
	return nil
}

// request sends a request and waits for its STATUS, passing any DATA to
// onData in the read loop. It returns the STATUS message; a status other
// than OK is not an error here.
func (cn *conn) request(ctx context.Context, typ MsgType, peer uint32, attrs []Attr, onData func(*Message)) (Message, error) {
	r := &request{onData: onData, done: make(chan struct{})}
	cn.mu.Lock()
	if cn.err != nil {
		err := cn.err
		cn.mu.Unlock()
		return Message{}, fmt.Errorf("%w: %v", ErrDisconnected, err)
	}
	cn.seq++
	key := reqKey{cn.seq, peer}
	cn.pending[key] = r
	cn.mu.Unlock()
	defer func() {
		cn.mu.Lock()
		if cn.pending[key] == r {
			delete(cn.pending, key)
		}
		cn.mu.Unlock()
	}()
	if err := cn.send(Message{Header: Header{Type: typ, Seq: key.seq, Peer: peer}, Attrs: attrs}); err != nil {
		return Message{}, err
	}
	select {
	case <-r.done:
		return r.status, nil
	case <-cn.done:
		select {
		case <-r.done: // the STATUS arrived just before the end
			return r.status, nil
		default:
		}
		return Message{}, fmt.Errorf("%w: %v", ErrDisconnected, cn.Err())
	case <-ctx.Done():
		return Message{}, ctx.Err()
	}
}

// requestOK is request for callers that only care whether the status is OK.
func (cn *conn) requestOK(ctx context.Context, typ MsgType, peer uint32, attrs []Attr, onData func(*Message)) error {
	st, err := cn.request(ctx, typ, peer, attrs, onData)
	if err != nil {
		return err
	}
	if s := st.Status(); s != StatusOK {
		return &Error{Status: s}
	}
	return nil
}

// addObject registers an object on this connection: path and signature for
// a named object, nothing for an anonymous one (subscribers, listeners).
// The id is known to the read loop before the STATUS is, so no INVOKE for
// the new object can arrive unrouted.
func (cn *conn) addObject(ctx context.Context, attrs []Attr, t target) (uint32, error) {
	var id uint32
	err := cn.requestOK(ctx, MsgAddObject, 0, attrs, func(m *Message) {
		if v, ok := m.Uint32(AttrObjID); ok && id == 0 {
			id = v
			cn.addTarget(id, t)
		}
	})
	if err != nil {
		return 0, err
	}
	if id == 0 {
		return 0, &Error{Status: StatusNoData, Msg: "ADD_OBJECT reply without OBJID"}
	}
	return id, nil
}

// reply sends a STATUS for an INVOKE the way libubus does: STATUS then
// OBJID, echoing seq and peer.
func (cn *conn) reply(m *Message, objID uint32, s Status) {
	err := cn.send(Message{
		Header: Header{Type: MsgStatus, Seq: m.Seq, Peer: m.Peer},
		Attrs:  []Attr{{AttrStatus, uint32(s)}, {AttrObjID, objID}},
	})
	if err != nil {
		cn.log.Debug("send STATUS", "err", err)
	}
}
