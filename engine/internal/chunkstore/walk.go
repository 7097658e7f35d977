package chunkstore

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"slices"
)

// Stream describes one stream found on the drives by WalkStreams.
type Stream struct {
	ID ID
	// Trailer, Size and Layout come from the first shard footer (in shard,
	// then drive order) that verifies. With none, Trailer is nil, Size -1
	// and Layout the zero value. Trailer is freshly allocated; the callee
	// may keep it.
	Trailer []byte
	Size    int64
	Layout  Layout
	// Files lists every shard file of the stream found, verified or not.
	Files []ShardFile
}

// ShardFile locates one shard file.
type ShardFile struct {
	Shard, Drive int
}

// Walk visits every stream id that has at least one shard file on any
// online drive, once, with the trailer of the first shard footer that
// verifies (nil if none does; fn may keep the slice). It is WalkStreams with
// less detail.
func (s *Store) Walk(fn func(id ID, trailer []byte) error) error {
	return s.WalkStreams(func(st Stream) error { return fn(st.ID, st.Trailer) })
}

// WalkStreams visits every stream that has at least one shard file on any
// online drive, once, in id order, for orphan collection, healing and index
// rebuild. It lists one fan-out directory at a time across all drives, so
// its memory is bounded by the streams of one directory, and it reads only
// the headers and footers of shard files, never their blocks.
//
// An error from fn stops the walk and is returned. Drives that cannot be
// listed are skipped and logged; their errors are returned, joined, after
// the walk has visited everything else. Walking while streams are written
// or removed is safe, but such streams may or may not be visited.
func (s *Store) WalkStreams(fn func(st Stream) error) error {
	if s.closed.Load() {
		return ErrClosed
	}
	byID := make(map[ID][]ShardFile)
	var ids []ID
	var listErrs []error
	for h := 0; h < 256; h++ {
		clear(byID)
		ids = ids[:0]
		dirName := fmt.Sprintf("%02x", h)
		for d := range s.drives {
			if !s.usable(d) {
				continue
			}
			dir := s.fs.PathJoin(s.drives[d].shardsDir, dirName)
			names, err := s.fs.List(dir)
			if err != nil {
				if !isNotExist(err) {
					s.log.Warn("chunkstore: cannot list drive directory", "drive", d, "dir", dir, "err", err)
					listErrs = append(listErrs, &ShardError{Drive: d, Shard: -1, Err: err})
				}
				continue
			}
			for _, name := range names {
				id, shard, ok := parseShardName(name)
				if !ok || int(id[0]) != h {
					continue
				}
				if _, seen := byID[id]; !seen {
					ids = append(ids, id)
				}
				byID[id] = append(byID[id], ShardFile{Shard: shard, Drive: d})
			}
		}
		slices.SortFunc(ids, func(a, b ID) int { return bytes.Compare(a[:], b[:]) })
		for _, id := range ids {
			files := byID[id]
			slices.SortFunc(files, func(a, b ShardFile) int {
				return cmp.Or(cmp.Compare(a.Shard, b.Shard), cmp.Compare(a.Drive, b.Drive))
			})
			st := Stream{ID: id, Size: -1, Files: files}
			for _, sf := range files {
				ft, err := s.readFooter(sf.Drive, id, sf.Shard)
				if err != nil {
					continue
				}
				st.Trailer, st.Size, st.Layout = ft.trailer, ft.size, ft.layout
				break
			}
			if err := fn(st); err != nil {
				return err
			}
		}
	}
	return errors.Join(listErrs...)
}

// readFooter reads and verifies the footer (and header) of one shard file,
// checking that the file's length is what the footer implies. The returned
// trailer is freshly allocated.
func (s *Store) readFooter(d int, id ID, shard int) (footer, error) {
	f, err := s.fs.Open(s.shardPath(d, id, shard))
	if err != nil {
		return footer{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return footer{}, err
	}
	size := fi.Size()
	if size < headerSize+tailSize {
		return footer{}, corruptf("file is %d bytes", size)
	}
	var tail [tailSize]byte
	if err := readFull(f, tail[:], size-tailSize); err != nil {
		return footer{}, err
	}
	_, tl, ll, err := parseTail(tail[:])
	if err != nil {
		return footer{}, err
	}
	flen := int64(tl + ll + tailSize)
	if flen > size-headerSize {
		return footer{}, corruptf("footer of %d bytes in a file of %d", flen, size)
	}
	buf := make([]byte, flen)
	if err := readFull(f, buf, size-flen); err != nil {
		return footer{}, err
	}
	ft, err := parseFooter(buf, id, shard)
	if err != nil {
		return footer{}, err
	}
	var hb [headerSize]byte
	if err := readFull(f, hb[:], 0); err != nil {
		return footer{}, err
	}
	h, err := parseHeader(hb[:])
	if err != nil {
		return footer{}, err
	}
	l := ft.layout
	if h.id != id || h.shard != shard || h.k != l.DataShards || h.m != l.ParityShards || h.blockSize != l.BlockSize {
		return footer{}, corruptf("header and footer disagree")
	}
	if want := shardFileSize(l.DataShards, l.BlockSize, ft.size, tl, ll); want != size {
		return footer{}, corruptf("file is %d bytes, footer implies %d", size, want)
	}
	return ft, nil
}
