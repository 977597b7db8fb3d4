package ubustest

import (
	"sort"
	"strings"

	"github.com/pakon/pakon/src/ubus"
)

// subscribe is ubusd_handle_add_watch: the first subscriber makes ubusd
// tell the owner ACTIVE 1 before the STATUS (subscribe_notify.hex [9-10]).
func (b *Broker) subscribe(cl *client, m *ubus.Message) int {
	id, ok1 := m.Uint32(ubus.AttrObjID)
	tid, ok2 := m.Uint32(ubus.AttrTarget)
	if !ok1 || !ok2 {
		return int(ubus.StatusInvalidArgument)
	}
	obj := b.objects[id]
	if obj == nil {
		return int(ubus.StatusNotFound)
	}
	if obj.client != cl {
		return int(ubus.StatusInvalidArgument)
	}
	target := b.objects[tid]
	if target == nil || target.client == nil {
		return int(ubus.StatusNotFound)
	}
	if target.client == cl {
		return int(ubus.StatusInvalidArgument)
	}
	if target.path == "" && target.client.user != cl.user && target.client.group != cl.group {
		return int(ubus.StatusNotFound)
	}
	s := &subscription{subscriber: obj, target: target}
	first := len(target.subscribers) == 0
	target.subscribers = append([]*subscription{s}, target.subscribers...)
	obj.targets = append([]*subscription{s}, obj.targets...)
	if first {
		b.notifyActive(target)
	}
	return 0
}

// unsubscribe is ubusd_handle_remove_watch.
func (b *Broker) unsubscribe(cl *client, m *ubus.Message) int {
	id, ok1 := m.Uint32(ubus.AttrObjID)
	tid, ok2 := m.Uint32(ubus.AttrTarget)
	if !ok1 || !ok2 {
		return int(ubus.StatusInvalidArgument)
	}
	obj := b.objects[id]
	if obj == nil {
		return int(ubus.StatusNotFound)
	}
	if obj.client != cl {
		return int(ubus.StatusInvalidArgument)
	}
	for _, s := range obj.targets {
		if s.target.id == tid {
			b.unsubscribeOne(s)
			return 0
		}
	}
	return int(ubus.StatusNotFound)
}

// unsubscribeOne is ubus_unsubscribe.
func (b *Broker) unsubscribeOne(s *subscription) {
	s.target.subscribers = without(s.target.subscribers, s)
	s.subscriber.targets = without(s.subscriber.targets, s)
	if len(s.target.subscribers) == 0 {
		b.notifyActive(s.target)
	}
}

func without(list []*subscription, s *subscription) []*subscription {
	for i, x := range list {
		if x == s {
			return append(list[:i], list[i+1:]...)
		}
	}
	return list
}

// notifyActive tells an object's owner whether it has subscribers
// (ubus_notify_subscription): NOTIFY with the object's own seq, peer 0.
func (b *Broker) notifyActive(obj *object) {
	active := uint8(0)
	if len(obj.subscribers) > 0 {
		active = 1
	}
	obj.invokeSeq++
	obj.client.send(ubus.Message{
		Header: ubus.Header{Type: ubus.MsgNotify, Seq: obj.invokeSeq},
		Attrs:  []ubus.Attr{u32(ubus.AttrObjID, obj.id), {ID: ubus.AttrActive, Value: active}},
	})
}

// notify is ubusd_handle_notify: unless NO_REPLY, the owner first gets a
// STATUS with OBJID, SUBSCRIBERS, STATUS (subscribe_notify.hex [20]); each
// subscriber gets an INVOKE with peer = the owner's client id ([21]).
func (b *Broker) notify(cl *client, m *ubus.Message) int {
	method, ok1 := m.String(ubus.AttrMethod)
	id, ok2 := m.Uint32(ubus.AttrObjID)
	if !ok1 || !ok2 {
		return int(ubus.StatusInvalidArgument)
	}
	noReply, _ := m.Uint8(ubus.AttrNoReply)
	obj := b.objects[id]
	if obj == nil {
		return int(ubus.StatusNotFound)
	}
	if obj.client != cl {
		return int(ubus.StatusPermissionDenied)
	}
	if noReply == 0 {
		ids := []uint32{}
		for _, s := range obj.subscribers {
			ids = append(ids, s.subscriber.id)
		}
		cl.send(ubus.Message{
			Header: ubus.Header{Type: ubus.MsgStatus, Seq: m.Seq, Peer: m.Peer},
			Attrs: []ubus.Attr{
				u32(ubus.AttrObjID, obj.id),
				{ID: ubus.AttrSubscribers, Value: ids},
				u32(ubus.AttrStatus, 0),
			},
		})
	}
	data, hasData := m.Table(ubus.AttrData)
	var extra []ubus.Attr
	if noReply != 0 {
		extra = []ubus.Attr{{ID: ubus.AttrNoReply, Value: uint8(1)}}
	}
	for _, s := range obj.subscribers {
		b.forwardInvoke(cl, s.subscriber, method, m.Seq, data, hasData, extra...)
	}
	return statusNone
}

