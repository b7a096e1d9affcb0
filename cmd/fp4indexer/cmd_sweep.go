package main

import (
	"errors"
	"io"
)

func runSweep(args []string, stdout, stderr io.Writer) error {
	return errors.New("not implemented yet")
}
