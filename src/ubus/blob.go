package ubus

import (
	"encoding/binary"
	"fmt"
)

// Blob attribute header: BE32 with bit 31 = extended (blobmsg), bits 24..30 =
// id, bits 0..23 = length including the 4-byte header but not the padding
// to the next multiple of 4.
const (
	attrHdrLen   = 4
	attrExtended = 1 << 31
	attrIDMask   = 0x7f
	attrLenMask  = 0xffffff
)

func pad4(n int) int { return (n + 3) &^ 3 }

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
}

// blobAttr is one blob attribute split off a buffer. payload excludes the
// header and the padding.
type blobAttr struct {
	id       uint8
	extended bool
	payload  []byte
}

// splitAttr takes the first attribute off buf and returns it and the rest.
// It is strict so that whatever decodes re-encodes to the same bytes: the
// padded length must fit and the padding must be zero (libubox always
// zero-fills it, see blob_fill_pad).
func splitAttr(buf []byte) (blobAttr, []byte, error) {
	if len(buf) < attrHdrLen {
		return blobAttr{}, nil, malformed("attribute header needs 4 bytes, %d left", len(buf))
	}
	idLen := binary.BigEndian.Uint32(buf)
	n := int(idLen & attrLenMask)
	if n < attrHdrLen {
		return blobAttr{}, nil, malformed("attribute length %d below 4", n)
	}
	if pad4(n) > len(buf) {
		return blobAttr{}, nil, malformed("attribute length %d (padded %d) exceeds the %d bytes left", n, pad4(n), len(buf))
	}
	for _, c := range buf[n:pad4(n)] {
		if c != 0 {
			return blobAttr{}, nil, malformed("non-zero padding after attribute of length %d", n)
		}
	}
	a := blobAttr{
		id:       uint8(idLen>>24) & attrIDMask,
		extended: idLen&attrExtended != 0,
		payload:  buf[attrHdrLen:n],
	}
	return a, buf[pad4(n):], nil
}

// encoder appends blob attributes to buf. Lengths are back-patched when an
// attribute is closed, so a container's length includes its children's
// padding but not its own. The first error sticks.
type encoder struct {
	buf   []byte
	limit int // maximum len(buf); 0 means no limit
	err   error
}

func (e *encoder) write(p ...byte) {
	if e.err != nil {
		return
	}
	if e.limit > 0 && len(e.buf)+len(p) > e.limit {
		e.err = ErrTooLarge
		return
	}
	e.buf = append(e.buf, p...)
}

func (e *encoder) writeString(s string) {
	if e.err != nil {
		return
	}
	if e.limit > 0 && len(e.buf)+len(s) > e.limit {
		e.err = ErrTooLarge
		return
	}
	e.buf = append(e.buf, s...)
}

func (e *encoder) putBE64(u uint64) {
	e.write(byte(u>>56), byte(u>>48), byte(u>>40), byte(u>>32), byte(u>>24), byte(u>>16), byte(u>>8), byte(u))
}

// open starts an attribute and returns its offset for close.
func (e *encoder) open(id uint8, extended bool) int {
	start := len(e.buf)
	b := id & attrIDMask
	if extended {
		b |= 0x80
	}
	e.write(b, 0, 0, 0)
	return start
}

// close patches the length of the attribute opened at start and pads it.
func (e *encoder) close(start int) {
	if e.err != nil {
		return
	}
	n := len(e.buf) - start
	if n > attrLenMask {
		e.err = fmt.Errorf("%w: attribute of %d bytes exceeds the 24-bit length field", ErrTooLarge, n)
		return
	}
	e.buf[start+1] = byte(n >> 16)
	e.buf[start+2] = byte(n >> 8)
	e.buf[start+3] = byte(n)
	for range pad4(n) - n {
		e.write(0)
	}
}

func (e *encoder) putUint32(id uint8, v uint32) {
	s := e.open(id, false)
	e.write(byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
	e.close(s)
}

func (e *encoder) putUint8(id uint8, v uint8) {
	s := e.open(id, false)
	e.write(v)
	e.close(s)
}

func (e *encoder) putString(id uint8, v string) {
	s := e.open(id, false)
	e.writeString(v)
	e.write(0)
	e.close(s)
}

func (e *encoder) putBytes(id uint8, v []byte) {
	s := e.open(id, false)
	e.write(v...)
	e.close(s)
}
