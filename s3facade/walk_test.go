package s3facade

import (
	"io/fs"
	"path/filepath"
)

func filepathWalk(dir string, f func(name string)) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil {
			f(d.Name())
		}
		return nil
	})
}
