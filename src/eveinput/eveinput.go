// Package eveinput brings Suricata's EVE lines into an ingest pipeline: from
// a unix stream socket Suricata connects to, from an eve.json file followed
// as it grows and rotates, or from whole files for an import.
package eveinput

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
)

// DefaultMaxLine is the longest EVE line accepted. Suricata's lines are a
// few hundred bytes; HTTP events with many headers or alerts with payloads
// reach tens of kilobytes.
const DefaultMaxLine = 1 << 20

// Sink receives lines. *ingest.Pipeline implements it. A line is only
// valid during the call: the reader reuses its buffer.
type Sink interface {
	// Offer hands over a line without waiting (live sources).
	Offer(line []byte) bool
	// Put hands over a line, waiting for room (files).
	Put(ctx context.Context, line []byte) error
	// Reject counts a line that could not be handed over.
	Reject(reason string)
}

// lineReader splits a stream into lines of at most max bytes (without the
// newline). Longer lines are skipped up to their newline and reported, so
// one bad line costs one line, never the stream's framing.
type lineReader struct {
	r   *bufio.Reader
	max int
}

func newLineReader(r io.Reader, max int) *lineReader {
	if max <= 0 {
		max = DefaultMaxLine
	}
	// One byte more than max leaves room for the newline of a line of
	// exactly max bytes.
	return &lineReader{r: bufio.NewReaderSize(r, max+1), max: max}
}

// errTooLong reports a line over the limit; the reader has moved past it.
type errTooLong struct{ n int }

func (e errTooLong) Error() string { return fmt.Sprintf("line of %d bytes is too long", e.n) }

// errNoNewline reports the unterminated rest of the input. It is the
// reader's own sentinel: io.ErrUnexpectedEOF would be confused with a
// truncated gzip stream, which is an error.
var errNoNewline = errors.New("last line has no newline")

// next returns the next line without its newline. The slice is valid until
// the next call. At the end of input it returns any unterminated rest with
// errNoNewline, or io.EOF when nothing is left; any other error is the
// underlying reader's.
func (l *lineReader) next() ([]byte, error) {
	skipped := 0
	for {
		line, err := l.r.ReadSlice('\n')
		switch {
		case err == nil:
			line = line[:len(line)-1]
			if n := skipped + len(line); n > l.max {
				return nil, errTooLong{n}
			}
			return line, nil
		case errors.Is(err, bufio.ErrBufferFull):
			skipped += len(line)
		case errors.Is(err, io.EOF):
			n := skipped + len(line)
			switch {
			case n > l.max:
				return nil, errTooLong{n}
			case n > 0:
				return line, errNoNewline
			}
			return nil, io.EOF
		default:
			return nil, err
		}
	}
}
