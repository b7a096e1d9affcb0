package npy

import (
	"bytes"
	"fmt"
	"math"
)

// MaxDims is the largest number of dimensions accepted (NumPy 2's limit).
const MaxDims = 64

// headerParser reads the subset of Python literal syntax a .npy header uses:
// a dict with string keys, a string, True/False and a tuple of integers.
type headerParser struct {
	s []byte
	i int
}

func (p *headerParser) errorf(class error, format string, args ...any) error {
	return fmt.Errorf("%w: at header byte %d: %s", class, p.i, fmt.Sprintf(format, args...))
}

func (p *headerParser) skipSpace() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// peek returns the next byte, or 0 at the end.
func (p *headerParser) peek() byte {
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

func (p *headerParser) expect(c byte) error {
	if p.peek() != c {
		return p.errorf(ErrInvalidHeader, "want %q", c)
	}
	p.i++
	return nil
}

// str reads a quoted string without escapes (none of the values we accept
// need one).
func (p *headerParser) str() (string, error) {
	q := p.peek()
	if q != '\'' && q != '"' {
		return "", p.errorf(ErrInvalidHeader, "want a string")
	}
	start := p.i + 1
	for j := start; j < len(p.s); j++ {
		switch p.s[j] {
		case q:
			p.i = j + 1
			return string(p.s[start:j]), nil
		case '\\', '\n', '\r':
			p.i = j
			return "", p.errorf(ErrInvalidHeader, "escape or line break in a string")
		}
	}
	return "", p.errorf(ErrInvalidHeader, "unterminated string")
}

func (p *headerParser) boolean() (bool, error) {
	rest := p.s[p.i:]
	switch {
	case bytes.HasPrefix(rest, []byte("True")):
		p.i += 4
		return true, nil
	case bytes.HasPrefix(rest, []byte("False")):
		p.i += 5
		return false, nil
	}
	return false, p.errorf(ErrInvalidHeader, "want True or False")
}

// dim reads a non-negative decimal integer as Python 3 writes it (no sign, no
// leading zeros).
func (p *headerParser) dim() (int, error) {
	if p.peek() == '-' {
		return 0, p.errorf(ErrInvalidShape, "negative dimension")
	}
	start := p.i
	n := 0
	for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
		d := int(p.s[p.i] - '0')
		if n > (math.MaxInt-d)/10 {
			return 0, p.errorf(ErrInvalidShape, "dimension overflows")
		}
		n = n*10 + d
		p.i++
	}
	switch {
	case p.i == start:
		return 0, p.errorf(ErrInvalidHeader, "want a dimension")
	case p.s[start] == '0' && p.i-start > 1:
		return 0, p.errorf(ErrInvalidHeader, "leading zero in a dimension")
	}
	return n, nil
}

// tuple reads (), (n,) or (n, m, ...) with an optional trailing comma; (n) is
// an int in Python, not a shape.
func (p *headerParser) tuple() ([]int, error) {
	if err := p.expect('('); err != nil {
		return nil, err
	}
	shape := []int{}
	for {
		p.skipSpace()
		if len(shape) == 0 && p.peek() == ')' {
			break
		}
		if len(shape) == MaxDims {
			return nil, p.errorf(ErrInvalidShape, "more than %d dimensions", MaxDims)
		}
		d, err := p.dim()
		if err != nil {
			return nil, err
		}
		shape = append(shape, d)
		p.skipSpace()
		if p.peek() == ',' {
			p.i++
			p.skipSpace()
			if p.peek() == ')' {
				break
			}
			continue
		}
		if p.peek() != ')' {
			return nil, p.errorf(ErrInvalidHeader, "want ',' or ')' in the shape")
		}
		if len(shape) == 1 {
			return nil, p.errorf(ErrInvalidHeader, "(n) is not a tuple")
		}
		break
	}
	p.i++ // ')'
	return shape, nil
}

// parseHeader parses the header dict. It requires exactly the keys descr,
// fortran_order and shape, as numpy.load does, and rejects duplicates (which
// Python would resolve silently).
func parseHeader(h []byte) (descr string, fortran bool, shape []int, err error) {
	for i, c := range h {
		if c >= 0x80 {
			return "", false, nil, fmt.Errorf("%w: non-ASCII byte %#02x at header byte %d", ErrInvalidHeader, c, i)
		}
	}
	p := &headerParser{s: h}
	p.skipSpace()
	if err := p.expect('{'); err != nil {
		return "", false, nil, err
	}
	seen := map[string]bool{}
	for {
		p.skipSpace()
		if p.peek() == '}' {
			break
		}
		key, err := p.str()
		if err != nil {
			return "", false, nil, err
		}
		if seen[key] {
			return "", false, nil, p.errorf(ErrInvalidHeader, "key %q twice", key)
		}
		seen[key] = true
		p.skipSpace()
		if err := p.expect(':'); err != nil {
			return "", false, nil, err
		}
		p.skipSpace()
		switch key {
		case "descr":
			if c := p.peek(); c == '[' || c == '{' {
				return "", false, nil, p.errorf(ErrUnsupported, "structured dtype")
			}
			descr, err = p.str()
		case "fortran_order":
			fortran, err = p.boolean()
		case "shape":
			shape, err = p.tuple()
		default:
			return "", false, nil, p.errorf(ErrInvalidHeader, "unexpected key %q", key)
		}
		if err != nil {
			return "", false, nil, err
		}
		p.skipSpace()
		if p.peek() == ',' {
			p.i++
			continue
		}
		if p.peek() != '}' {
			return "", false, nil, p.errorf(ErrInvalidHeader, "want ',' or '}'")
		}
	}
	p.i++ // '}'
	p.skipSpace()
	if p.i != len(p.s) {
		return "", false, nil, p.errorf(ErrInvalidHeader, "data after the header dict")
	}
	if len(seen) != 3 {
		return "", false, nil, fmt.Errorf("%w: header needs descr, fortran_order and shape", ErrInvalidHeader)
	}
	return descr, fortran, shape, nil
}
