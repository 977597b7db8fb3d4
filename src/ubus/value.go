package ubus

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Type is a blobmsg type code (BLOBMSG_TYPE_*). Method signatures carry
// these codes as INT32 values.
type Type uint8

// Blobmsg types, in the order of enum blobmsg_type.
const (
	TypeUnspec Type = 0
	TypeArray  Type = 1
	TypeTable  Type = 2
	TypeString Type = 3
	TypeInt64  Type = 4
	TypeInt32  Type = 5
	TypeInt16  Type = 6
	TypeInt8   Type = 7
	TypeDouble Type = 8

	// TypeBool is BLOBMSG_TYPE_BOOL, the same code as TypeInt8.
	TypeBool = TypeInt8
)

var typeNames = [...]string{"unspec", "array", "table", "string", "int64", "int32", "int16", "int8", "double"}

// String returns the lower-case type name (int8 for booleans).
func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return fmt.Sprintf("type%d", uint8(t))
}

// Value is one blobmsg value. The concrete types are String, Int8, Int16,
// Int32, Int64, Double, Unspec, Array and Table; a nil Value encodes as a
// null (zero-length UNSPEC).
type Value interface {
	// Type returns the blobmsg type code the value encodes as.
	Type() Type
	appendData(e *encoder)
}

// String is a blobmsg STRING, sent NUL-terminated.
type String string

// Int8 is a blobmsg INT8, which is also ubus's boolean: the CLI prints any
// non-zero value as true.
type Int8 int8

// Int16 is a blobmsg INT16 (big-endian, signed as the CLI prints it).
type Int16 int16

// Int32 is a blobmsg INT32; JSON integers that fit become this type.
type Int32 int32

// Int64 is a blobmsg INT64; JSON integers beyond the int32 range become this.
type Int64 int64

// Double is a blobmsg DOUBLE, sent as big-endian IEEE-754 bits.
type Double float64

// Unspec is a blobmsg UNSPEC with its raw payload; a nil or empty Unspec is
// JSON null.
type Unspec []byte

// Array is a blobmsg ARRAY: values without names.
type Array []Value

// Field is one named value of a Table.
type Field struct {
	Name  string
	Value Value
}

// Table is a blobmsg TABLE, or the payload of a DATA attribute: named values
// in wire order. Names may repeat on the wire, so it is a list, not a map.
type Table []Field

// Null is the blobmsg null value (a zero-length UNSPEC).
var Null = Unspec(nil)

// Bool returns the Int8 that encodes b the way libubox does.
func Bool(b bool) Int8 {
	if b {
		return 1
	}
	return 0
}

// Type implements Value.
func (String) Type() Type { return TypeString }

// Type implements Value.
func (Int8) Type() Type { return TypeInt8 }

// Type implements Value.
func (Int16) Type() Type { return TypeInt16 }

// Type implements Value.
func (Int32) Type() Type { return TypeInt32 }

// Type implements Value.
func (Int64) Type() Type { return TypeInt64 }

// Type implements Value.
func (Double) Type() Type { return TypeDouble }

// Type implements Value.
func (Unspec) Type() Type { return TypeUnspec }

// Type implements Value.
func (Array) Type() Type { return TypeArray }

// Type implements Value.
func (Table) Type() Type { return TypeTable }

