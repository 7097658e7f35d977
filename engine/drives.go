package engine

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// driveIDFile names the identity file at the root of every drive.
const driveIDFile = "coffer-drive.json"

// driveIdentity is what a drive says about itself: which store it belongs
// to, where in the drive list it sits (layouts refer to drives by
// position, so a drive moved to another path must not be read as another)
// and the store's erasure layout.
type driveIdentity struct {
	Format int    `json:"format"`
	Store  string `json:"store"`
	Index  int    `json:"index"`
	Drives int    `json:"drives"`
	// Layout is the store's layout, recorded whenever an identity is
	// written. Identities written before layouts were recorded lack it
	// (nil: unknown); they are left as they are.
	Layout *storeLayout `json:"layout,omitempty"`
}

// storeLayout is the erasure layout a store was created with: new objects
// are striped with it and the index is replicated by it.
type storeLayout struct {
	DataShards   int `json:"data_shards"`
	ParityShards int `json:"parity_shards"`
	BlockSize    int `json:"block_size"`
}

func (l storeLayout) String() string {
	return fmt.Sprintf("%d data + %d parity shards, block size %d", l.DataShards, l.ParityShards, l.BlockSize)
}

func layoutOf(o *Options) storeLayout {
	return storeLayout{DataShards: o.DataShards, ParityShards: o.ParityShards, BlockSize: o.BlockSize}
}

// layoutRequest says which layout fields the caller of Open set (non-zero)
// in its Options; the others may be taken from the store.
type layoutRequest struct{ data, parity, block bool }

func requestedLayout(o *Options) layoutRequest {
	if o == nil {
		return layoutRequest{}
	}
	return layoutRequest{data: o.DataShards != 0, parity: o.ParityShards != 0, block: o.BlockSize != 0}
}

// adoptLayout makes o (defaults applied) use the layout rec the store
// recorded: a field the caller set (req) must agree with it, the others
// are taken from it.
func adoptLayout(o *Options, rec storeLayout, req layoutRequest) error {
	asked := layoutOf(o)
	if (req.data && asked.DataShards != rec.DataShards) || (req.parity && asked.ParityShards != rec.ParityShards) ||
		(req.block && asked.BlockSize != rec.BlockSize) {
		return fmt.Errorf("%w: the store on these drives was created with %v but the options ask for %v "+
			"(leave DataShards, ParityShards and BlockSize zero to use the store's layout)", ErrInvalidOptions, rec, asked)
	}
	o.DataShards, o.ParityShards, o.BlockSize = rec.DataShards, rec.ParityShards, rec.BlockSize
	if err := o.Validate(); err != nil {
		return fmt.Errorf("the store's recorded layout (%v) does not fit these drives: %w", rec, err)
	}
	return nil
}

// DriveState describes one drive as Open found it.
type DriveState struct {
	Path string
	// State is "online", "new" (an empty drive that joined the store and
	// is refilled by a background heal), "offline" (unreachable or missing
	// at Open, or taken offline at run time after hanging or failing: a
	// drive taken offline at run time is probed and comes back by itself,
	// see Options.DriveTimeout; so is a drive whose folder was missing at
	// Open, once the folder appears with this store's identity at this
	// position (its index replica, if it holds one, waits for the next
	// Open); one unreachable at Open for another reason comes back at the
	// next Open) or "refused" (it belongs to another store or another
	// position, or it is an empty folder on the root file system while the
	// store's drives are mounted elsewhere). Err says why a drive is not
	// online.
	State string
	Err   error
}

var (
	// errDriveDown is the Err of a drive taken offline at run time.
	errDriveDown = errors.New("engine: drive hung or failed and was taken offline; probing it")
	// errDriveMissing is the Err of a drive whose folder does not exist
	// while other drives carry the store.
	errDriveMissing = errors.New("engine: drive folder does not exist (drive not mounted?); it is not created: " +
		"mount the drive (it is taken back and healed when it appears), or create the folder empty and reopen to have it refilled")
	// errDriveOnRoot is the Err of a drive refused as an unmounted mount
	// point.
	errDriveOnRoot = errors.New("engine: drive folder has no identity and lies on the root file system while the " +
		"store's drives are on other devices (unmounted mount point?); it is not used: mount the drive and reopen")
)

