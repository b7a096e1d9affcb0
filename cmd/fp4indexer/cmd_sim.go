package main

import (
	"errors"
	"io"
)

func runSim(args []string, stdout, stderr io.Writer) error {
	return errors.New("not implemented yet")
}
