// Package ubustest runs a small in-process stand-in for ubusd on a unix
// socket, for tests of ubus clients, and offers helpers that do what
// `ubus call` and `ubus -v list` do.
//
// The Broker follows ubusd (openwrt/ubus@3cc98db, ubusd_proto.c,
// ubusd_obj.c, ubusd_event.c) message for message, as captured in
// shared/ubus-vectors: HELLO with a random client id, LOOKUP, ADD_OBJECT and
// REMOVE_OBJECT, INVOKE forwarding with USER/GROUP and peer rewriting, reply
// relaying, SUBSCRIBE/UNSUBSCRIBE/NOTIFY with ACTIVE notices, events on
// object 1 including ubus.object.add/remove, PING. Its tests replay the
// captures against it.
//
// Where it deviates from ubusd:
//   - no ACLs: every client may call, publish, subscribe, listen and send;
//   - the ACL (2) and monitor (3) system objects answer INVALID_COMMAND;
//   - USER/GROUP fall back to the numeric uid/gid when they have no name,
//     where ubusd refuses the client;
//   - messages that the codec cannot decode are dropped, where ubusd parses
//     leniently;
//   - file descriptors (SCM_RIGHTS) are not passed on;
//   - a slow client cannot stall it: each client has its own send queue.
package ubustest

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"

	"github.com/pakon/pakon/src/ubus"
)

// System object ids and the lowest id ubusd hands out.
const (
	systemObjectEvent   = 1
	systemObjectACL     = 2
	systemObjectMonitor = 3
	systemObjectMax     = 1024
)

// Broker is an in-process ubusd. Stop and Start it again on the same path
// to simulate a ubusd restart: all ids and registrations are lost.
type Broker struct {
	path string

	mu       sync.Mutex
	ln       *net.UnixListener
	wg       sync.WaitGroup
	clients  map[uint32]*client
	objects  map[uint32]*object
	paths    map[string]*object
	types    map[uint32]*objType
	patterns []*eventPattern // sorted by pattern, like ubusd's AVL tree
	eventSeq uint16
	eventGen int // ubusd's obj_event_seq: one per sent event, against duplicates
}

type client struct {
	b           *Broker
	id          uint32
	nc          *net.UnixConn
	user, group string
	objects     []*object // newest first, like ubusd's list_add
	closed      bool      // guarded by Broker.mu

	// An unbounded send queue, so that a client that does not read
	// cannot block the broker.
	qmu   sync.Mutex
	queue [][]byte
	wake  chan struct{}
	quit  chan struct{}
}

type object struct {
	id          uint32
	path        string
	typ         *objType
	client      *client         // nil for system objects
	subscribers []*subscription // newest first
	targets     []*subscription // subscriptions this object holds
	invokeSeq   uint16
	eventSeen   int
}

type objType struct {
	id       uint32
	refcount int
	methods  ubus.Table
}

type subscription struct {
	subscriber, target *object
}

type eventPattern struct {
	pattern string
	partial bool
	obj     *object
}

// NewBroker returns a broker that will listen on path.
func NewBroker(path string) *Broker {
	return &Broker{path: path}
}

// Start creates a broker on a fresh socket in a temporary directory and
// stops it when the test ends.
func Start(tb testing.TB) *Broker {
	tb.Helper()
	// os.MkdirTemp keeps the path short; unix socket paths are limited to
	// 108 bytes, which t.TempDir can exceed.
	dir, err := os.MkdirTemp("", "ubustest")
	if err != nil {
		tb.Fatalf("ubustest: %v", err)
	}
	b := NewBroker(filepath.Join(dir, "ubus.sock"))
	if err := b.Start(); err != nil {
		os.RemoveAll(dir)
		tb.Fatalf("ubustest: %v", err)
	}
	tb.Cleanup(func() {
		b.Stop()
		os.RemoveAll(dir)
	})
	return b
}

// Path returns the socket path.
func (b *Broker) Path() string { return b.path }

// Start listens on the socket path, replacing a stale socket file.
func (b *Broker) Start() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ln != nil {
		return errors.New("ubustest: broker already running")
	}
	if err := os.Remove(b.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove stale socket: %w", err)
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: b.path, Net: "unix"})
	if err != nil {
		return fmt.Errorf("listen on %s: %w", b.path, err)
	}
	ln.SetUnlinkOnClose(true)
	b.ln = ln
	b.clients = map[uint32]*client{}
	b.objects = map[uint32]*object{}
	b.paths = map[string]*object{}
	b.types = map[uint32]*objType{}
	b.patterns = nil
	b.eventSeq, b.eventGen = 0, 1
	b.objects[systemObjectEvent] = &object{id: systemObjectEvent}
	b.objects[systemObjectACL] = &object{id: systemObjectACL}
	b.objects[systemObjectMonitor] = &object{id: systemObjectMonitor}
	b.wg.Add(1)
	go b.accept(ln)
	return nil
}

// Stop closes the socket and every connection, like ubusd exiting, and
// waits for the broker's goroutines.
func (b *Broker) Stop() {
	b.mu.Lock()
	ln := b.ln
	b.ln = nil
	if ln != nil {
		ln.Close()
	}
	for _, cl := range b.clients {
		cl.close()
	}
	b.clients = nil
	b.mu.Unlock()
	b.wg.Wait()
}

// Restart is Stop then Start on the same path.
func (b *Broker) Restart() error {
	b.Stop()
	return b.Start()
}

// Clients returns the number of connected clients.
func (b *Broker) Clients() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.clients)
}

