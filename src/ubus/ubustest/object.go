package ubustest

import (
	"sort"
	"strings"

	"github.com/pakon/pakon/src/ubus"
)

// addObject is ubusd_handle_add_object: DATA with OBJID, plus OBJTYPE
// when a SIGNATURE was given (add_object.hex [3], [6]; ubusd_direct.hex
// [25]), then STATUS 0; a taken path is INVALID_ARGUMENT.
func (b *Broker) addObject(cl *client, m *ubus.Message) int {
	var typ *objType
	if tid, ok := m.Uint32(ubus.AttrObjType); ok {
		typ = b.types[tid]
	} else if sig, ok := m.Table(ubus.AttrSignature); ok {
		for _, f := range sig {
			// blobmsg_check_attr(pos, true): every method needs a name.
			if f.Name == "" {
				return int(ubus.StatusInvalidArgument)
			}
		}
		typ = &objType{methods: sig}
		typ.id = randomID(func(id uint32) bool { return b.types[id] != nil })
		b.types[typ.id] = typ
	}
	path, hasPath := m.String(ubus.AttrObjPath)
	if hasPath && b.paths[path] != nil {
		if typ != nil && typ.refcount == 0 {
			delete(b.types, typ.id)
		}
		return int(ubus.StatusInvalidArgument)
	}
	obj := &object{path: path, typ: typ, client: cl}
	obj.id = randomID(func(id uint32) bool { return b.objects[id] != nil })
	if typ != nil {
		typ.refcount++
	}
	b.objects[obj.id] = obj
	if hasPath {
		b.paths[path] = obj
		b.objectEvent(obj, true)
	}
	cl.objects = append([]*object{obj}, cl.objects...)
	attrs := []ubus.Attr{u32(ubus.AttrObjID, obj.id)}
	if _, ok := m.Table(ubus.AttrSignature); ok && typ != nil {
		attrs = append(attrs, u32(ubus.AttrObjType, typ.id))
	}
	cl.send(reply(m, attrs...))
	return 0
}

// removeObject is ubusd_handle_remove_object (ubusd_direct.hex [19], [28]).
func (b *Broker) removeObject(cl *client, m *ubus.Message) int {
	id, ok := m.Uint32(ubus.AttrObjID)
	if !ok {
		return int(ubus.StatusInvalidArgument)
	}
	obj := b.objects[id]
	if obj == nil || obj.client == nil {
		return int(ubus.StatusNotFound)
	}
	if obj.client != cl {
		return int(ubus.StatusPermissionDenied)
	}
	attrs := []ubus.Attr{u32(ubus.AttrObjID, obj.id)}
	if obj.typ != nil && obj.typ.refcount == 1 {
		attrs = append(attrs, u32(ubus.AttrObjType, obj.typ.id))
	}
	cl.send(reply(m, attrs...))
	b.freeObject(obj)
	return 0
}

// freeObject is ubusd_free_object.
func (b *Broker) freeObject(obj *object) {
	for len(obj.targets) > 0 {
		b.unsubscribeOne(obj.targets[0])
	}
	for len(obj.subscribers) > 0 {
		s := obj.subscribers[0]
		sub := s.subscriber
		sub.invokeSeq++
		sub.client.send(ubus.Message{
			Header: ubus.Header{Type: ubus.MsgUnsubscribe, Seq: sub.invokeSeq},
			Attrs:  []ubus.Attr{u32(ubus.AttrObjID, sub.id), u32(ubus.AttrTarget, obj.id)},
		})
		b.unsubscribeOne(s)
	}
	kept := b.patterns[:0]
	for _, p := range b.patterns {
		if p.obj != obj {
			kept = append(kept, p)
		}
	}
	b.patterns = kept
	if obj.path != "" && b.paths[obj.path] == obj {
		b.objectEvent(obj, false)
		delete(b.paths, obj.path)
	}
	if cl := obj.client; cl != nil {
		for i, o := range cl.objects {
			if o == obj {
				cl.objects = append(cl.objects[:i], cl.objects[i+1:]...)
				break
			}
		}
	}
	delete(b.objects, obj.id)
	if obj.typ != nil {
		obj.typ.refcount--
		if obj.typ.refcount == 0 {
			delete(b.types, obj.typ.id)
		}
	}
}

