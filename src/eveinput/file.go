package eveinput

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// ReadFile hands every line of an EVE file (optionally gzip-compressed,
// by its .gz suffix) to sink, waiting for room. It returns the number of
// lines read.
func ReadFile(ctx context.Context, path string, maxLine int, sink Sink) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		gz, err := gzip.NewReader(f)
		if err != nil {
			return 0, fmt.Errorf("read %s: %w", path, err)
		}
		defer gz.Close()
		r = gz
	}
	lr := newLineReader(r, maxLine)
	n := 0
	for {
		// Put alone may not notice a cancellation while the sink has room.
		if err := ctx.Err(); err != nil {
			return n, fmt.Errorf("read %s: %w", path, err)
		}
		line, err := lr.next()
		var tooLong errTooLong
		switch {
		case err == nil, errors.Is(err, errNoNewline):
			n++
			if err := sink.Put(ctx, line); err != nil {
				return n, fmt.Errorf("read %s: %w", path, err)
			}
			if err != nil {
				return n, nil
			}
		case errors.As(err, &tooLong):
			n++
			sink.Reject(fmt.Sprintf("%s: %v", path, tooLong))
		case errors.Is(err, io.EOF):
			return n, nil
		default:
			return n, fmt.Errorf("read %s: %w", path, err)
		}
	}
}
