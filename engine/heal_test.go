package engine

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

// TestHealRepairsDamage damages two drives' shards, heals, then damages
// two other drives: reads stay byte-exact only because the first damage
// was repaired.
func TestHealRepairsDamage(t *testing.T) {
	e, o := open42(t)
	mustBucket(t, e, "bkt")
	data := payload(4, 5*o.BlockSize+3)
	put(t, e, "bkt", "k", data)
	small := payload(5, 100) // inline: nothing to heal
	put(t, e, "bkt", "small", small)
	os.Remove(shardFiles(t, o.Drives[0])[0])
	f := shardFiles(t, o.Drives[1])[0]
	b, _ := os.ReadFile(f)
	b[len(b)/2] ^= 0xff
	os.WriteFile(f, b, 0o644)

	var last HealReport
	rep, err := e.Heal(ctx, HealOptions{Progress: func(r HealReport) { last = r }})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Objects != 2 || rep.Streams != 1 || rep.Damaged != 1 || rep.ShardsHealed != 2 || rep.Unrecoverable != 0 || last != rep {
		t.Fatalf("report %+v (last progress %+v)", rep, last)
	}
	for _, d := range o.Drives[2:4] {
		os.Remove(shardFiles(t, d)[0])
	}
	got, err := get(t, e, "bkt", "k", nil)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("after heal and two more lost drives: %v", err)
	}
	// Heal again restores those two as well (the degraded read above may
	// have queued the same repair in the background already).
	if _, err := e.Heal(ctx, HealOptions{Bucket: "bkt", Prefix: "k"}); err != nil {
		t.Fatalf("second heal: %v", err)
	}
	if rep, err := e.Heal(ctx, HealOptions{}); err != nil || rep.Damaged != 0 {
		t.Fatalf("third heal %+v %v", rep, err)
	}
	if s := e.Stats(); s.ShardsHealed < 4 {
		t.Fatalf("%d shards healed in all, want 4", s.ShardsHealed)
	}
}

// TestReadQueuesHeal: a read that meets a missing shard repairs it in the
// background.
func TestReadQueuesHeal(t *testing.T) {
	e, o := open42(t)
	mustBucket(t, e, "bkt")
	data := payload(6, 3*o.BlockSize)
	put(t, e, "bkt", "k", data)
	// Shard 0 holds data, so a read must meet its absence.
	var victim string
	for _, d := range o.Drives {
		for _, f := range shardFiles(t, d) {
			if strings.HasSuffix(f, ".0") {
				victim = f
			}
		}
	}
	os.Remove(victim)
	// Read the whole object: every data shard is touched.
	if got, err := get(t, e, "bkt", "k", nil); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("degraded read: %v", err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := os.Stat(victim); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the missing shard was not healed in the background")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if rep, err := e.Heal(ctx, HealOptions{}); err != nil || rep.Damaged != 0 {
		t.Fatalf("background heal left damage: %+v %v", rep, err)
	}
}

func TestScrubFindsAndHeals(t *testing.T) {
	e, o := open42(t)
	mustBucket(t, e, "bkt")
	data := payload(9, 2*o.BlockSize)
	put(t, e, "bkt", "k", data)
	f := shardFiles(t, o.Drives[3])[0]
	b, _ := os.ReadFile(f)
	b[60] ^= 0x10
	os.WriteFile(f, b, 0o644)
	if err := e.Scrub(ctx); err != nil {
		t.Fatal(err)
	}
	s := e.Stats()
	if s.ScrubPasses != 1 || s.ScrubStreams != 1 || s.ScrubDamaged != 1 || s.ShardsHealed != 1 || s.LastScrub.IsZero() {
		t.Fatalf("stats after scrub: %+v", s)
	}
	if err := e.Scrub(ctx); err != nil {
		t.Fatal(err)
	}
	if s := e.Stats(); s.ScrubDamaged != 1 || s.ScrubPasses != 2 {
		t.Fatalf("second scrub found damage again: %+v", s)
	}
}

func TestCheckFindsAndRepairs(t *testing.T) {
	e, o := open42(t)
	mustBucket(t, e, "bkt")
	put(t, e, "bkt", "good", payload(1, 3*o.BlockSize))
	put(t, e, "bkt", "small", payload(2, 10))
	// Damage "good" (the only sharded object so far).
	os.Remove(shardFiles(t, o.Drives[0])[0])
	put(t, e, "bkt", "orphan", payload(3, 2*o.BlockSize))
	// Forget "orphan" in the index: its shards dangle.
	if err := e.idx.Update(func(tx *indexTxn) error { tx.Delete(objectKey("bkt", "orphan")); return nil }); err != nil {
		t.Fatal(err)
	}
	rep, err := e.Check(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Objects != 2 || rep.Damaged != 1 || rep.Dangling != 1 || len(rep.Unrecoverable) != 0 || rep.OK() {
		t.Fatalf("check: %+v", rep)
	}
	if rep, err = e.Check(ctx, true); err != nil || rep.ShardsHealed != 1 {
		t.Fatalf("repair: %+v %v", rep, err)
	}
	if rep, err = e.Check(ctx, false); err != nil || !rep.OK() {
		t.Fatalf("after repair: %+v %v", rep, err)
	}
}

// TestCloseStopsAScrub closes the engine while a slow, paced scrub pass
// runs: Close cancels the pass instead of waiting it out.
func TestCloseStopsAScrub(t *testing.T) {
	o := &Options{Drives: drives(t, 6), DataShards: 4, ParityShards: 2, BlockSize: 64 << 10, InlineThreshold: 1024, ScrubRate: 1}
	e := open(t, o)
	mustBucket(t, e, "bkt")
	put(t, e, "bkt", "k", payload(1, 100<<10)) // 100 KiB at 1 byte/s: a day
	done := make(chan error, 1)
	go func() { done <- e.Scrub(context.Background()) }()
	time.Sleep(100 * time.Millisecond)
	closed := make(chan error, 1)
	go func() { closed <- e.Close() }()
	select {
	case <-closed:
	case <-time.After(30 * time.Second):
		t.Fatal("Close waited for the scrub pass")
	}
}