// identifyDrives reads each drive's identity and decides which drives to
// use and with which layout. The store's id is the one most drives carry;
// a drive carrying another store's id, or this store's at another
// position, is refused and never written to. When a store exists (a drive
// carries its id), its recorded layout replaces the defaults of o (req says
// which fields the caller set; those must agree), a drive folder that does
// not exist is offline and not created, and an existing folder without an
// identity joins as a replacement, unless it is on the root file system's
// device while every drive of the store is on another (an unmounted mount
// point): that one is refused. A new store (no identity anywhere) creates
// its drive folders and records its layout. It returns the drives to treat
// as offline; it writes nothing when it returns an error.
func (e *Engine) identifyDrives(req layoutRequest) (offline []bool, err error) {
	o := e.opts
	n := len(o.Drives)
	ids := make([]*driveIdentity, n)
	missing := make([]bool, n)
	devs := make([]vfs.DeviceID, n) // zero: unknown
	e.drives = make([]DriveState, n)
	offline = make([]bool, n)
	votes := map[string]int{}
	for i, d := range o.Drives {
		e.drives[i] = DriveState{Path: d, State: "online"}
		fi, err := e.fs.Stat(d)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			missing[i] = true
			continue
		case err == nil && !fi.IsDir():
			err = fmt.Errorf("engine: drive path %s is not a directory", d)
		}
		if err != nil {
			e.drives[i].State, e.drives[i].Err = "offline", err
			offline[i] = true
			continue
		}
		devs[i] = fi.DeviceID()
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
	} else if rec, ok := e.recordedLayout(ids, store); ok {
		if err := adoptLayout(o, rec, req); err != nil {
			return nil, err
		}
	}
	e.storeID = store
	onRoot := e.unmountedDrives(ids, devs, store)
	sync := o.Sync == SyncDurable
	if newStore {
		// Every folder first, then the identities: a crash in between
		// leaves no identity, or folders for every drive.
		for i, d := range o.Drives {
			if missing[i] {
				if err := mkdirAllSync(e.fs, d, sync); err != nil {
					e.drives[i].State, e.drives[i].Err = "offline", err
					offline[i] = true
				}
			}
		}
	}
	lay := layoutOf(o)
	for i, id := range ids {
		switch {
		case offline[i]:
		case missing[i] && !newStore:
			e.drives[i].State, e.drives[i].Err = "offline", errDriveMissing
			offline[i] = true
		case id == nil && onRoot[i]:
			e.drives[i].State, e.drives[i].Err = "refused", errDriveOnRoot
			offline[i] = true
		case id == nil:
			if !newStore {
				e.drives[i].State = "new"
				e.refill = true
			}
			mine := driveIdentity{Format: 1, Store: store, Index: i, Drives: n, Layout: &lay}
			v, _ := json.Marshal(mine)
			if err := writeFileSync(e.fs, o.Drives[i], driveIDFile, v, sync); err != nil {
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

// recordedLayout returns the layout the drives of store record: the one
// most of them carry (ties go to the lowest drive), and false when none
// records one (identities written before layouts were).
func (e *Engine) recordedLayout(ids []*driveIdentity, store string) (storeLayout, bool) {
	count := map[storeLayout]int{}
	var order []storeLayout
	for _, id := range ids {
		if id == nil || id.Store != store || id.Layout == nil {
			continue
		}
		if count[*id.Layout] == 0 {
			order = append(order, *id.Layout)
		}
		count[*id.Layout]++
	}
	if len(order) == 0 {
		return storeLayout{}, false
	}
	best := order[0]
	for _, l := range order[1:] {
		if count[l] > count[best] {
			best = l
		}
	}
	if len(order) > 1 {
		e.log.Warn("the drives record different layouts; using the most common", "layout", best.String(), "layouts", len(order))
	}
	return best, true
}

// unmountedDrives marks the drives without an identity that look like an
// unmounted mount point: on the device of the root file system, while
// every drive carrying the store's identity is on another device. Where
// devices are unknown (a memory file system, Windows) it marks none.
func (e *Engine) unmountedDrives(ids []*driveIdentity, devs []vfs.DeviceID, store string) []bool {
	out := make([]bool, len(ids))
	fi, err := e.fs.Stat(string(filepath.Separator))
	if err != nil {
		return out
	}
	root := fi.DeviceID()
	if root == (vfs.DeviceID{}) {
		return out
	}
	identified := 0
	for i, id := range ids {
		if id == nil || id.Store != store {
			continue
		}
		if devs[i] == (vfs.DeviceID{}) || devs[i] == root {
			return out
		}
		identified++
	}
	if identified == 0 {
		return out
	}
	for i, id := range ids {
		out[i] = id == nil && devs[i] == root
	}
	return out
}

// StoreExists reports whether any of drives carries a drive identity:
// whether Open on them opens an existing store, which creates no missing
// drive folder, rather than creating a store. fsys nil means the operating
// system's file system. It only reads; it is safe to call concurrently.
func StoreExists(fsys vfs.FS, drives []string) bool {
	if fsys == nil {
		fsys = vfs.Default
	}
	for _, d := range drives {
		if _, err := fsys.Stat(filepath.Join(d, driveIDFile)); err == nil {
			return true
		}
	}
	return false
}

// Layout is an open store's erasure layout.
type Layout struct {
	DataShards, ParityShards int
	BlockSize                int
	// IndexReplicas is how many drives, the first ones, hold a replica of
	// the index.
	IndexReplicas int
}

// Layout returns the layout new objects are written with: the one the
// store recorded at creation, or, for a store whose drives predate
// recorded layouts, the options'.
func (e *Engine) Layout() Layout {
	o := e.opts
	return Layout{DataShards: o.DataShards, ParityShards: o.ParityShards, BlockSize: o.BlockSize, IndexReplicas: indexReplicas(o)}
}

// Drives reports the state of every drive: as Open found it, offline for
// a drive taken offline at run time, and online for a drive missing at
// Open that has since been mounted.
func (e *Engine) Drives() []DriveState {
	out := append([]DriveState(nil), e.drives...)
	for i := range out {
		switch {
		case e.arrived(i):
			out[i].State, out[i].Err = "online", nil
		case (out[i].State == "online" || out[i].State == "new") && e.store != nil && !e.store.DriveOnline(i):
			out[i].State, out[i].Err = "offline", errDriveDown
		}
	}
	return out
}

// arrived reports whether drive i, missing at Open, has been admitted
// since (admitDrive) and is in use.
func (e *Engine) arrived(i int) bool {
	return e.store != nil && e.drives[i].State == "offline" && errors.Is(e.drives[i].Err, errDriveMissing) && e.store.DriveOnline(i)
}

// admitDrive is the shard store's question about drive i, missing at
// Open: is the folder there now, and does it carry this store's identity
// at this position? Only then is anything on it touched. An empty folder
// is not admitted: that may be a mount point whose drive is still absent
// (the next Open decides about it).
func (e *Engine) admitDrive(i int) error {
	v, err := readSmallFile(e, filepath.Join(e.opts.Drives[i], driveIDFile))
	if err != nil {
		return err
	}
	var id driveIdentity
	if err := json.Unmarshal(v, &id); err != nil {
		return fmt.Errorf("engine: unreadable drive identity: %w", err)
	}
	if id.Store != e.storeID || id.Index != i {
		return fmt.Errorf("engine: the drive at %s is drive %d of store %s, not drive %d of %s", e.opts.Drives[i], id.Index, id.Store, i, e.storeID)
	}
	return nil
}

// usableDrives returns the paths of the drives the engine may read and
// write: refused and offline drives are never touched.
func (e *Engine) usableDrives() []string {
	var out []string
	for i, d := range e.opts.Drives {
		if st := e.drives[i].State; (st == "online" || st == "new") && (e.store == nil || e.store.DriveOnline(i)) || e.arrived(i) {
			out = append(out, d)
		}
	}
	return out
}
