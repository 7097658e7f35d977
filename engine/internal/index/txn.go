package index

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

type entry struct {
	val []byte
	del bool
}

// overlay holds the writes of the transactions of one group, in order.
type overlay struct {
	vals  map[string]entry
	order []string
}

func (o *overlay) merge(t *Txn) {
	for _, k := range t.order {
		if _, seen := o.vals[k]; !seen {
			o.order = append(o.order, k)
		}
		o.vals[k] = t.own[k]
	}
}

// Txn is one transaction of Update. It reads its own writes, then the
// writes of earlier transactions of its group, then committed state. It is
// used by one goroutine only, and only inside the Update callback.
type Txn struct {
	db    *DB
	group *overlay
	own   map[string]entry
	order []string
}

func (t *Txn) lookup(key []byte) (entry, bool) {
	if e, ok := t.own[string(key)]; ok {
		return e, true
	}
	if e, ok := t.group.vals[string(key)]; ok {
		return e, true
	}
	return entry{}, false
}

// Get returns a copy of the value of key as this transaction sees it, or
// ErrNotFound.
func (t *Txn) Get(key []byte) ([]byte, error) {
	if e, ok := t.lookup(key); ok {
		if e.del {
			return nil, ErrNotFound
		}
		return bytes.Clone(e.val), nil
	}
	return t.db.Get(key)
}

func (t *Txn) put(key []byte, e entry) {
	if t.own == nil {
		t.own = map[string]entry{}
	}
	k := string(key)
	if _, ok := t.own[k]; !ok {
		t.order = append(t.order, k)
	}
	t.own[k] = e
}

// Set writes key. The Txn keeps copies of key and value.
func (t *Txn) Set(key, value []byte) {
	t.put(key, entry{val: bytes.Clone(value)})
}

// Delete removes key.
func (t *Txn) Delete(key []byte) {
	t.put(key, entry{del: true})
}

// AnyWithPrefix reports whether any live key starts with prefix, as this
// transaction sees it.
func (t *Txn) AnyWithPrefix(prefix []byte) (bool, error) {
	for _, m := range []map[string]entry{t.own, t.group.vals} {
		for k, e := range m {
			if !e.del && bytes.HasPrefix([]byte(k), prefix) {
				return true, nil
			}
		}
	}
	it, err := t.db.NewIter(prefix, PrefixEnd(prefix))
	if err != nil {
		return false, err
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		if e, seen := t.lookup(it.Key()); seen && e.del {
			continue
		}
		return true, nil
	}
	return false, it.Error()
}

// PrefixEnd returns the smallest key greater than every key with prefix p,
// or nil when there is none (p is all 0xff).
func PrefixEnd(p []byte) []byte {
	end := bytes.Clone(p)
	for i := len(end) - 1; i >= 0; i-- {
		end[i]++
		if end[i] != 0 {
			return end[:i+1]
		}
	}
	return nil
}

// Iter iterates over committed keys in order. Key and Value are valid until
// the next positioning call. An Iter is used by one goroutine.
//
// An iterator reads one replica. When a positioning call meets corrupt
// data there, the replica is dropped (DB.corrupt) and the iterator goes on
// from the same key in the next healthy replica; it sees that replica as
// of that moment, so an iteration that fails over mixes two points in
// time, as unrelated reads do. With no replica left, Error wraps
// ErrCorrupt.
type Iter struct {
	db           *DB
	lower, upper []byte
	rep          int // index of the replica read
	it           *pebble.Iterator
	pos          []byte // the key of the last successful positioning
	hasPos       bool
}

// NewIter returns an iterator over committed keys in [lower, upper); nil
// bounds are open.
func (db *DB) NewIter(lower, upper []byte) (*Iter, error) {
	i := &Iter{db: db, lower: lower, upper: upper, rep: -1}
	for {
		j, err := db.next(i.rep)
		if err != nil {
			return nil, err
		}
		i.rep = j
		it, err := db.reps[j].db.NewIter(iterOptions(lower, upper))
		if err == nil {
			i.it = it
			return i, nil
		}
		if !pebble.IsCorruptionError(err) {
			return nil, err
		}
		db.corrupt(db.reps[j], err)
	}
}

