package index

import (
	"bytes"
	"errors"
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
type Iter struct {
	it interface {
		First() bool
		Next() bool
		SeekGE([]byte) bool
		Valid() bool
		Key() []byte
		Value() []byte
		Error() error
		Close() error
	}
}

// NewIter returns an iterator over committed keys in [lower, upper); nil
// bounds are open.
func (db *DB) NewIter(lower, upper []byte) (*Iter, error) {
	r, err := db.primary()
	if err != nil {
		return nil, err
	}
	it, err := r.db.NewIter(iterOptions(lower, upper))
	if err != nil {
		return nil, err
	}
	return &Iter{it: it}, nil
}

// First positions at the first key.
func (i *Iter) First() bool { return i.it.First() }

// Next advances.
func (i *Iter) Next() bool { return i.it.Next() }

// SeekGE positions at the first key ≥ k.
func (i *Iter) SeekGE(k []byte) bool { return i.it.SeekGE(k) }

// Valid reports whether the iterator is positioned at a key.
func (i *Iter) Valid() bool { return i.it.Valid() }

// Key returns the current key (borrowed).
func (i *Iter) Key() []byte { return i.it.Key() }

// Value returns the current value (borrowed).
func (i *Iter) Value() []byte { return i.it.Value() }

// Error returns the iterator's error, if any.
func (i *Iter) Error() error { return i.it.Error() }

// Close releases the iterator.
func (i *Iter) Close() error {
	err := i.it.Close()
	if errors.Is(err, ErrNotFound) {
		return nil
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
