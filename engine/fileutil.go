package engine

import (
	"path/filepath"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// writeFileSync writes dir/name through a temporary file and a rename, and
// with sync set makes the file and the directory entry durable.
func writeFileSync(fs vfs.FS, dir, name string, data []byte, sync bool) error {
	if err := mkdirAllSync(fs, dir, sync); err != nil {
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
	return syncDir(fs, dir)
}

// syncDir makes the entries of directory dir durable.
func syncDir(fs vfs.FS, dir string) error {
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

// mkdirAllSync creates dir and any missing parents; with sync set it
// fsyncs the parent of every directory it created, so the new entries
// survive a crash.
func mkdirAllSync(fs vfs.FS, dir string, sync bool) error {
	dir = filepath.Clean(dir)
	if _, err := fs.Stat(dir); err == nil {
		return nil
	}
	parent := filepath.Dir(dir)
	if parent != dir {
		if err := mkdirAllSync(fs, parent, sync); err != nil {
			return err
		}
	}
	if err := fs.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if !sync {
		return nil
	}
	return syncDir(fs, parent)
}