// lookup is ubusd_handle_lookup: all objects, one path, or a "prefix*"
// (list.hex, ubusd_direct.hex [20-23]).
func (b *Broker) lookup(cl *client, m *ubus.Message) int {
	path, ok := m.String(ubus.AttrObjPath)
	if !ok {
		for _, obj := range b.sortedObjects("") {
			b.sendObject(cl, m, obj)
		}
		return 0
	}
	if path == "" {
		return int(ubus.StatusInvalidArgument)
	}
	if prefix, wild := strings.CutSuffix(path, "*"); wild {
		found := b.sortedObjects(prefix)
		if len(found) == 0 {
			return int(ubus.StatusNotFound)
		}
		for _, obj := range found {
			b.sendObject(cl, m, obj)
		}
		return 0
	}
	obj := b.paths[path]
	if obj == nil {
		return int(ubus.StatusNotFound)
	}
	b.sendObject(cl, m, obj)
	return 0
}

// sortedObjects returns the objects whose path starts with prefix, in
// strcmp order like ubusd's path tree.
func (b *Broker) sortedObjects(prefix string) []*object {
	var out []*object
	for p, obj := range b.paths {
		if strings.HasPrefix(p, prefix) {
			out = append(out, obj)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].path < out[j].path })
	return out
}

// sendObject is ubusd_send_obj: objects without a type are skipped.
func (b *Broker) sendObject(cl *client, m *ubus.Message, obj *object) {
	if obj.typ == nil {
		return
	}
	cl.send(reply(m,
		ubus.Attr{ID: ubus.AttrObjPath, Value: obj.path},
		u32(ubus.AttrObjID, obj.id),
		u32(ubus.AttrObjType, obj.typ.id),
		ubus.Attr{ID: ubus.AttrSignature, Value: obj.typ.methods},
	))
}

// forwardInvoke sends an INVOKE to obj's owner with the caller's user and
// group (ubusd_forward_invoke). extra goes first (NO_REPLY for notify).
func (b *Broker) forwardInvoke(cl *client, obj *object, method string, seq uint16, data ubus.Table, hasData bool, extra ...ubus.Attr) {
	attrs := append(extra, u32(ubus.AttrObjID, obj.id), ubus.Attr{ID: ubus.AttrMethod, Value: method})
	if cl.user != "" {
		attrs = append(attrs, ubus.Attr{ID: ubus.AttrUser, Value: cl.user})
	}
	if cl.group != "" {
		attrs = append(attrs, ubus.Attr{ID: ubus.AttrGroup, Value: cl.group})
	}
	if hasData {
		attrs = append(attrs, ubus.Attr{ID: ubus.AttrData, Value: data})
	}
	obj.client.send(ubus.Message{Header: ubus.Header{Type: ubus.MsgInvoke, Seq: seq, Peer: cl.id}, Attrs: attrs})
}

// invoke is ubusd_handle_invoke: forwarded with peer = caller (invoke.hex
// [5-6]) or answered for object 1 (events).
func (b *Broker) invoke(cl *client, m *ubus.Message) int {
	method, ok1 := m.String(ubus.AttrMethod)
	id, ok2 := m.Uint32(ubus.AttrObjID)
	if !ok1 || !ok2 {
		return int(ubus.StatusInvalidArgument)
	}
	obj := b.objects[id]
	if obj == nil {
		return int(ubus.StatusNotFound)
	}
	data, hasData := m.Table(ubus.AttrData)
	if obj.client == nil {
		if obj.id != systemObjectEvent {
			return int(ubus.StatusInvalidCommand) // ACL and monitor objects: not implemented
		}
		switch method {
		case "register":
			return b.registerEvent(cl, data, hasData)
		case "send":
			return b.sendEvent(cl, data, hasData)
		}
		return int(ubus.StatusInvalidCommand)
	}
	b.forwardInvoke(cl, obj, method, m.Seq, data, hasData)
	return statusNone
}

// relay passes an owner's DATA or STATUS on to the caller with peer = the
// object id (ubusd_handle_response); anything else is dropped.
func (b *Broker) relay(cl *client, m *ubus.Message) {
	id, ok := m.Uint32(ubus.AttrObjID)
	if !ok {
		return
	}
	if _, ok := m.Uint32(ubus.AttrStatus); m.Type == ubus.MsgStatus && !ok {
		return
	}
	if _, ok := m.Table(ubus.AttrData); m.Type == ubus.MsgData && !ok {
		return
	}
	obj := b.objects[id]
	if obj == nil || obj.client != cl {
		return
	}
	to := b.clients[m.Peer]
	if to == nil {
		return
	}
	out := *m
	out.Peer = id
	to.send(out)
}
