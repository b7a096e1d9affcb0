// Package atomicfile writes a file so that readers see either the old file or
// the whole new one, never a part: golden vectors, safetensors and .npy files
// are written through it.
package atomicfile

import (
	"io"
	"os"
	"path/filepath"
)

// Write runs write on a temporary file beside path and renames it over path once
// it is complete and synced; on error the temporary file is removed and path is
// untouched. The file gets mode 0644.
func Write(path string, write func(io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err = write(tmp); err != nil {
		return err
	}
	if err = tmp.Chmod(0o644); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	// The rename is durable only once the directory is synced; some file
	// systems refuse to sync directories, which costs durability, not
	// correctness, so the error is dropped.
	if d, derr := os.Open(dir); derr == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
