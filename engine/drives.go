package engine

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
)

// driveIDFile names the identity file at the root of every drive.
const driveIDFile = "coffer-drive.json"

// driveIdentity is what a drive says about itself: which store it belongs
// to and where in the drive list it sits (layouts refer to drives by
// position, so a drive moved to another path must not be read as another).
type driveIdentity struct {
	Format int    `json:"format"`
	Store  string `json:"store"`
	Index  int    `json:"index"`
	Drives int    `json:"drives"`
}

// DriveState describes one drive as Open found it.
type DriveState struct {
	Path string
	// State is "online", "new" (an empty drive that joined the store and
	// is refilled by a background heal), "offline" (unreachable at Open,
	// or taken offline at run time after hanging or failing: it is probed
	// and comes back by itself, see Options.DriveTimeout) or
	// "refused" (it belongs to another store or another position).
	State string
	Err   error
}

// errDriveDown is the Err of a drive taken offline at run time.
var errDriveDown = errors.New("engine: drive hung or failed and was taken offline; probing it")

// identifyDrives reads each drive's identity and decides which drives to
// use. The store's id is the one most drives carry; a drive carrying
// another store's id, or this store's at another position, is refused and
// never written to. Drives without an identity join the store (a new store,
// or a replaced drive). It returns the drives to treat as offline.
func (e *Engine) identifyDrives() (offline []bool, err error) {
	o := e.opts
	ids := make([]*driveIdentity, len(o.Drives))
	e.drives = make([]DriveState, len(o.Drives))
	offline = make([]bool, len(o.Drives))
	votes := map[string]int{}
	for i, d := range o.Drives {
		e.drives[i] = DriveState{Path: d, State: "online"}
		v, err := readSmallFile(e, filepath.Join(d, driveIDFile))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			continue
		case err != nil:
			e.drives[i].State, e.drives[i].Err = "offline", err
			offline[i] = true
			continue
		}
		var id driveIdentity
		if err := json.Unmarshal(v, &id); err != nil || id.Store == "" {
			e.drives[i].State, e.drives[i].Err = "refused", fmt.Errorf("unreadable drive identity: %v", err)
			offline[i] = true
			continue
		}
		ids[i] = &id
		votes[id.Store]++
	}
	store, best := "", 0
	for s, n := range votes {
		if n > best || (n == best && s < store) {
			store, best = s, n
		}
	}
	newStore := store == ""
	if newStore {
		var b [16]byte
		_, _ = rand.Read(b[:])
		store = hex.EncodeToString(b[:])
	}
	e.storeID = store
	for i, id := range ids {
		switch {
		case offline[i]:
		case id == nil:
			if !newStore {
				e.drives[i].State = "new"
				e.refill = true
			}
			mine := driveIdentity{Format: 1, Store: store, Index: i, Drives: len(o.Drives)}
			v, _ := json.Marshal(mine)
			if err := writeFileSync(e.fs, o.Drives[i], driveIDFile, v, o.Sync == SyncDurable); err != nil {
				e.drives[i].State, e.drives[i].Err = "offline", err
				offline[i] = true
			}
		case id.Store != store:
			e.drives[i].State = "refused"
			e.drives[i].Err = fmt.Errorf("drive belongs to another store (%s)", id.Store)
			offline[i] = true
		case id.Index != i:
			e.drives[i].State = "refused"
			e.drives[i].Err = fmt.Errorf("drive %d of this store is mounted at position %d", id.Index, i)
			offline[i] = true
		}
		if offline[i] {
			e.log.Error("drive not used", "drive", o.Drives[i], "state", e.drives[i].State, "err", e.drives[i].Err)
		}
	}
	return offline, nil
}

// Drives reports the state of every drive as Open found it.
func (e *Engine) Drives() []DriveState {
	out := append([]DriveState(nil), e.drives...)
	for i := range out {
		if st := out[i].State; (st == "online" || st == "new") && e.store != nil && !e.store.DriveOnline(i) {
			out[i].State, out[i].Err = "offline", errDriveDown
		}
	}
	return out
}

// usableDrives returns the paths of the drives the engine may read and
// write: refused and offline drives are never touched.
func (e *Engine) usableDrives() []string {
	var out []string
	for i, d := range e.opts.Drives {
		if st := e.drives[i].State; (st == "online" || st == "new") && (e.store == nil || e.store.DriveOnline(i)) {
			out = append(out, d)
		}
	}
	return out
}
