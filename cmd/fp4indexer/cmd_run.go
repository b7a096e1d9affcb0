package main

import (
	"errors"
	"io"
)

func runRun(args []string, stdout, stderr io.Writer) error {
	return errors.New("not implemented yet")
}
