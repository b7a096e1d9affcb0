package main

import (
	"errors"
	"io"
)

func runGolden(args []string, stdout, stderr io.Writer) error {
	return errors.New("not implemented yet")
}