func (b *Broker) accept(ln *net.UnixListener) {
	defer b.wg.Done()
	for {
		nc, err := ln.AcceptUnix()
		if err != nil {
			return
		}
		b.mu.Lock()
		if b.ln != ln {
			b.mu.Unlock()
			nc.Close()
			return
		}
		cl := &client{b: b, nc: nc, wake: make(chan struct{}, 1), quit: make(chan struct{})}
		cl.user, cl.group = peerNames(nc)
		cl.id = randomID(func(id uint32) bool { return b.clients[id] != nil })
		b.clients[cl.id] = cl
		b.wg.Add(2)
		go cl.writeLoop()
		go cl.readLoop()
		cl.send(ubus.Message{Header: ubus.Header{Type: ubus.MsgHello, Peer: cl.id}})
		b.mu.Unlock()
	}
}

// randomID draws ids like ubus_alloc_id: random, at least 1024, unused.
func randomID(used func(uint32) bool) uint32 {
	var buf [4]byte
	for {
		_, _ = rand.Read(buf[:])
		id := binary.BigEndian.Uint32(buf[:])
		if id >= systemObjectMax && !used(id) {
			return id
		}
	}
}

// peerNames names the peer's uid and gid as ubusd does (SO_PEERCRED).
func peerNames(nc *net.UnixConn) (string, string) {
	raw, err := nc.SyscallConn()
	if err != nil {
		return "", ""
	}
	var cred *syscall.Ucred
	_ = raw.Control(func(fd uintptr) {
		cred, _ = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	})
	if cred == nil {
		return "", ""
	}
	uid, gid := strconv.Itoa(int(cred.Uid)), strconv.Itoa(int(cred.Gid))
	u, g := uid, gid
	if pw, err := user.LookupId(uid); err == nil {
		u = pw.Username
	}
	if gr, err := user.LookupGroupId(gid); err == nil {
		g = gr.Name
	}
	return u, g
}

func (cl *client) writeLoop() {
	defer cl.b.wg.Done()
	for {
		select {
		case <-cl.wake:
		case <-cl.quit:
			return
		}
		cl.qmu.Lock()
		q := cl.queue
		cl.queue = nil
		cl.qmu.Unlock()
		for _, b := range q {
			if _, err := cl.nc.Write(b); err != nil {
				cl.nc.Close() // the read loop sees it and disconnects
				return
			}
		}
	}
}

func (cl *client) readLoop() {
	defer cl.b.wg.Done()
	defer cl.disconnect()
	for {
		// ReadFrame refuses blobs over UBUS_MAX_MSGLEN; ubusd drops such
		// a client too.
		frame, err := ubus.ReadFrame(cl.nc)
		if err != nil {
			return
		}
		m, err := ubus.Decode(frame)
		if err != nil {
			continue
		}
		cl.b.mu.Lock()
		if !cl.closed {
			cl.b.receive(cl, &m)
		}
		cl.b.mu.Unlock()
	}
}

// send queues a message for the client; b.mu is held.
func (cl *client) send(m ubus.Message) {
	if cl == nil || cl.closed {
		return
	}
	b, err := m.Encode()
	if err != nil {
		return
	}
	cl.qmu.Lock()
	cl.queue = append(cl.queue, b)
	cl.qmu.Unlock()
	select {
	case cl.wake <- struct{}{}:
	default:
	}
}

// close ends the connection; b.mu is held.
func (cl *client) close() {
	if cl.closed {
		return
	}
	cl.closed = true
	close(cl.quit)
	cl.nc.Close()
}

// disconnect frees the client's objects, as ubusd_proto_free_client does.
func (cl *client) disconnect() {
	b := cl.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.clients != nil && b.clients[cl.id] == cl {
		for len(cl.objects) > 0 {
			b.freeObject(cl.objects[0])
		}
		delete(b.clients, cl.id)
	}
	cl.close()
}

// statusNone means the handler answered (or forwarded) itself.
const statusNone = -1

// receive handles one message from cl (ubusd_proto_receive_message); b.mu
// is held.
func (b *Broker) receive(cl *client, m *ubus.Message) {
	seq, peer := m.Seq, m.Peer
	var ret int
	switch m.Type {
	case ubus.MsgPing:
		pong := *m
		pong.Type = ubus.MsgData
		cl.send(pong)
		ret = 0
	case ubus.MsgAddObject:
		ret = b.addObject(cl, m)
	case ubus.MsgRemoveObject:
		ret = b.removeObject(cl, m)
	case ubus.MsgLookup:
		ret = b.lookup(cl, m)
	case ubus.MsgInvoke:
		ret = b.invoke(cl, m)
	case ubus.MsgStatus, ubus.MsgData:
		b.relay(cl, m)
		ret = statusNone
	case ubus.MsgSubscribe:
		ret = b.subscribe(cl, m)
	case ubus.MsgUnsubscribe:
		ret = b.unsubscribe(cl, m)
	case ubus.MsgNotify:
		ret = b.notify(cl, m)
	default:
		ret = int(ubus.StatusInvalidCommand)
	}
	if ret == statusNone {
		return
	}
	cl.send(statusMsg(seq, peer, ubus.Status(ret)))
}

func statusMsg(seq uint16, peer uint32, s ubus.Status) ubus.Message {
	return ubus.Message{
		Header: ubus.Header{Type: ubus.MsgStatus, Seq: seq, Peer: peer},
		Attrs:  []ubus.Attr{{ID: ubus.AttrStatus, Value: uint32(s)}},
	}
}

// reply builds a DATA answer that echoes the request's seq and peer.
func reply(m *ubus.Message, attrs ...ubus.Attr) ubus.Message {
	return ubus.Message{Header: ubus.Header{Type: ubus.MsgData, Seq: m.Seq, Peer: m.Peer}, Attrs: attrs}
}

func u32(id ubus.AttrID, v uint32) ubus.Attr { return ubus.Attr{ID: id, Value: v} }
