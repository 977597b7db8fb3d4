package eve

import "encoding/binary"

// Suricata writes an object's members in the same order line after line,
// so the decoders guess each key from the one before it: the guess costs
// a compare of the line's next bytes with the key's text, inlined, where
// reading a key costs a call, a search for its closing quote and a switch
// on its bytes. A wrong guess costs the compare and then what reading did
// before.

// maxKeys bounds the numbers of an object's keys: 0 stands for the start
// of the object, otherKey for the keys the decoder does not know.
const (
	maxKeys  = 32
	otherKey = maxKeys - 1
)

// keyLit is a member's key as it stands in a line: the separator before it
// (none before an object's first), its quotes and the colon after it, as
// its first two bytes and, masked, the next sixteen.
type keyLit struct {
	a, b, ma, mb uint64
	// pre is the first two bytes, or a value no two bytes have, which
	// no line matches.
	pre uint32
	n   int
	k   uint8
}

// litWindow is the size of the window of a line a keyLit compares, the
// longest key text it can hold.
const litWindow = 18

// keySet lists the keys of one kind of object that its decoder knows by
// number (from 1, below otherKey).
type keySet struct {
	names [maxKeys]string
	// lits holds the text of each key after a ',' and, from maxKeys on,
	// as an object's first key.
	lits [2 * maxKeys]keyLit
	// slots finds most keys' numbers by their stringCache slot, ids
	// all.
	slots [cacheSlots]uint8
	ids   map[string]uint8
}

// newKeySet numbers the keys by their index in names. Keys too long for
// the window are never guessed.
func newKeySet(names []string) *keySet {
	if len(names) > otherKey {
		panic("eve: too many keys")
	}
	ks := &keySet{ids: make(map[string]uint8, len(names))}
	for i := range ks.lits {
		ks.lits[i] = keyLit{pre: 1 << 16}
	}
	for i, name := range names {
		if name == "" {
			continue
		}
		ks.names[i] = name
		ks.ids[name] = uint8(i)
		if h := slot([]byte(name)); ks.slots[h] == 0 {
			ks.slots[h] = uint8(i)
		}
		for j, text := range []string{`,"` + name + `":`, `"` + name + `":`} {
			if len(text) > litWindow {
				continue
			}
			var b, m [litWindow]byte
			copy(b[:], text)
			for c := range text {
				m[c] = 0xff
			}
			le := binary.LittleEndian
			ks.lits[j*maxKeys+i] = keyLit{
				pre: uint32(le.Uint16(b[0:2])),
				a:   le.Uint64(b[2:10]), b: le.Uint64(b[10:18]),
				ma: le.Uint64(m[2:10]), mb: le.Uint64(m[10:18]),
				n: len(text), k: uint8(i),
			}
		}
	}
	return ks
}

// guess returns the text of the key that followed key prev last time (or
// came first, for prev 0), from the object's guesses g.
func (ks *keySet) guess(g *[maxKeys]uint8, prev uint8) *keyLit {
	return &ks.lits[g[prev%maxKeys]%(2*maxKeys)]
}

// lit consumes the key l when the line has it next.
func (s *scanner) lit(l *keyLit) bool {
	q := s.pos
	if q+litWindow > len(s.data) {
		return false
	}
	w := (*[litWindow]byte)(s.data[q : q+litWindow])
	if uint32(binary.LittleEndian.Uint16(w[0:2])) != l.pre ||
		(binary.LittleEndian.Uint64(w[2:10])^l.a)&l.ma|(binary.LittleEndian.Uint64(w[10:18])^l.b)&l.mb != 0 {
		return false
	}
	s.pos = q + l.n
	return true
}

// nextKey is scanner.member for an object whose guess failed: it returns
// the number of the key in ks (otherKey for one ks does not list), or
// more == false after the object's end, and records the key as the guess
// after prev (0 at the start of the object).
func (d *Decoder) nextKey(ks *keySet, g *[maxKeys]uint8, prev uint8) (k uint8, more bool, err error) {
	s := &d.s
	if s.pos < len(s.data) && s.data[s.pos] == '}' {
		// Every object ends so: member's answer without the call.
		s.pos++
		return 0, false, nil
	}
	first := prev == 0
	key, more, err := s.member(first)
	if err != nil || !more {
		return 0, more, err
	}
	k = ks.id(key)
	if first {
		g[0] = maxKeys + k
	} else {
		g[prev%maxKeys] = k
	}
	return k, true, nil
}

// id returns the number of key, or otherKey.
func (ks *keySet) id(key []byte) uint8 {
	if k := ks.slots[slot(key)]; ks.names[k%maxKeys] == string(key) && k != 0 {
		return k
	}
	if k, ok := ks.ids[string(key)]; ok {
		return k
	}
	return otherKey
}

// guesses are a Decoder's guesses of keys, one table for each kind of
// object: the number of the key that followed each key last time (plus
// maxKeys after the object's start).
type guesses struct {
	// event has a table for each Type, dns for queries and answers.
	event                                                       [TypeAlert + 1][maxKeys]uint8
	dns                                                         [2][maxKeys]uint8
	ether, flow, question, answer, tls, http, quic, dhcp, alert [maxKeys]uint8
}
