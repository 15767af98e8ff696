package embedded

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/dirbridge/dirbridge/bridge"
	bolt "go.etcd.io/bbolt"
)

// The bbolt file holds one bucket of entries keyed by id (entryUUID) and
// secondary indexes kept in the same transactions as the entries, so that an
// entry and its index keys are always consistent on disk:
//
//	entries   id → JSON record
//	dn        normalized DN → id
//	kids      parent id + "/" + child id → ""   (one-level scope, non-leaf check)
//	eq        attr + NUL + normalized value + NUL + id → ""   (equality lookups)
//	meta      schema version and the change sequence
//
// Iterating "entries" gives the entries in id order, which is the default
// sort order of Search: a page sorted by id never needs to sort anything.
var (
	bucketEntries = []byte("entries")
	bucketDN      = []byte("dn")
	bucketKids    = []byte("kids")
	bucketEq      = []byte("eq")
	bucketMeta    = []byte("meta")
)

// indexedAttrs are the attributes with an equality index (lower-case). The
// ones SCIM filters on most (userName, emails, externalId, displayName) map to
// these in the shipped tables; member is indexed so that memberOf and
// referential integrity find the groups of an entry without a scan.
var indexedAttrs = map[string]bool{
	"uid": true, "mail": true, "cn": true, "sn": true, "givenname": true,
	"employeenumber": true, "displayname": true, "ou": true, "member": true,
}

// record is an entry as stored. Attrs holds user attributes and the
// operational ones that are set rather than derived (memberOf,
// pwdAccountLockedTime), under their canonical schema names.
type record struct {
	ID       string              `json:"id"`
	DN       string              `json:"dn"`
	NDN      string              `json:"ndn"`
	Parent   string              `json:"parent,omitempty"`
	Attrs    map[string][]string `json:"attrs"`
	Created  string              `json:"created"`
	Modified string              `json:"modified"`
	Creator  string              `json:"creator,omitempty"`
	Modifier string              `json:"modifier,omitempty"`
	CSN      uint64              `json:"csn"`
}

func (r *record) clone() *record {
	c := *r
	c.Attrs = make(map[string][]string, len(r.Attrs))
	for k, v := range r.Attrs {
		c.Attrs[k] = append([]string(nil), v...)
	}
	return &c
}

// values returns the values of a canonical attribute name, deriving the
// operational attributes that are not stored.
func (r *record) values(name string) []string {
	switch name {
	case "entryUUID":
		return []string{r.ID}
	case "createTimestamp":
		return []string{r.Created}
	case "modifyTimestamp":
		return []string{r.Modified}
	case "creatorsName":
		if r.Creator == "" {
			return nil
		}
		return []string{r.Creator}
	case "modifiersName":
		if r.Modifier == "" {
			return nil
		}
		return []string{r.Modifier}
	case "entryCSN":
		return []string{r.csnString()}
	case "entryDN":
		return []string{r.DN}
	case "structuralObjectClass":
		if s := structuralClass(r.Attrs["objectClass"]); s != "" {
			return []string{s}
		}
		return nil
	}
	return r.Attrs[name]
}

// csnString renders the change sequence number in the shape of slapd's
// entryCSN: a timestamp, a counter, a server id and a modifier number.
func (r *record) csnString() string {
	t, _ := time.Parse(genTimeLayout, r.Modified)
	return fmt.Sprintf("%s.%06dZ#%06x#000#000000", t.UTC().Format("20060102150405"), r.CSN%1000000, r.CSN)
}

func (r *record) disabled() bool { return len(r.Attrs["pwdAccountLockedTime"]) > 0 }

func structuralClass(classes []string) string {
	best, depth := "", -1
	for _, c := range classes {
		oc := ocByName[strings.ToLower(c)]
		if oc == nil || oc.Kind != ocStructural {
			continue
		}
		d := 0
		for p := oc; p.Sup != ""; p = ocByName[strings.ToLower(p.Sup)] {
			d++
		}
		if d > depth {
			best, depth = oc.Name, d
		}
	}
	return best
}

// indexKeys returns the keys this record owns in the eq index.
func (r *record) indexKeys() [][]byte {
	var keys [][]byte
	for name, vals := range r.Attrs {
		ln := strings.ToLower(name)
		if !indexedAttrs[ln] {
			continue
		}
		for _, v := range vals {
			keys = append(keys, eqKey(ln, normValue(ln, v), r.ID))
		}
	}
	return keys
}

func eqPrefix(attr, norm string) []byte {
	return []byte(attr + "\x00" + norm + "\x00")
}

func eqKey(attr, norm, id string) []byte {
	return append(eqPrefix(attr, norm), id...)
}

func kidKey(parent, id string) []byte { return []byte(parent + "/" + id) }

