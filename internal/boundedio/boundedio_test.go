package boundedio

import (
	"bytes"
	"strings"
	"testing"
)

func TestReadUpTo(t *testing.T) {
	// A short input claiming a huge length costs only what it holds.
	b, err := ReadUpTo(strings.NewReader("abc"), 1<<40)
	if err != nil || string(b) != "abc" || cap(b) > 64<<10 {
		t.Fatalf("got %q cap %d err %v", b, cap(b), err)
	}
	src := bytes.Repeat([]byte{7}, 200_000)
	b, err = ReadUpTo(bytes.NewReader(src), 150_000)
	if err != nil || len(b) != 150_000 || cap(b) != 150_000 {
		t.Fatalf("len %d cap %d err %v", len(b), cap(b), err)
	}
}
