package ubus

import (
	"encoding/binary"
	"fmt"
	"io"
)

// Sizes of the wire format.
const (
	// HeaderLen is the size of struct ubus_msghdr.
	HeaderLen = 8
	// MaxMessageLen is UBUS_MAX_MSGLEN: the largest message blob (its
	// 4-byte header included, padded to 4, the 8-byte ubus header not)
	// that libubus and ubusd accept. ubusd drops a client that sends more.
	MaxMessageLen = 1048576
	// MaxReplyData is the largest blobmsg payload a method reply can carry
	// (Table.EncodedLen): MaxMessageLen minus the message blob header, the
	// OBJID attribute and the DATA attribute header.
	MaxReplyData = MaxMessageLen - 4 - 8 - 4
)

// Header is struct ubus_msghdr. Peer is a client id, an object id or 0,
// depending on type and direction.
type Header struct {
	Version uint8
	Type    MsgType
	Seq     uint16
	Peer    uint32
}

// Message is one ubus message: the header and the attributes of the message
// blob, in wire order.
type Message struct {
	Header
	Attrs []Attr
}

// Attr is one ubus attribute. The Go type of Value depends on ID:
//
//	STATUS, OBJID, OBJTYPE, TARGET  uint32
//	ACTIVE, NO_REPLY                uint8
//	OBJPATH, METHOD, USER, GROUP    string
//	SIGNATURE, DATA                 Table (blobmsg)
//	SUBSCRIBERS                     []uint32
//	any other id                    []byte (raw payload)
type Attr struct {
	ID    AttrID
	Value any
}

type attrKind uint8

const (
	kindRaw attrKind = iota
	kindUint32
	kindUint8
	kindString
	kindTable
	kindIDs
)

func kindOf(id AttrID) attrKind {
	switch id {
	case AttrStatus, AttrObjID, AttrObjType, AttrTarget:
		return kindUint32
	case AttrActive, AttrNoReply:
		return kindUint8
	case AttrObjPath, AttrMethod, AttrUser, AttrGroup:
		return kindString
	case AttrSignature, AttrData:
		return kindTable
	case AttrSubscribers:
		return kindIDs
	}
	return kindRaw
}

// Uint32 returns the value of the first attribute id if it is a uint32.
func (m *Message) Uint32(id AttrID) (uint32, bool) {
	for _, a := range m.Attrs {
		if a.ID == id {
			v, ok := a.Value.(uint32)
			return v, ok
		}
	}
	return 0, false
}

// Uint8 returns the value of the first attribute id if it is a uint8.
func (m *Message) Uint8(id AttrID) (uint8, bool) {
	for _, a := range m.Attrs {
		if a.ID == id {
			v, ok := a.Value.(uint8)
			return v, ok
		}
	}
	return 0, false
}

// String returns the value of the first attribute id if it is a string.
func (m *Message) String(id AttrID) (string, bool) {
	for _, a := range m.Attrs {
		if a.ID == id {
			v, ok := a.Value.(string)
			return v, ok
		}
	}
	return "", false
}

// Table returns the value of the first attribute id if it is a Table.
func (m *Message) Table(id AttrID) (Table, bool) {
	for _, a := range m.Attrs {
		if a.ID == id {
			v, ok := a.Value.(Table)
			return v, ok
		}
	}
	return nil, false
}

// Status returns the STATUS attribute, or StatusInvalidArgument when it is
// missing, as libubus does.
func (m *Message) Status() Status {
	if s, ok := m.Uint32(AttrStatus); ok {
		return Status(s)
	}
	return StatusInvalidArgument
}

// Encode returns the wire bytes of m, or ErrTooLarge when its message blob
// would exceed MaxMessageLen.
func (m *Message) Encode() ([]byte, error) {
	return m.Append(nil)
}

// Append appends the wire bytes of m to b.
func (m *Message) Append(b []byte) ([]byte, error) {
	base := len(b)
	e := encoder{buf: b, limit: base + HeaderLen + MaxMessageLen}
	e.write(m.Version, byte(m.Type))
	e.write(byte(m.Seq>>8), byte(m.Seq))
	e.write(byte(m.Peer>>24), byte(m.Peer>>16), byte(m.Peer>>8), byte(m.Peer))
	blob := e.open(0, false)
	for _, a := range m.Attrs {
		if err := appendAttr(&e, a); err != nil {
			return b, fmt.Errorf("encode %s attribute %s: %w", m.Type, a.ID, err)
		}
	}
	e.close(blob)
	if e.err != nil {
		return b, fmt.Errorf("encode %s message: %w", m.Type, e.err)
	}
	return e.buf, nil
}

func appendAttr(e *encoder, a Attr) error {
	id := uint8(a.ID)
	if a.ID > attrIDMask {
		return fmt.Errorf("attribute id %d above 127", id)
	}
	switch kindOf(a.ID) {
	case kindUint32:
		v, ok := a.Value.(uint32)
		if !ok {
			return fmt.Errorf("value %T, want uint32", a.Value)
		}
		e.putUint32(id, v)
	case kindUint8:
		v, ok := a.Value.(uint8)
		if !ok {
			return fmt.Errorf("value %T, want uint8", a.Value)
		}
		e.putUint8(id, v)
	case kindString:
		v, ok := a.Value.(string)
		if !ok {
			return fmt.Errorf("value %T, want string", a.Value)
		}
		e.putString(id, v)
	case kindTable:
		v, ok := a.Value.(Table)
		if !ok {
			return fmt.Errorf("value %T, want Table", a.Value)
		}
		s := e.open(id, false)
		v.appendData(e)
		e.close(s)
	case kindIDs:
		v, ok := a.Value.([]uint32)
		if !ok {
			return fmt.Errorf("value %T, want []uint32", a.Value)
		}
		s := e.open(id, false)
		for _, x := range v {
			e.putUint32(0, x)
		}
		e.close(s)
	default:
		v, ok := a.Value.([]byte)
		if !ok {
			return fmt.Errorf("value %T, want []byte", a.Value)
		}
		e.putBytes(id, v)
	}
	return nil
}

