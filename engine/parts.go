package engine

import "context"

// ObjectPart describes one part of a stored multipart object.
type ObjectPart struct {
	// PartNumber is the number the part was uploaded with (not
	// necessarily its position: parts 1, 3 and 7 may form an object).
	PartNumber int
	Size       int64 // plaintext size in bytes
	// Checksum is the part's additional checksum (base64), in the
	// algorithm of ObjectInfo.Checksum; empty when it has none.
	Checksum string
}

// ObjectParts returns an object's information and, for a multipart
// object, its parts in order (nil for a single-part object), both from
// one index lookup. Only opts.CustomerKey is used: an SSE-C object needs
// its key, checked as HeadObject checks it, without unsealing anything.
func (e *Engine) ObjectParts(ctx context.Context, bucket, key string, opts *GetOptions) (ObjectInfo, []ObjectPart, error) {
	var ck []byte
	if opts != nil {
		ck = opts.CustomerKey
	}
	done, err := e.begin()
	if err != nil {
		return ObjectInfo{}, nil, err
	}
	defer done()
	rec, err := e.lookup(bucket, key)
	if err != nil {
		return ObjectInfo{}, nil, err
	}
	info := recordInfo(bucket, key, &rec)
	crec, err := parseCrypto(rec.Crypto)
	if err != nil {
		return info, nil, err
	}
	info.SSE = sseInfo(crec, ck)
	if err := e.checkCustomerKey(crec, ck); err != nil {
		return info, nil, err
	}
	var parts []ObjectPart
	if len(rec.Parts) > 0 {
		parts = make([]ObjectPart, len(rec.Parts))
		for i, p := range rec.Parts {
			parts[i] = ObjectPart{PartNumber: p.Number, Size: p.Size, Checksum: p.Checksum}
		}
	}
	return info, parts, nil
}