// errNotFound is the store's own "no such entry"; callers turn it into a
// bridge error with their op.
var errNotFound = errors.New("no such entry")

func getRecord(tx *bolt.Tx, id string) (*record, error) {
	raw := tx.Bucket(bucketEntries).Get([]byte(id))
	if raw == nil {
		return nil, errNotFound
	}
	var r record
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("decode entry %s: %w", id, err)
	}
	if r.Attrs == nil {
		r.Attrs = map[string][]string{}
	}
	return &r, nil
}

func idByNDN(tx *bolt.Tx, ndn string) string {
	return string(tx.Bucket(bucketDN).Get([]byte(ndn)))
}

func getRecordByNDN(tx *bolt.Tx, ndn string) (*record, error) {
	id := idByNDN(tx, ndn)
	if id == "" {
		return nil, errNotFound
	}
	return getRecord(tx, id)
}

// putRecord writes r and moves its index keys from what old had (nil for a
// new entry) to what r has.
func putRecord(tx *bolt.Tx, old, r *record) error {
	raw, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if err := tx.Bucket(bucketEntries).Put([]byte(r.ID), raw); err != nil {
		return err
	}
	dnb, kids, eq := tx.Bucket(bucketDN), tx.Bucket(bucketKids), tx.Bucket(bucketEq)
	if old == nil || old.NDN != r.NDN {
		if old != nil {
			if err := dnb.Delete([]byte(old.NDN)); err != nil {
				return err
			}
		}
		if err := dnb.Put([]byte(r.NDN), []byte(r.ID)); err != nil {
			return err
		}
	}
	if old == nil || old.Parent != r.Parent {
		if old != nil {
			if err := kids.Delete(kidKey(old.Parent, old.ID)); err != nil {
				return err
			}
		}
		if err := kids.Put(kidKey(r.Parent, r.ID), nil); err != nil {
			return err
		}
	}
	newKeys := map[string]bool{}
	for _, k := range r.indexKeys() {
		newKeys[string(k)] = true
	}
	if old != nil {
		for _, k := range old.indexKeys() {
			if newKeys[string(k)] {
				delete(newKeys, string(k)) // already there
				continue
			}
			if err := eq.Delete(k); err != nil {
				return err
			}
		}
	}
	for k := range newKeys {
		if err := eq.Put([]byte(k), nil); err != nil {
			return err
		}
	}
	return nil
}

func deleteRecord(tx *bolt.Tx, r *record) error {
	if err := tx.Bucket(bucketEntries).Delete([]byte(r.ID)); err != nil {
		return err
	}
	if err := tx.Bucket(bucketDN).Delete([]byte(r.NDN)); err != nil {
		return err
	}
	if err := tx.Bucket(bucketKids).Delete(kidKey(r.Parent, r.ID)); err != nil {
		return err
	}
	eq := tx.Bucket(bucketEq)
	for _, k := range r.indexKeys() {
		if err := eq.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// childIDs returns the ids of parent's children in id order.
func childIDs(tx *bolt.Tx, parent string) []string {
	var out []string
	prefix := []byte(parent + "/")
	c := tx.Bucket(bucketKids).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		out = append(out, string(k[len(prefix):]))
	}
	return out
}

func hasChildren(tx *bolt.Tx, parent string) bool {
	prefix := []byte(parent + "/")
	k, _ := tx.Bucket(bucketKids).Cursor().Seek(prefix)
	return k != nil && bytes.HasPrefix(k, prefix)
}

// eqLookup returns, in id order, the ids of entries whose attr has a value
// equal to norm (already normalized).
func eqLookup(tx *bolt.Tx, attr, norm string) []string {
	var out []string
	prefix := eqPrefix(attr, norm)
	c := tx.Bucket(bucketEq).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		out = append(out, string(k[len(prefix):]))
	}
	sort.Strings(out) // keys share a prefix, so they already are; keep the promise explicit
	return out
}

// nextCSN takes the next number of the directory-wide change sequence.
func nextCSN(tx *bolt.Tx) (uint64, error) {
	return tx.Bucket(bucketMeta).NextSequence()
}

func csnVersion(csn uint64) string { return strconv.FormatUint(csn, 10) }

// translateBolt turns a bbolt failure into the one error type. A closed
// database is reported as unavailable: the caller may retry against a
// reopened directory; everything else is internal.
func translateBolt(op string, err error) error {
	if err == nil {
		return nil
	}
	var be *bridge.Error
	if errors.As(err, &be) {
		return bridge.Wrap(op, err)
	}
	if errors.Is(err, bolt.ErrDatabaseNotOpen) || errors.Is(err, bolt.ErrTimeout) {
		return bridge.E(op, bridge.KindUnavailable, "", err)
	}
	return bridge.E(op, bridge.KindInternal, "", err)
}