func (v String) appendData(e *encoder) { e.writeString(string(v)); e.write(0) }
func (v Int8) appendData(e *encoder)   { e.write(byte(v)) }
func (v Int16) appendData(e *encoder)  { e.write(byte(v>>8), byte(v)) }
func (v Int32) appendData(e *encoder) {
	e.write(byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}
func (v Int64) appendData(e *encoder)  { e.putBE64(uint64(v)) }
func (v Double) appendData(e *encoder) { e.putBE64(math.Float64bits(float64(v))) }
func (v Unspec) appendData(e *encoder) { e.write(v...) }
func (v Array) appendData(e *encoder) {
	for _, x := range v {
		appendValue(e, "", x)
	}
}
func (v Table) appendData(e *encoder) {
	for _, f := range v {
		appendValue(e, f.Name, f.Value)
	}
}

// appendValue appends one blobmsg attribute: extended header with the type
// as id, BE16 name length, the name, a NUL, zero padding to a multiple of 4
// counted from the end of the attribute header, then the value.
func appendValue(e *encoder, name string, v Value) {
	if v == nil {
		v = Null
	}
	if len(name) > math.MaxUint16 {
		if e.err == nil {
			e.err = fmt.Errorf("%w: blobmsg name of %d bytes", ErrTooLarge, len(name))
		}
		return
	}
	s := e.open(uint8(v.Type()), true)
	e.write(byte(len(name)>>8), byte(len(name)))
	e.writeString(name)
	e.write(0)
	for range pad4(2+len(name)+1) - (2 + len(name) + 1) {
		e.write(0)
	}
	v.appendData(e)
	e.close(s)
}

// Get returns the value of the first field called name.
func (t Table) Get(name string) (Value, bool) {
	for _, f := range t {
		if f.Name == name {
			return f.Value, true
		}
	}
	return nil, false
}

// EncodedLen returns the number of bytes t takes as the payload of a DATA
// attribute (its fields with their padding, no outer header). A method reply
// fits into one ubus message while this is at most MaxReplyData.
func (t Table) EncodedLen() int {
	var e encoder
	t.appendData(&e)
	return len(e.buf)
}

// decodeTable decodes a list of named blobmsg attributes (a table's payload
// or the payload of DATA and SIGNATURE).
func decodeTable(buf []byte, depth int) (Table, error) {
	t := Table{}
	for len(buf) > 0 {
		a, rest, err := splitAttr(buf)
		if err != nil {
			return nil, err
		}
		name, v, err := decodeValue(a, depth)
		if err != nil {
			return nil, err
		}
		t = append(t, Field{Name: name, Value: v})
		buf = rest
	}
	return t, nil
}

func decodeArray(buf []byte, depth int) (Array, error) {
	arr := Array{}
	for len(buf) > 0 {
		a, rest, err := splitAttr(buf)
		if err != nil {
			return nil, err
		}
		name, v, err := decodeValue(a, depth)
		if err != nil {
			return nil, err
		}
		if name != "" {
			// libubox never writes names into arrays; keeping one would
			// need a representation Array does not have.
			return nil, malformed("array element named %q", name)
		}
		arr = append(arr, v)
		buf = rest
	}
	return arr, nil
}

// maxDepth bounds nesting so that hostile input cannot exhaust the stack.
// A 1 MiB message holds at most 1 MiB/12 nested tables; 512 is far above
// anything ubus callers send.
const maxDepth = 512

// decodeValue decodes one blobmsg attribute into its name and value,
// accepting only what re-encodes to the same bytes.
func decodeValue(a blobAttr, depth int) (string, Value, error) {
	if !a.extended {
		return "", nil, malformed("plain attribute id %d inside blobmsg data", a.id)
	}
	p := a.payload
	if len(p) < 3 {
		return "", nil, malformed("blobmsg header needs 3 bytes, got %d", len(p))
	}
	nameLen := int(binary.BigEndian.Uint16(p))
	hdrLen := pad4(2 + nameLen + 1)
	if len(p) < hdrLen {
		return "", nil, malformed("blobmsg name of %d bytes exceeds attribute of %d", nameLen, len(p))
	}
	if p[2+nameLen] != 0 {
		return "", nil, malformed("blobmsg name not NUL-terminated")
	}
	for _, c := range p[2+nameLen+1 : hdrLen] {
		if c != 0 {
			return "", nil, malformed("non-zero padding after blobmsg name")
		}
	}
	name := string(p[2 : 2+nameLen])
	data := p[hdrLen:]
	v, err := decodeData(Type(a.id), data, depth)
	if err != nil {
		if name != "" {
			return "", nil, fmt.Errorf("%q: %w", name, err)
		}
		return "", nil, err
	}
	return name, v, nil
}

func decodeData(t Type, data []byte, depth int) (Value, error) {
	fixed := func(n int) error {
		if len(data) != n {
			return malformed("%s value of %d bytes, want %d", t, len(data), n)
		}
		return nil
	}
	switch t {
	case TypeUnspec:
		if len(data) == 0 {
			return Null, nil
		}
		return Unspec(append([]byte(nil), data...)), nil
	case TypeArray, TypeTable:
		if depth >= maxDepth {
			return nil, malformed("blobmsg nested deeper than %d", maxDepth)
		}
		if t == TypeArray {
			return decodeArray(data, depth+1)
		}
		return decodeTable(data, depth+1)
	case TypeString:
		if len(data) == 0 || data[len(data)-1] != 0 {
			return nil, malformed("string not NUL-terminated")
		}
		return String(data[:len(data)-1]), nil
	case TypeInt64:
		if err := fixed(8); err != nil {
			return nil, err
		}
		return Int64(binary.BigEndian.Uint64(data)), nil
	case TypeInt32:
		if err := fixed(4); err != nil {
			return nil, err
		}
		return Int32(binary.BigEndian.Uint32(data)), nil
	case TypeInt16:
		if err := fixed(2); err != nil {
			return nil, err
		}
		return Int16(binary.BigEndian.Uint16(data)), nil
	case TypeInt8:
		if err := fixed(1); err != nil {
			return nil, err
		}
		return Int8(data[0]), nil
	case TypeDouble:
		if err := fixed(8); err != nil {
			return nil, err
		}
		return Double(math.Float64frombits(binary.BigEndian.Uint64(data))), nil
	}
	return nil, malformed("unknown blobmsg type %d", uint8(t))
}

// DecodeTable decodes blobmsg data as found in a DATA attribute: named
// values with no outer header.
func DecodeTable(data []byte) (Table, error) {
	return decodeTable(data, 0)
}

// AppendTable appends the blobmsg encoding of t without an outer header, as
// it goes into a DATA attribute.
func AppendTable(b []byte, t Table) ([]byte, error) {
	e := encoder{buf: b}
	t.appendData(&e)
	return e.buf, e.err
}
