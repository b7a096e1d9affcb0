// Package boundedio reads lengths that come from untrusted files without
// allocating for them up front.
package boundedio

import "io"

// ReadUpTo reads from r until it has n bytes or r reports EOF. The buffer grows
// geometrically as bytes arrive and never beyond n, so a short input claiming a
// large n costs only what it holds, and a complete one gets an exact buffer.
func ReadUpTo(r io.Reader, n int) ([]byte, error) {
	buf := make([]byte, 0, min(n, 64<<10))
	for len(buf) < n {
		if len(buf) == cap(buf) {
			grown := make([]byte, len(buf), min(2*cap(buf), n))
			copy(grown, buf)
			buf = grown
		}
		k, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+k]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	return buf, nil
}