// registerEvent is ubusd_alloc_event_pattern (event.hex [5-6]).
func (b *Broker) registerEvent(cl *client, data ubus.Table, hasData bool) int {
	if !hasData {
		return int(ubus.StatusInvalidArgument)
	}
	pv, ok1 := lastOf[ubus.String](data, "pattern")
	ov, ok2 := lastOf[ubus.Int32](data, "object")
	if !ok1 || !ok2 {
		return int(ubus.StatusInvalidArgument)
	}
	id := uint32(ov)
	if id < systemObjectMax {
		return int(ubus.StatusPermissionDenied)
	}
	obj := b.objects[id]
	if obj == nil {
		return int(ubus.StatusNotFound)
	}
	if obj.client != cl {
		return int(ubus.StatusPermissionDenied)
	}
	pattern := string(pv)
	if pattern == "" {
		return int(ubus.StatusPermissionDenied)
	}
	p := &eventPattern{obj: obj}
	p.pattern, p.partial = strings.CutSuffix(pattern, "*")
	b.patterns = append(b.patterns, p)
	sort.SliceStable(b.patterns, func(i, j int) bool { return b.patterns[i].pattern < b.patterns[j].pattern })
	return 0
}

// lastOf finds a named value of type T like blobmsg_parse (the last match
// wins; values of another type are ignored).
func lastOf[T ubus.Value](t ubus.Table, name string) (T, bool) {
	var (
		out   T
		found bool
	)
	for _, f := range t {
		if v, ok := f.Value.(T); ok && f.Name == name {
			out, found = v, true
		}
	}
	return out, found
}

// sendEvent is ubusd_forward_event (event.hex [8-10]).
func (b *Broker) sendEvent(cl *client, data ubus.Table, hasData bool) int {
	if !hasData {
		return int(ubus.StatusInvalidArgument)
	}
	id, ok1 := lastOf[ubus.String](data, "id")
	payload, ok2 := lastOf[ubus.Table](data, "data")
	if !ok1 || !ok2 {
		return int(ubus.StatusInvalidArgument)
	}
	if strings.HasPrefix(string(id), "ubus.") {
		return int(ubus.StatusPermissionDenied)
	}
	b.deliverEvent(cl, string(id), payload)
	return 0
}

// objectEvent sends ubus.object.add or ubus.object.remove.
func (b *Broker) objectEvent(obj *object, add bool) {
	name := "ubus.object.remove"
	if add {
		name = "ubus.object.add"
	}
	b.deliverEvent(nil, name, ubus.Table{
		{Name: "id", Value: ubus.Int32(obj.id)},
		{Name: "path", Value: ubus.String(obj.path)},
	})
}

// deliverEvent is ubusd_send_event: every listener object whose pattern
// matches gets the event once, not the sender's own objects; each delivery
// takes the next global event seq and has peer 0.
func (b *Broker) deliverEvent(from *client, name string, data ubus.Table) {
	b.eventGen++
	for _, p := range b.patterns {
		if name != p.pattern && !(p.partial && strings.HasPrefix(name, p.pattern)) {
			continue
		}
		obj := p.obj
		if obj.client == from || obj.eventSeen == b.eventGen {
			continue
		}
		obj.eventSeen = b.eventGen
		b.eventSeq++
		obj.client.send(ubus.Message{
			Header: ubus.Header{Type: ubus.MsgInvoke, Seq: b.eventSeq},
			Attrs: []ubus.Attr{
				u32(ubus.AttrObjID, obj.id),
				{ID: ubus.AttrMethod, Value: name},
				{ID: ubus.AttrData, Value: data},
			},
		})
	}
}