// ReadFrame reads one message off r: the 8-byte header and the message blob
// whose length the blob header gives. Errors wrap ErrFraming (or io.EOF at a
// clean end) because after them the stream cannot be resynchronised.
func ReadFrame(r io.Reader) ([]byte, error) {
	var hdr [HeaderLen + attrHdrLen]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		if err == io.EOF {
			return nil, io.EOF
		}
		return nil, fmt.Errorf("%w: read header: %v", ErrFraming, err)
	}
	if hdr[0] != 0 {
		return nil, fmt.Errorf("%w: version %d, want 0", ErrFraming, hdr[0])
	}
	n := int(binary.BigEndian.Uint32(hdr[HeaderLen:]) & attrLenMask)
	if n < attrHdrLen {
		return nil, fmt.Errorf("%w: message blob length %d below 4", ErrFraming, n)
	}
	if pad4(n) > MaxMessageLen {
		return nil, fmt.Errorf("%w: message blob length %d above %d", ErrFraming, n, MaxMessageLen)
	}
	frame := make([]byte, HeaderLen+n)
	copy(frame, hdr[:])
	if _, err := io.ReadFull(r, frame[len(hdr):]); err != nil {
		return nil, fmt.Errorf("%w: read %s message body of %d bytes: %v", ErrFraming, MsgType(hdr[1]), n, err)
	}
	return frame, nil
}

// Decode decodes exactly one message. It accepts only bytes that Encode
// produces again unchanged: zero padding, known attributes of the right
// size, canonical blobmsg data.
func Decode(b []byte) (Message, error) {
	if len(b) < HeaderLen+attrHdrLen {
		return Message{}, malformed("message of %d bytes is shorter than its headers", len(b))
	}
	m := Message{Header: Header{
		Version: b[0],
		Type:    MsgType(b[1]),
		Seq:     binary.BigEndian.Uint16(b[2:]),
		Peer:    binary.BigEndian.Uint32(b[4:]),
	}}
	if m.Version != 0 {
		return Message{}, malformed("version %d, want 0", m.Version)
	}
	blob := b[HeaderLen:]
	idLen := binary.BigEndian.Uint32(blob)
	if idLen&^attrLenMask != 0 {
		return Message{}, malformed("%s message blob has id/flags %#x, want 0", m.Type, idLen>>24)
	}
	n := int(idLen)
	if n != len(blob) {
		return Message{}, malformed("%s message blob length %d, but %d bytes follow the header", m.Type, n, len(blob))
	}
	if pad4(n) > MaxMessageLen {
		return Message{}, malformed("%s message blob length %d above %d", m.Type, n, MaxMessageLen)
	}
	rest := blob[attrHdrLen:]
	for len(rest) > 0 {
		a, next, err := splitAttr(rest)
		if err != nil {
			return Message{}, fmt.Errorf("decode %s message seq %d: %w", m.Type, m.Seq, err)
		}
		attr, err := decodeAttr(a)
		if err != nil {
			return Message{}, fmt.Errorf("decode %s message seq %d: attribute %s: %w", m.Type, m.Seq, AttrID(a.id), err)
		}
		m.Attrs = append(m.Attrs, attr)
		rest = next
	}
	return m, nil
}

func decodeAttr(a blobAttr) (Attr, error) {
	if a.extended {
		return Attr{}, malformed("extended flag on a ubus attribute")
	}
	id := AttrID(a.id)
	p := a.payload
	switch kindOf(id) {
	case kindUint32:
		if len(p) != 4 {
			return Attr{}, malformed("int32 of %d bytes", len(p))
		}
		return Attr{id, binary.BigEndian.Uint32(p)}, nil
	case kindUint8:
		if len(p) != 1 {
			return Attr{}, malformed("int8 of %d bytes", len(p))
		}
		return Attr{id, p[0]}, nil
	case kindString:
		if len(p) == 0 || p[len(p)-1] != 0 {
			return Attr{}, malformed("string not NUL-terminated")
		}
		return Attr{id, string(p[:len(p)-1])}, nil
	case kindTable:
		t, err := decodeTable(p, 0)
		if err != nil {
			return Attr{}, err
		}
		return Attr{id, t}, nil
	case kindIDs:
		ids := []uint32{}
		for len(p) > 0 {
			sub, next, err := splitAttr(p)
			if err != nil {
				return Attr{}, err
			}
			if sub.extended || sub.id != 0 || len(sub.payload) != 4 {
				return Attr{}, malformed("subscriber entry must be a plain id-0 int32")
			}
			ids = append(ids, binary.BigEndian.Uint32(sub.payload))
			p = next
		}
		return Attr{id, ids}, nil
	}
	return Attr{id, append([]byte{}, p...)}, nil
}
