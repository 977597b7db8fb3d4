package store

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
)

// Column names one column of an archived day's segment.
type Column int

// The columns of a segment, in stored order. Times are milliseconds since
// the epoch; text values are ids into the archive's strings (see
// Archive.Strings).
const (
	ColStart Column = iota
	ColDur
	ColMAC
	ColSrcIP
	ColSrcPort
	ColDestIP
	ColDestPort
	ColProto
	ColApp
	ColName
	ColSource
	ColBytesSent
	ColBytesRcv
	ColPktsSent
	ColPktsRcv
	ColFlows
	// NumColumns is the number of columns.
	NumColumns
)

// Segment heads: PKS3 keeps the byte maxima of each block of rows
// (see BlockMax) between the row count and the name counts; PKS2, written
// before, has none and still reads (no block can be skipped).
const (
	segmentMagic   = "PKS3"
	segmentMagicV2 = "PKS2"
)

// Bound names a maximum that a segment keeps for each block of BlockRows
// rows, so that a page sorted by it skips blocks and days that cannot
// reach it.
type Bound int

// The kept maxima, in stored order.
const (
	BoundBytes Bound = iota // bytes_sent + bytes_received
	BoundSent               // bytes_sent
	BoundRcv                // bytes_received
	numBounds
)

// BlockRows is how many rows each value of BlockMax covers: rows
// [k*BlockRows, (k+1)*BlockRows) of the segment, the last block fewer.
const BlockRows = packBlock

// A segment is stored as rows of the archive's segments table, so that a
// query reads only the columns it decodes: row seg<<segShift | c holds
// column c, row seg<<segShift | segHead the head (magic, row count and
// the rows per name, which is all a whole day's count needs).
const (
	segShift = 5
	segHead  = int64(NumColumns)
)

// segRow is the segments row of part (a column or segHead) of segment seg.
func segRow(seg, part int64) int64 { return seg<<segShift | part }

// Segment is one archived day as stored: its rows in columns, sorted by
// start, and how many rows each observed name has. A row's id in the
// archive (and in all_flows) is Day<<32 + its index + 1. Decoding a column
// takes a few nanoseconds a value, so queries decode only the columns they
// read, and a query that only needs a whole day's rows per name (the total
// of a filtered page) reads NameCounts instead.
type Segment struct {
	Day   int64
	Rows  int
	names []byte
	maxes []byte // numBounds runs of a uvarint per block; nil before PKS3
	cols  [NumColumns][]byte
	tmp   []int64 // Gather's buffer for a delta column
}

// NameCount is how many rows of a day have one observed name (a string id).
type NameCount struct {
	Name, Rows int64
}

// NameCounts returns the rows per observed name, by ascending name id.
func (s *Segment) NameCounts() ([]NameCount, error) {
	b := s.names
	k, n := binary.Uvarint(b)
	if n <= 0 || k > uint64(s.Rows) {
		return nil, fmt.Errorf("decode day %d name counts: %w", s.Day, errCorrupt)
	}
	b = b[n:]
	out := make([]NameCount, k)
	var id int64
	for i := range out {
		d, n := binary.Uvarint(b)
		if n <= 0 {
			return nil, fmt.Errorf("decode day %d name counts: %w", s.Day, errCorrupt)
		}
		b = b[n:]
		c, n := binary.Uvarint(b)
		if n <= 0 {
			return nil, fmt.Errorf("decode day %d name counts: %w", s.Day, errCorrupt)
		}
		b = b[n:]
		id += int64(d)
		out[i] = NameCount{Name: id, Rows: int64(c)}
	}
	return out, nil
}

// ID returns the all_flows id of row i.
func (s *Segment) ID(i int) int64 { return ArchivedID(s.Day, i) }

// ArchivedID is the all_flows id of row i of archived day day.
func ArchivedID(day int64, i int) int64 { return day<<32 + int64(i) + 1 }

// Column decodes column c into dst, grown to s.Rows values, and returns it.
func (s *Segment) Column(c Column, dst []int64) ([]int64, error) {
	dst = slices.Grow(dst[:0], s.Rows)[:s.Rows]
	if c < 0 || c >= NumColumns {
		return nil, fmt.Errorf("decode day %d: no column %d", s.Day, c)
	}
	if s.Rows == 0 {
		return dst, nil
	}
	if s.cols[c] == nil {
		return nil, fmt.Errorf("decode day %d: column %d not read", s.Day, c)
	}
	if err := decodeColumn(s.cols[c], dst); err != nil {
		return nil, fmt.Errorf("decode day %d column %d: %w", s.Day, c, err)
	}
	return dst, nil
}

