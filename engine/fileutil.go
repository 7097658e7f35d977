package engine

import (
	"path/filepath"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// writeFileSync writes dir/name through a temporary file and a rename, and
// with sync set makes the file and the directory entry durable.
func writeFileSync(fs vfs.FS, dir, name string, data []byte, sync bool) error {
	if err := fs.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp := filepath.Join(dir, "."+name+".tmp")
	f, err := fs.Create(tmp, vfs.WriteCategoryUnspecified)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil && sync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = fs.Rename(tmp, filepath.Join(dir, name))
	}
	if err != nil {
		_ = fs.Remove(tmp)
		return err
	}
	if !sync {
		return nil
	}
	d, err := fs.OpenDir(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
