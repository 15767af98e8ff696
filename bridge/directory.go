package bridge

import (
	"context"
	"strings"
	"time"
)

// Directory is the contract every directory backend implements: ldapside for
// OpenLDAP and Active Directory, testenv for the embedded directory. It speaks
// in entries, DNs and directory attribute names; the mapping tables turn those
// into SCIM resources. The conformance suite in bridge/conformance is the
// executable form of this contract, and every implementation must pass it.
//
// Every method returns *Error values: KindNotFound for an id or DN that does
// not exist (or is outside the given base), KindConflict for an entry that
// already exists, KindInvalidValue for a value or object the directory's
// schema refuses (the message names the attribute, never quotes the
// directory's text), KindUnavailable when the directory cannot be reached.
type Directory interface {
	// Get reads the entry whose immutable id is id, if it lies at or below
	// base ("" means anywhere). attrs selects the attributes to return (nil:
	// all user attributes); virtual attributes need not be asked for: ID, DN,
	// Created, Modified, Version and Disabled are always filled.
	Get(ctx context.Context, base, id string, attrs []string) (*Entry, error)

	// GetByDN reads the entry at dn.
	GetByDN(ctx context.Context, dn string, attrs []string) (*Entry, error)

	// Search returns the exact number of entries that match and the window
	// [Offset, Offset+Count) of them in a stable order (SortBy ascending, ties
	// broken by id). Its cost must not grow with Offset where the directory
	// can avoid it. Count 0 returns only the total.
	Search(ctx context.Context, req SearchRequest) (*SearchResult, error)

	// Add creates an entry. When Password is set it is stored hashed; when
	// Disabled is set the account cannot bind from the moment it exists. If
	// any step after the entry was created fails, the entry is removed again.
	Add(ctx context.Context, req AddRequest) (*Entry, error)

	// Modify changes an entry: first a rename or move (the old RDN value is
	// removed), then the attribute changes, the password (only when it
	// differs from the current one: resending the current password changes
	// nothing, not even Version) and the disabled state, which take effect
	// together or not at all (one LDAP modify, one transaction). If the
	// changes fail after a rename, the rename is undone where the directory
	// allows it. A request that changes nothing leaves Version as it was.
	Modify(ctx context.Context, req ModifyRequest) (*Entry, error)

	// Delete removes the entry with the given id for good.
	Delete(ctx context.Context, id string) error

	// EnsureContainer creates an organizational unit at dn, and its missing
	// parents below the directory's base, unless it exists.
	EnsureContainer(ctx context.Context, dn string) error

	// Ping checks that the directory is reachable and the service bind works.
	Ping(ctx context.Context) error
}

// Entry is a directory entry as a Directory returns it.
type Entry struct {
	ID       string // immutable: entryUUID, objectGUID, or the embedded UUID
	DN       string
	Attrs    map[string][]string
	Created  time.Time
	Modified time.Time
	Version  string // changes with every change of the entry
	Disabled bool
}

// Values returns the values of attr, matched case-insensitively, or nil.
func (e *Entry) Values(attr string) []string {
	if e == nil {
		return nil
	}
	if v, ok := e.Attrs[attr]; ok {
		return v
	}
	for k, v := range e.Attrs {
		if strings.EqualFold(k, attr) {
			return v
		}
	}
	return nil
}

// First returns the first value of attr, or "".
func (e *Entry) First(attr string) string {
	if v := e.Values(attr); len(v) > 0 {
		return v[0]
	}
	return ""
}

// Scope is a search scope.
type Scope int

const (
	ScopeSub  Scope = iota // the base and everything below it
	ScopeOne               // the base's immediate children
	ScopeBase              // the base entry only
)

// SearchRequest asks for a window of the entries below Base that match Filter.
type SearchRequest struct {
	Base   string
	Scope  Scope
	Filter *Filter  // nil: every entry
	Attrs  []string // nil: all user attributes
	SortBy string   // directory or virtual attribute; "" means VirtualID
	Offset int      // 0-based index of the first entry to return
	Count  int      // how many entries at most; 0 asks only for Total
}

// SearchResult is the answer to a SearchRequest.
type SearchResult struct {
	Total   int
	Entries []*Entry
}

// AddRequest creates one entry.
type AddRequest struct {
	DN       string
	Attrs    map[string][]string
	Password string // "" sets none
	Disabled bool
	Return   []string // attributes of the created entry to return (nil: all)
}

// ChangeOp is the kind of an attribute change.
type ChangeOp int

const (
	ChangeAdd     ChangeOp = iota + 1 // add values; values already present are not an error
	ChangeDelete                      // delete values (all when Values is empty); absent ones are not an error
	ChangeReplace                     // replace all values (none: remove the attribute)
)

// Change is one attribute change of a ModifyRequest.
type Change struct {
	Op     ChangeOp
	Attr   string
	Values []string
}

// ModifyRequest changes one entry, found by its id.
type ModifyRequest struct {
	ID          string
	Base        string // when set, the entry must lie at or below Base
	Changes     []Change
	NewRDN      string  // escaped RDN, "uid=jdoe"; "" keeps the RDN
	NewSuperior string  // new parent DN; "" keeps the parent
	Password    *string // set only when it differs from the current password
	Disabled    *bool
	// Return names the attributes of the modified entry to return (nil:
	// all). Empty but not nil asks for none: the answer then needs only
	// the entry's ID and DN, and an implementation that would have to read
	// the entry back for more (a server without Post-Read) need not.
	Return []string
	// Current, when set, is the entry as the caller has just read it
	// through this Directory, with at least the attributes Changes name.
	// An implementation may plan the changes on it instead of reading the
	// entry again, but must never apply them to a newer state of the entry:
	// if the entry changed since (Version moved) it reads it again and
	// plans anew, as without Current.
	Current *Entry
	// Guessed says Current was not just read but remembered from an
	// earlier answer (the service's entry cache). The implementation must
	// then apply the request in one operation guarded by the server so that
	// it takes effect only on exactly Current (its DN, id and Version), and
	// otherwise write nothing and return ErrStaleCurrent: every decision the
	// caller made on Current (what to change, whether to rename, that the
	// password or the disabled state differ) is only valid for that state.
	// It never falls back to reading the entry itself; the caller does.
	// A request that would change nothing on Current is refused too: only
	// a read shows that the entry is Current.
	Guessed bool
	// Blind (with Guessed) says Current holds only the entry's ID, its DN
	// and its RDN's values, remembered (the service's DN index), and no
	// Version: Changes are replaces whose outcome does not depend on the
	// entry's values, and Disabled is to be written whatever the entry's
	// state. The implementation applies them in one operation to exactly
	// the entry with that ID at that DN, and otherwise writes nothing and
	// returns ErrStaleCurrent. A Password is never sent this way.
	Blind bool
}

// ErrStaleCurrent is the answer to a Guessed ModifyRequest that was not
// applied because the entry is not (or may not be) the remembered Current,
// or because the request cannot be guarded in one operation. Nothing was
// written. It never reaches a client: the service reads the entry and
// plans again.
var ErrStaleCurrent = &Error{Op: "bridge.ModifyRequest", Kind: KindPrecondition, Msg: "the remembered entry is stale"}

// Authenticator checks a password the way an application would: by binding as
// the entry. Tests use it to prove what provisioning did.
type Authenticator interface {
	Authenticate(ctx context.Context, dn, password string) error
}