// Gather decodes the values of column c at the rows idx (ascending) into
// dst (grown to len(idx)), unpacking only the blocks that hold them, and
// returns it.
func (s *Segment) Gather(c Column, idx []int32, dst []int64) ([]int64, error) {
	dst = slices.Grow(dst[:0], len(idx))[:len(idx)]
	if c < 0 || c >= NumColumns {
		return nil, fmt.Errorf("decode day %d: no column %d", s.Day, c)
	}
	for i, j := range idx {
		if j < 0 || int(j) >= s.Rows || (i > 0 && j <= idx[i-1]) {
			return nil, fmt.Errorf("decode day %d: rows %v not ascending within %d", s.Day, idx, s.Rows)
		}
	}
	if len(idx) == 0 {
		return dst, nil
	}
	if s.cols[c] == nil {
		return nil, fmt.Errorf("decode day %d: column %d not read", s.Day, c)
	}
	var err error
	if s.tmp, err = gatherColumn(s.cols[c], s.Rows, idx, dst, s.tmp); err != nil {
		return nil, fmt.Errorf("decode day %d column %d: %w", s.Day, c, err)
	}
	return dst, nil
}

// BlockMax decodes the maximum of b over each block of BlockRows rows
// into dst (grown to their number) and returns it. ok is false for a
// segment written without maxima (format PKS2): every block may then hold
// any value.
func (s *Segment) BlockMax(b Bound, dst []int64) (maxes []int64, ok bool, err error) {
	if b < 0 || b >= numBounds {
		return nil, false, fmt.Errorf("decode day %d: no bound %d", s.Day, b)
	}
	if s.maxes == nil {
		return dst[:0], false, nil
	}
	n := (s.Rows + BlockRows - 1) / BlockRows
	dst = slices.Grow(dst[:0], n)[:n]
	p := s.maxes
	for k := range int(b)*n + n {
		v, w := binary.Uvarint(p)
		if w <= 0 || v > 1<<62 {
			return nil, false, fmt.Errorf("decode day %d block maxima: %w", s.Day, errCorrupt)
		}
		p = p[w:]
		if k >= int(b)*n {
			dst[k-int(b)*n] = int64(v)
		}
	}
	return dst, true, nil
}

// parseHead reads a segment's head; its columns are set by setColumn.
func parseHead(day int64, b []byte) (*Segment, error) {
	s := &Segment{Day: day}
	v3 := bytes.HasPrefix(b, []byte(segmentMagic))
	if !v3 && !bytes.HasPrefix(b, []byte(segmentMagicV2)) {
		return nil, fmt.Errorf("day %d: %w", day, errCorrupt)
	}
	b = b[len(segmentMagic):]
	rows, k := binary.Uvarint(b)
	if k <= 0 || rows > 1<<31 {
		return nil, fmt.Errorf("day %d: %w", day, errCorrupt)
	}
	b = b[k:]
	if v3 {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			return nil, fmt.Errorf("day %d: %w", day, errCorrupt)
		}
		s.maxes, b = b[k:k+int(n):k+int(n)], b[k+int(n):]
	}
	s.Rows, s.names = int(rows), b
	return s, nil
}

// setColumn gives s the stored bytes of column c.
func (s *Segment) setColumn(c Column, b []byte) { s.cols[c] = b }

// encoded is a segment ready to store: head and columns.
type encoded struct {
	head []byte
	cols [NumColumns][]byte
}

// parse is parseHead and setColumn on an encoded segment (tests, migration).
func (e *encoded) parse(day int64) (*Segment, error) {
	s, err := parseHead(day, e.head)
	if err != nil {
		return nil, err
	}
	for c := range NumColumns {
		s.setColumn(c, e.cols[c])
	}
	return s, nil
}

// sortRows puts rows in segment order: by start, then by every other
// field, so that the same rows always get the same ids.
func sortRows(rows []archRow) {
	slices.SortFunc(rows, func(a, b archRow) int {
		return cmp.Or(cmp.Compare(a.Start, b.Start), cmp.Compare(a.End, b.End),
			strings.Compare(a.MAC, b.MAC), strings.Compare(a.Name, b.Name), strings.Compare(a.DestIP, b.DestIP),
			cmp.Compare(a.DestPort, b.DestPort), strings.Compare(a.Proto, b.Proto), strings.Compare(a.SrcIP, b.SrcIP),
			cmp.Compare(a.SrcPort, b.SrcPort), strings.Compare(a.AppProto, b.AppProto), strings.Compare(a.Source, b.Source),
			cmp.Compare(a.BytesSent, b.BytesSent), cmp.Compare(a.BytesRcv, b.BytesRcv),
			cmp.Compare(a.PktsSent, b.PktsSent), cmp.Compare(a.PktsRcv, b.PktsRcv), cmp.Compare(a.Flows, b.Flows))
	})
}

