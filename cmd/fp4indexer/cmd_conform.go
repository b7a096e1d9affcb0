package main

import (
	"errors"
	"io"
)

func runConform(args []string, stdout, stderr io.Writer) error {
	return errors.New("not implemented yet")
}