// failover moves the iterator to the next healthy replica if its last
// positioning failed on corrupt data, and reports whether it did; the
// caller positions it again.
func (i *Iter) failover() bool {
	err := i.it.Error()
	if err == nil || !pebble.IsCorruptionError(err) {
		return false
	}
	i.db.corrupt(i.db.reps[i.rep], err)
	for j := i.rep; ; {
		var nerr error
		if j, nerr = i.db.next(j); nerr != nil {
			return false // Error reports the corruption
		}
		it, nerr := i.db.reps[j].db.NewIter(iterOptions(i.lower, i.upper))
		if nerr != nil {
			continue
		}
		_ = i.it.Close()
		i.it, i.rep = it, j
		return true
	}
}

// note records where a positioning call left the iterator.
func (i *Iter) note(ok bool) bool {
	if ok {
		i.pos = append(i.pos[:0], i.it.Key()...)
		i.hasPos = true
	}
	return ok
}

// First positions at the first key.
func (i *Iter) First() bool {
	ok := i.it.First()
	for !ok && i.failover() {
		ok = i.it.First()
	}
	return i.note(ok)
}

// Next advances.
func (i *Iter) Next() bool {
	ok := i.it.Next()
	for !ok && i.failover() {
		if !i.hasPos {
			ok = i.it.First()
			continue
		}
		ok = i.it.SeekGE(i.pos)
		if ok && bytes.Equal(i.it.Key(), i.pos) {
			ok = i.it.Next()
		}
	}
	return i.note(ok)
}

// SeekGE positions at the first key ≥ k.
func (i *Iter) SeekGE(k []byte) bool {
	ok := i.it.SeekGE(k)
	for !ok && i.failover() {
		ok = i.it.SeekGE(k)
	}
	return i.note(ok)
}

// Valid reports whether the iterator is positioned at a key.
func (i *Iter) Valid() bool { return i.it.Valid() }

// Key returns the current key (borrowed).
func (i *Iter) Key() []byte { return i.it.Key() }

// Value returns the current value (borrowed).
func (i *Iter) Value() []byte { return i.it.Value() }

// Error returns the iterator's error, if any; corrupt data that no
// replica could get past wraps ErrCorrupt.
func (i *Iter) Error() error {
	err := i.it.Error()
	if err != nil && pebble.IsCorruptionError(err) {
		return fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return err
}

// Close releases the iterator.
func (i *Iter) Close() error {
	err := i.it.Close()
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil && pebble.IsCorruptionError(err) {
		return fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return err
}

// Scan calls fn for every live key with prefix as this transaction sees
// it, committed keys first in key order, then keys written in the group
// or the transaction (in no particular order). fn gets copies.
func (t *Txn) Scan(prefix []byte, fn func(key, value []byte) error) error {
	it, err := t.db.NewIter(prefix, PrefixEnd(prefix))
	if err != nil {
		return err
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		if _, seen := t.lookup(it.Key()); seen {
			continue // overridden below
		}
		if err := fn(bytes.Clone(it.Key()), bytes.Clone(it.Value())); err != nil {
			return err
		}
	}
	if err := it.Error(); err != nil {
		return err
	}
	done := map[string]bool{}
	for _, m := range []map[string]entry{t.own, t.group.vals} {
		for k := range m {
			if done[k] || !bytes.HasPrefix([]byte(k), prefix) {
				continue
			}
			done[k] = true
			e, _ := t.lookup([]byte(k))
			if e.del {
				continue
			}
			if err := fn([]byte(k), bytes.Clone(e.val)); err != nil {
				return err
			}
		}
	}
	return nil
}