// encodeSegment sorts rows and encodes them; ids maps their text values to
// string ids (see dict).
func encodeSegment(rows []archRow, ids func(string) (int64, error)) (*encoded, error) {
	sortRows(rows)
	var cols [NumColumns][]int64
	for c := range cols {
		cols[c] = make([]int64, len(rows))
	}
	for i := range rows {
		r := &rows[i]
		cols[ColStart][i], cols[ColDur][i] = r.Start, r.End-r.Start
		for _, f := range [...]struct {
			c Column
			s string
		}{{ColMAC, r.MAC}, {ColSrcIP, r.SrcIP}, {ColDestIP, r.DestIP}, {ColProto, r.Proto},
			{ColApp, r.AppProto}, {ColName, r.Name}, {ColSource, r.Source}} {
			id, err := ids(f.s)
			if err != nil {
				return nil, err
			}
			cols[f.c][i] = id
		}
		cols[ColSrcPort][i], cols[ColDestPort][i] = r.SrcPort, r.DestPort
		cols[ColBytesSent][i], cols[ColBytesRcv][i] = r.BytesSent, r.BytesRcv
		cols[ColPktsSent][i], cols[ColPktsRcv][i] = r.PktsSent, r.PktsRcv
		cols[ColFlows][i] = r.Flows
	}
	counts := map[int64]int64{}
	for _, id := range cols[ColName] {
		counts[id]++
	}
	nameIDs := make([]int64, 0, len(counts))
	for id := range counts {
		nameIDs = append(nameIDs, id)
	}
	slices.Sort(nameIDs)
	names := binary.AppendUvarint(nil, uint64(len(nameIDs)))
	prev := int64(0)
	for _, id := range nameIDs {
		names = binary.AppendUvarint(names, uint64(id-prev))
		names = binary.AppendUvarint(names, uint64(counts[id]))
		prev = id
	}
	e := &encoded{}
	for c := range cols {
		e.cols[c] = appendColumn(nil, cols[c], Column(c) == ColStart)
	}
	e.head = append([]byte(segmentMagic), binary.AppendUvarint(nil, uint64(len(rows)))...)
	maxes := appendBlockMax(nil, cols[ColBytesSent], cols[ColBytesRcv])
	e.head = binary.AppendUvarint(e.head, uint64(len(maxes)))
	e.head = append(e.head, maxes...)
	e.head = append(e.head, names...)
	return e, nil
}

// appendBlockMax appends the maxima of each bound over each block of
// BlockRows rows (see BlockMax).
func appendBlockMax(b []byte, sent, rcv []int64) []byte {
	for bd := range numBounds {
		for lo := 0; lo < len(sent); lo += BlockRows {
			var m int64
			for i := lo; i < min(lo+BlockRows, len(sent)); i++ {
				switch bd {
				case BoundBytes:
					m = max(m, sent[i]+rcv[i])
				case BoundSent:
					m = max(m, sent[i])
				case BoundRcv:
					m = max(m, rcv[i])
				}
			}
			b = binary.AppendUvarint(b, uint64(m))
		}
	}
	return b
}

// rows decodes every row of s; strs maps string ids back to text.
func (s *Segment) rows(strs map[int64]string) ([]archRow, error) {
	var cols [NumColumns][]int64
	for c := range cols {
		var err error
		if cols[c], err = s.Column(Column(c), nil); err != nil {
			return nil, err
		}
	}
	str := func(c Column, i int) (string, error) {
		v, ok := strs[cols[c][i]]
		if !ok {
			return "", fmt.Errorf("decode day %d: no string %d: %w", s.Day, cols[c][i], errCorrupt)
		}
		return v, nil
	}
	out := make([]archRow, s.Rows)
	for i := range out {
		r := &out[i]
		r.Start, r.End = cols[ColStart][i], cols[ColStart][i]+cols[ColDur][i]
		for _, f := range [...]struct {
			c   Column
			dst *string
		}{{ColMAC, &r.MAC}, {ColSrcIP, &r.SrcIP}, {ColDestIP, &r.DestIP}, {ColProto, &r.Proto},
			{ColApp, &r.AppProto}, {ColName, &r.Name}, {ColSource, &r.Source}} {
			v, err := str(f.c, i)
			if err != nil {
				return nil, err
			}
			*f.dst = v
		}
		r.SrcPort, r.DestPort = cols[ColSrcPort][i], cols[ColDestPort][i]
		r.BytesSent, r.BytesRcv = cols[ColBytesSent][i], cols[ColBytesRcv][i]
		r.PktsSent, r.PktsRcv = cols[ColPktsSent][i], cols[ColPktsRcv][i]
		r.Flows = cols[ColFlows][i]
	}
	return out, nil
}
