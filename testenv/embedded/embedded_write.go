package embedded

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/go-ldap/ldap/v3"
	bolt "go.etcd.io/bbolt"

	"github.com/dirbridge/dirbridge/bridge"
)

// prepareAttrs canonicalizes the attributes of an add request: schema names,
// values checked against their syntax, duplicates (by the equality rule)
// dropped, cleartext userPassword values hashed. Attributes the directory
// maintains are refused, as slapd refuses them ("no user modification").
// Hashing happens here, before any transaction, so that the write lock is not
// held while argon2 runs.
func (e *Embedded) prepareAttrs(op string, in map[string][]string) (map[string][]string, error) {
	out := map[string][]string{}
	for name, vals := range in {
		def := lookupAttr(name)
		if def == nil {
			return nil, fail(op, bridge.KindInvalidValue, ldap.LDAPResultUndefinedAttributeType,
				fmt.Sprintf("attribute %s is not defined in the directory's schema", safeName(name)))
		}
		if def.NoUserMod {
			return nil, fail(op, bridge.KindInvalidValue, ldap.LDAPResultConstraintViolation,
				fmt.Sprintf("attribute %s is maintained by the directory", def.Name))
		}
		vals, err := e.prepareValues(op, def, vals)
		if err != nil {
			return nil, err
		}
		out[def.Name] = addValues(def, out[def.Name], vals)
		if len(out[def.Name]) == 0 {
			delete(out, def.Name)
		}
	}
	return out, nil
}

func (e *Embedded) prepareValues(op string, def *attrDef, vals []string) ([]string, error) {
	out := make([]string, 0, len(vals))
	for _, v := range vals {
		if !def.checkSyntax(v) {
			return nil, fail(op, bridge.KindInvalidValue, ldap.LDAPResultInvalidAttributeSyntax,
				fmt.Sprintf("a value of attribute %s is not valid", def.Name))
		}
		if def.Name == "userPassword" && !hasScheme(v) {
			h, err := hashPassword(v, e.argon)
			if err != nil {
				return nil, bridge.E(op, bridge.KindInternal, "", err)
			}
			v = h
		}
		out = append(out, v)
	}
	return out, nil
}

// safeName keeps an attribute name fit for a client message.
func safeName(s string) string {
	if !validAttrType(s) || len(s) > 64 {
		return "(invalid name)"
	}
	return s
}

// addValues appends the values of add that have no equal in have.
func addValues(def *attrDef, have, add []string) []string {
	for _, v := range add {
		if !containsValue(def, have, v) {
			have = append(have, v)
		}
	}
	return have
}

func containsValue(def *attrDef, have []string, v string) bool {
	n := def.norm(v)
	for _, h := range have {
		if h == v || def.norm(h) == n {
			return true
		}
	}
	return false
}

func removeValues(def *attrDef, have, del []string) []string {
	out := have[:0:0]
	for _, h := range have {
		if !containsValue(def, del, h) {
			out = append(out, h)
		}
	}
	return out
}

// checkEntry applies the schema to a complete entry the way slapd's
// entry_schema_check does: known object classes, one structural chain, every
// MUST present, nothing no class MAY hold, single-valued types with one value,
// and the RDN's values present in the entry.
func checkEntry(op string, d dn, attrs map[string][]string) error {
	classes := attrs["objectClass"]
	if len(classes) == 0 {
		return fail(op, bridge.KindInvalidValue, ldap.LDAPResultObjectClassViolation, "attribute objectClass is required")
	}
	closure, unknown := ocClosure(classes)
	if len(unknown) > 0 {
		return fail(op, bridge.KindInvalidValue, ldap.LDAPResultObjectClassViolation,
			fmt.Sprintf("object class %s is not defined in the directory's schema", safeName(unknown[0])))
	}
	var structural []*objectClassDef
	for _, oc := range closure {
		if oc.Kind == ocStructural {
			structural = append(structural, oc)
		}
	}
	if len(structural) == 0 {
		return fail(op, bridge.KindInvalidValue, ldap.LDAPResultObjectClassViolation, "attribute objectClass needs a structural object class")
	}
	// The structural classes must form one chain: the most specific one's
	// superclasses must include all the others.
	best := structuralClass(classes)
	bestClosure, _ := ocClosure([]string{best})
	for _, oc := range structural {
		if bestClosure[strings.ToLower(oc.Name)] == nil {
			return fail(op, bridge.KindInvalidValue, ldap.LDAPResultObjectClassViolation,
				"attribute objectClass holds unrelated structural object classes")
		}
	}
	allowed := map[string]bool{}
	var must []string
	for _, oc := range closure {
		for _, a := range oc.Must {
			allowed[a] = true
			must = append(must, a)
		}
		for _, a := range oc.May {
			allowed[a] = true
		}
	}
	slices.Sort(must)
	for _, a := range must {
		if len(attrs[a]) == 0 {
			return fail(op, bridge.KindInvalidValue, ldap.LDAPResultObjectClassViolation, fmt.Sprintf("attribute %s is required", a))
		}
	}
	names := make([]string, 0, len(attrs))
	for k := range attrs {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, name := range names {
		def := lookupAttr(name)
		if def == nil {
			return fail(op, bridge.KindInvalidValue, ldap.LDAPResultUndefinedAttributeType,
				fmt.Sprintf("attribute %s is not defined in the directory's schema", safeName(name)))
		}
		if !def.Oper && !allowed[def.Name] {
			return fail(op, bridge.KindInvalidValue, ldap.LDAPResultObjectClassViolation,
				fmt.Sprintf("attribute %s is not allowed by the entry's object classes", def.Name))
		}
		if def.Single && len(attrs[name]) > 1 {
			return fail(op, bridge.KindInvalidValue, ldap.LDAPResultConstraintViolation,
				fmt.Sprintf("attribute %s takes one value", def.Name))
		}
	}
	if len(d) > 0 {
		for _, a := range d[0] {
			def := lookupAttr(a.Type)
			if def == nil {
				return fail(op, bridge.KindInvalidValue, ldap.LDAPResultNamingViolation,
					fmt.Sprintf("naming attribute %s is not defined in the directory's schema", safeName(a.Type)))
			}
			if !containsValue(def, attrs[def.Name], a.Value) {
				return fail(op, bridge.KindInvalidValue, ldap.LDAPResultNamingViolation,
					fmt.Sprintf("the value of naming attribute %s is not in the entry", def.Name))
			}
		}
	}
	return nil
}

// addTx creates the entry d inside tx. attrs are prepared (canonical,
// hashed); actor becomes creatorsName.
func (e *Embedded) addTx(tx *bolt.Tx, op string, d dn, attrs map[string][]string, actor, now string) (*record, error) {
	if len(d) == 0 {
		return nil, fail(op, bridge.KindInvalidValue, ldap.LDAPResultUnwillingToPerform, "the root DSE cannot be written")
	}
	ndn := d.norm()
	if ndn == e.adminN {
		return nil, fail(op, bridge.KindConflict, ldap.LDAPResultEntryAlreadyExists, "")
	}
	if idByNDN(tx, ndn) != "" {
		return nil, fail(op, bridge.KindConflict, ldap.LDAPResultEntryAlreadyExists, "")
	}
	parentID := ""
	if ndn != e.suffixN {
		if !ndnUnder(ndn, e.suffixN) {
			return nil, fail(op, bridge.KindNotFound, ldap.LDAPResultNoSuchObject, "the entry would lie outside the directory")
		}
		parentID = idByNDN(tx, d.parent().norm())
		if parentID == "" {
			return nil, fail(op, bridge.KindNotFound, ldap.LDAPResultNoSuchObject, "the parent entry does not exist")
		}
	}
	if err := checkEntry(op, d, attrs); err != nil {
		return nil, err
	}
	id := normID(e.ids())
	if tx.Bucket(bucketEntries).Get([]byte(id)) != nil {
		return nil, bridge.Errorf(op, bridge.KindInternal, "the id generator repeated an id")
	}
	csn, err := nextCSN(tx)
	if err != nil {
		return nil, err
	}
	r := &record{ID: id, DN: d.String(), NDN: ndn, Parent: parentID, Attrs: attrs,
		Created: now, Modified: now, Creator: actor, Modifier: actor, CSN: csn}
	// Groups that already name this DN as a member (a dangling reference
	// made before the entry existed) show up in its memberOf at once.
	for _, gid := range eqLookup(tx, "member", ndn) {
		if g, err := getRecord(tx, gid); err == nil {
			r.Attrs["memberOf"] = addValues(lookupAttr("memberOf"), r.Attrs["memberOf"], []string{g.DN})
		}
	}
	if err := putRecord(tx, nil, r); err != nil {
		return nil, err
	}
	if err := e.syncMemberOf(tx, r, nil, now); err != nil {
		return nil, err
	}
	return r, nil
}

// Add creates an entry, its password hash and its disabled state in one
// transaction: it exists completely or not at all.
func (e *Embedded) Add(ctx context.Context, req bridge.AddRequest) (*bridge.Entry, error) {
	const op = "embedded.(*Embedded).Add"
	if err := ctxErr(op, ctx); err != nil {
		return nil, err
	}
	r, err := e.add(op, req.DN, req.Attrs, req.Password, req.Disabled, e.adminDN)
	if err != nil {
		return nil, err
	}
	return r.entry(req.Return), nil
}

func (e *Embedded) add(op, dnStr string, in map[string][]string, password string, disabled bool, actor string) (*record, error) {
	d, err := parseDN(dnStr)
	if err != nil || len(d) == 0 {
		return nil, fail(op, bridge.KindInvalidValue, ldap.LDAPResultInvalidDNSyntax, "the DN is not valid")
	}
	attrs, err := e.prepareAttrs(op, in)
	if err != nil {
		return nil, err
	}
	if password != "" {
		h, err := hashPassword(password, e.argon)
		if err != nil {
			return nil, bridge.E(op, bridge.KindInternal, "", err)
		}
		attrs["userPassword"] = []string{h}
	}
	if disabled {
		attrs["pwdAccountLockedTime"] = []string{lockedTime}
	}
	var r *record
	err = e.db.Update(func(tx *bolt.Tx) error {
		var err error
		r, err = e.addTx(tx, op, d, attrs, actor, formatGeneralizedTime(e.clock()))
		return err
	})
	if err != nil {
		return nil, translateBolt(op, err)
	}
	e.log.Debug("entry added", "op", op, "id", r.ID, "dn", r.DN, "attrs", attrNames(r.Attrs))
	return r, nil
}

// attrNames lists attribute names for the log: never values.
func attrNames(m map[string][]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// modSpec is a prepared modification: what Modify and the LDAP modify and
// modifyDN operations share.
type modSpec struct {
	newRDN      rdn // nil keeps the RDN
	deleteOld   bool
	newSuperior dn // nil keeps the parent
	changes     []bridge.Change
	password    *string // cleartext; set only when it differs
	newHash     string  // the hash of *password, made before the transaction
	disabled    *bool
	// strict applies LDAP's modify rules instead of the bridge's permissive
	// ones: adding a value that is there is attributeOrValueExists,
	// deleting one that is not is noSuchAttribute, as slapd answers.
	strict bool
}

// Modify renames or moves, then applies the changes, the password (only if
// it differs from the current one) and the disabled state, all in one
// transaction. A request that changes nothing writes nothing.
func (e *Embedded) Modify(ctx context.Context, req bridge.ModifyRequest) (*bridge.Entry, error) {
	const op = "embedded.(*Embedded).Modify"
	if err := ctxErr(op, ctx); err != nil {
		return nil, err
	}
	m := modSpec{changes: req.Changes, password: req.Password, disabled: req.Disabled, deleteOld: true}
	if req.NewRDN != "" {
		d, err := parseDN(req.NewRDN)
		if err != nil || len(d) != 1 {
			return nil, fail(op, bridge.KindInvalidValue, ldap.LDAPResultInvalidDNSyntax, "the new RDN is not valid")
		}
		m.newRDN = d[0]
	}
	if req.NewSuperior != "" {
		d, err := parseDN(req.NewSuperior)
		if err != nil || len(d) == 0 {
			return nil, fail(op, bridge.KindInvalidValue, ldap.LDAPResultInvalidDNSyntax, "the new parent DN is not valid")
		}
		m.newSuperior = d
	}
	baseN := ""
	if req.Base != "" {
		b, err := parseDN(req.Base)
		if err != nil {
			return nil, fail(op, bridge.KindInvalidValue, ldap.LDAPResultInvalidDNSyntax, "the base DN is not valid")
		}
		baseN = b.norm()
	}
	guess := req.Current
	blind := req.Guessed && req.Blind
	if req.Guessed && (guess == nil || guess.ID == "" || guess.Version == "" && !blind || !strings.EqualFold(guess.ID, req.ID) ||
		blind && (req.Password != nil || !allReplaces(req.Changes))) {
		return nil, bridge.E(op, bridge.KindPrecondition, "", bridge.ErrStaleCurrent)
	}
	r, err := e.modify(op, func(tx *bolt.Tx) (*record, error) {
		r, err := getRecord(tx, normID(req.ID))
		if req.Guessed {
			// Checked in the write transaction: the caller's plan holds
			// only for exactly the entry it remembers (a blind one's for
			// the entry with that id at that DN, whatever its values).
			if err != nil || !blind && csnVersion(r.CSN) != guess.Version || !sameNDN(r, guess.DN) {
				return nil, bridge.E(op, bridge.KindPrecondition, "", bridge.ErrStaleCurrent)
			}
		}
		if errors.Is(err, errNotFound) || err == nil && !ndnUnder(r.NDN, baseN) {
			return nil, fail(op, bridge.KindNotFound, ldap.LDAPResultNoSuchObject, "")
		}
		return r, err
	}, m, e.adminDN)
	if err != nil {
		return nil, err
	}
	return r.entry(req.Return), nil
}

// modify runs a prepared modification on the entry find returns.
func (e *Embedded) modify(op string, find func(*bolt.Tx) (*record, error), m modSpec, actor string) (*record, error) {
	// Validate and hash outside the write transaction, on a copy: the
	// caller's request stays as it was.
	changes := make([]bridge.Change, len(m.changes))
	for i, c := range m.changes {
		def := lookupAttr(c.Attr)
		if def == nil {
			return nil, fail(op, bridge.KindInvalidValue, ldap.LDAPResultUndefinedAttributeType,
				fmt.Sprintf("attribute %s is not defined in the directory's schema", safeName(c.Attr)))
		}
		if def.NoUserMod {
			return nil, fail(op, bridge.KindInvalidValue, ldap.LDAPResultConstraintViolation,
				fmt.Sprintf("attribute %s is maintained by the directory", def.Name))
		}
		if c.Op != bridge.ChangeAdd && c.Op != bridge.ChangeDelete && c.Op != bridge.ChangeReplace {
			return nil, fail(op, bridge.KindInvalidValue, ldap.LDAPResultProtocolError, "unknown change operation")
		}
		vals := c.Values
		if c.Op != bridge.ChangeDelete || def.Name != "userPassword" {
			// Deleting a specific password value names it as stored (the
			// hash), or in cleartext, which is matched against the hashes.
			var err error
			if vals, err = e.prepareValues(op, def, c.Values); err != nil {
				return nil, err
			}
		}
		changes[i] = bridge.Change{Op: c.Op, Attr: def.Name, Values: vals}
	}
	m.changes = changes
	if m.password != nil && *m.password != "" {
		h, err := hashPassword(*m.password, e.argon)
		if err != nil {
			return nil, bridge.E(op, bridge.KindInternal, "", err)
		}
		m.newHash = h
	}
	var out *record
	changed := false
	err := e.db.Update(func(tx *bolt.Tx) error {
		r, err := find(tx)
		if err != nil {
			return err
		}
		out, changed, err = e.modifyTx(tx, op, r, m, actor)
		return err
	})
	if err != nil {
		return nil, translateBolt(op, err)
	}
	if changed {
		e.log.Debug("entry modified", "op", op, "id", out.ID, "dn", out.DN)
	}
	return out, nil
}

func (e *Embedded) modifyTx(tx *bolt.Tx, op string, old *record, m modSpec, actor string) (*record, bool, error) {
	r := old.clone()
	d, err := parseDN(old.DN)
	if err != nil {
		return nil, false, err
	}
	newDN := d
	newParent := old.Parent
	if m.newRDN != nil || m.newSuperior != nil {
		if old.NDN == e.suffixN {
			return nil, false, fail(op, bridge.KindInvalidValue, ldap.LDAPResultUnwillingToPerform, "the suffix cannot be renamed")
		}
		parentDN := d.parent()
		if m.newSuperior != nil {
			supN := m.newSuperior.norm()
			sup, err := getRecordByNDN(tx, supN)
			if errors.Is(err, errNotFound) {
				return nil, false, fail(op, bridge.KindNotFound, ldap.LDAPResultNoSuchObject, "the new parent entry does not exist")
			}
			if err != nil {
				return nil, false, err
			}
			if ndnUnder(sup.NDN, old.NDN) {
				return nil, false, fail(op, bridge.KindInvalidValue, ldap.LDAPResultUnwillingToPerform, "an entry cannot move below itself")
			}
			parentDN, _ = parseDN(sup.DN)
			newParent = sup.ID
		}
		rd := d[0]
		if m.newRDN != nil {
			rd = m.newRDN
		}
		newDN = append(dn{rd}, parentDN...)
		if n := newDN.norm(); n != old.NDN && (idByNDN(tx, n) != "" || n == e.adminN) {
			return nil, false, fail(op, bridge.KindConflict, ldap.LDAPResultEntryAlreadyExists, "")
		}
		if m.newRDN != nil {
			if m.deleteOld {
				for _, a := range d[0] {
					def := lookupAttr(a.Type)
					if def == nil || containsRDNValue(m.newRDN, def, a.Value) {
						continue
					}
					r.Attrs[def.Name] = removeValues(def, r.Attrs[def.Name], []string{a.Value})
					if len(r.Attrs[def.Name]) == 0 {
						delete(r.Attrs, def.Name)
					}
				}
			}
			for _, a := range m.newRDN {
				def := lookupAttr(a.Type)
				if def == nil {
					return nil, false, fail(op, bridge.KindInvalidValue, ldap.LDAPResultNamingViolation,
						fmt.Sprintf("naming attribute %s is not defined in the directory's schema", safeName(a.Type)))
				}
				if !def.checkSyntax(a.Value) {
					return nil, false, fail(op, bridge.KindInvalidValue, ldap.LDAPResultInvalidAttributeSyntax,
						fmt.Sprintf("a value of attribute %s is not valid", def.Name))
				}
				r.Attrs[def.Name] = addValues(def, r.Attrs[def.Name], []string{a.Value})
			}
		}
		r.DN, r.NDN, r.Parent = newDN.String(), newDN.norm(), newParent
	}
	for _, c := range m.changes {
		def := lookupAttr(c.Attr)
		if m.strict {
			if err := strictCheck(op, def, c, r.Attrs[def.Name]); err != nil {
				return nil, false, err
			}
		}
		switch c.Op {
		case bridge.ChangeAdd:
			r.Attrs[def.Name] = addValues(def, r.Attrs[def.Name], c.Values)
		case bridge.ChangeDelete:
			switch {
			case len(c.Values) == 0:
				delete(r.Attrs, def.Name)
			case def.Name == "userPassword":
				var keep []string
				for _, h := range r.Attrs[def.Name] {
					if !slices.Contains(c.Values, h) && !slices.ContainsFunc(c.Values, func(pw string) bool {
						return matchesAny([]string{h}, pw)
					}) {
						keep = append(keep, h)
					}
				}
				r.Attrs[def.Name] = keep
			default:
				r.Attrs[def.Name] = removeValues(def, r.Attrs[def.Name], c.Values)
			}
		case bridge.ChangeReplace:
			r.Attrs[def.Name] = addValues(def, nil, c.Values)
		}
		if len(r.Attrs[def.Name]) == 0 {
			delete(r.Attrs, def.Name)
		}
	}
	if m.password != nil {
		switch {
		case *m.password == "":
			delete(r.Attrs, "userPassword")
		case !matchesAny(r.Attrs["userPassword"], *m.password):
			r.Attrs["userPassword"] = []string{m.newHash}
		}
	}
	if m.disabled != nil {
		if *m.disabled && !r.disabled() {
			r.Attrs["pwdAccountLockedTime"] = []string{lockedTime}
		} else if !*m.disabled {
			delete(r.Attrs, "pwdAccountLockedTime")
		}
	}
	if r.DN == old.DN && sameAttrs(r.Attrs, old.Attrs) {
		return old, false, nil
	}
	if err := checkEntry(op, newDN, r.Attrs); err != nil {
		return nil, false, err
	}
	now := formatGeneralizedTime(e.clock())
	if r.CSN, err = nextCSN(tx); err != nil {
		return nil, false, err
	}
	r.Modified, r.Modifier = now, actor
	if err := putRecord(tx, old, r); err != nil {
		return nil, false, err
	}
	if r.NDN != old.NDN {
		if err := e.renameRefs(tx, old.NDN, r, now); err != nil {
			return nil, false, err
		}
		if err := e.moveChildren(tx, r, now); err != nil {
			return nil, false, err
		}
	}
	if err := e.syncMemberOf(tx, r, old, now); err != nil {
		return nil, false, err
	}
	// syncMemberOf may have touched r itself (a group that is its own
	// member); return what is stored.
	fresh, err := getRecord(tx, r.ID)
	if err != nil {
		return nil, false, err
	}
	return fresh, true, nil
}

func strictCheck(op string, def *attrDef, c bridge.Change, have []string) error {
	switch c.Op {
	case bridge.ChangeAdd:
		if len(c.Values) == 0 {
			return fail(op, bridge.KindInvalidValue, ldap.LDAPResultProtocolError,
				fmt.Sprintf("adding attribute %s needs a value", def.Name))
		}
		for _, v := range c.Values {
			if containsValue(def, have, v) {
				return fail(op, bridge.KindInvalidValue, ldap.LDAPResultAttributeOrValueExists,
					fmt.Sprintf("attribute %s already has this value", def.Name))
			}
		}
	case bridge.ChangeDelete:
		if len(have) == 0 {
			return fail(op, bridge.KindInvalidValue, ldap.LDAPResultNoSuchAttribute,
				fmt.Sprintf("attribute %s is not in the entry", def.Name))
		}
		if def.Name == "userPassword" {
			return nil
		}
		for _, v := range c.Values {
			if !containsValue(def, have, v) {
				return fail(op, bridge.KindInvalidValue, ldap.LDAPResultNoSuchAttribute,
					fmt.Sprintf("attribute %s does not have this value", def.Name))
			}
		}
	}
	return nil
}

func containsRDNValue(r rdn, def *attrDef, v string) bool {
	for _, a := range r {
		if d := lookupAttr(a.Type); d == def && def.norm(a.Value) == def.norm(v) {
			return true
		}
	}
	return false
}

// sameAttrs reports whether a and b hold the same values, in any order: a
// replace that only reorders values changes nothing (and keeps the order
// stored), while a change of case is a change.
func sameAttrs(a, b map[string][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		w, ok := b[k]
		if !ok || len(v) != len(w) {
			return false
		}
		if slices.Equal(v, w) {
			continue
		}
		v, w = slices.Clone(v), slices.Clone(w)
		slices.Sort(v)
		slices.Sort(w)
		if !slices.Equal(v, w) {
			return false
		}
	}
	return true
}

// moveChildren rewrites the DNs of everything below r after r was renamed or
// moved (slapd's back-mdb renames subtrees the same way), keeping the
// references to each of them right.
func (e *Embedded) moveChildren(tx *bolt.Tx, parent *record, now string) error {
	pdn, err := parseDN(parent.DN)
	if err != nil {
		return err
	}
	for _, id := range childIDs(tx, parent.ID) {
		c, err := getRecord(tx, id)
		if err != nil {
			return err
		}
		cd, err := parseDN(c.DN)
		if err != nil {
			return err
		}
		nd := append(dn{cd[0]}, pdn...)
		moved := c.clone()
		moved.DN, moved.NDN = nd.String(), nd.norm()
		if err := putRecord(tx, c, moved); err != nil {
			return err
		}
		if err := e.renameRefs(tx, c.NDN, moved, now); err != nil {
			return err
		}
		if err := e.moveChildren(tx, moved, now); err != nil {
			return err
		}
	}
	return nil
}

// touch rewrites another entry that an operation changed as a side effect
// (memberOf, referential integrity): like slapd's overlays, whose internal
// modifications update modifyTimestamp and entryCSN.
func (e *Embedded) touch(tx *bolt.Tx, old, r *record, now string) error {
	csn, err := nextCSN(tx)
	if err != nil {
		return err
	}
	r.CSN, r.Modified = csn, now
	return putRecord(tx, old, r)
}

// renameRefs keeps references right after the entry at oldNDN became r:
// member values in groups (refint) and memberOf values of r's members
// (memberof's refint). Other DN-valued attributes (manager, owner, seeAlso)
// are left alone, as slapd's refint leaves the attributes it is not
// configured for.
func (e *Embedded) renameRefs(tx *bolt.Tx, oldNDN string, r *record, now string) error {
	memberDef, memberOfDef := lookupAttr("member"), lookupAttr("memberOf")
	for _, gid := range eqLookup(tx, "member", oldNDN) {
		g, err := getRecord(tx, gid)
		if err != nil {
			return err
		}
		ng := g.clone()
		var vals []string
		for _, v := range g.Attrs["member"] {
			if memberDef.norm(v) == oldNDN {
				v = r.DN
			}
			vals = addValues(memberDef, vals, []string{v})
		}
		ng.Attrs["member"] = vals
		if err := e.touch(tx, g, ng, now); err != nil {
			return err
		}
	}
	for _, v := range r.Attrs["member"] {
		m, err := getRecordByNDN(tx, memberDef.norm(v))
		if errors.Is(err, errNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		nm := m.clone()
		var vals []string
		for _, mv := range m.Attrs["memberOf"] {
			if memberOfDef.norm(mv) == oldNDN {
				mv = r.DN
			}
			vals = addValues(memberOfDef, vals, []string{mv})
		}
		nm.Attrs["memberOf"] = vals
		if err := e.touch(tx, m, nm, now); err != nil {
			return err
		}
	}
	return nil
}

// syncMemberOf brings the memberOf values of the entries that r's member
// attribute gained or lost (compared with old; nil for a new entry) in line,
// as slapd's memberof overlay does. Members that do not exist are allowed
// (memberof's "dangling" policy ignore) and skipped.
func (e *Embedded) syncMemberOf(tx *bolt.Tx, r, old *record, now string) error {
	memberDef := lookupAttr("member")
	memberOfDef := lookupAttr("memberOf")
	was := map[string]bool{}
	if old != nil && old.NDN == r.NDN {
		for _, v := range old.Attrs["member"] {
			was[memberDef.norm(v)] = true
		}
	}
	is := map[string]bool{}
	for _, v := range r.Attrs["member"] {
		is[memberDef.norm(v)] = true
	}
	update := func(ndn string, add bool) error {
		m, err := getRecordByNDN(tx, ndn)
		if errors.Is(err, errNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		nm := m.clone()
		if add {
			nm.Attrs["memberOf"] = addValues(memberOfDef, nm.Attrs["memberOf"], []string{r.DN})
		} else {
			nm.Attrs["memberOf"] = removeValues(memberOfDef, nm.Attrs["memberOf"], []string{r.DN})
		}
		if len(nm.Attrs["memberOf"]) == 0 {
			delete(nm.Attrs, "memberOf")
		}
		if sameAttrs(nm.Attrs, m.Attrs) {
			return nil
		}
		return e.touch(tx, m, nm, now)
	}
	for _, n := range sortedKeys(is) {
		if !was[n] {
			if err := update(n, true); err != nil {
				return err
			}
		}
	}
	for _, n := range sortedKeys(was) {
		if !is[n] {
			if err := update(n, false); err != nil {
				return err
			}
		}
	}
	return nil
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Delete removes an entry for good, with the member values that named it
// (refint) and the memberOf values its membership gave (memberof).
func (e *Embedded) Delete(ctx context.Context, id string) error {
	const op = "embedded.(*Embedded).Delete"
	if err := ctxErr(op, ctx); err != nil {
		return err
	}
	return e.delete(op, func(tx *bolt.Tx) (*record, error) {
		r, err := getRecord(tx, normID(id))
		if errors.Is(err, errNotFound) {
			return nil, fail(op, bridge.KindNotFound, ldap.LDAPResultNoSuchObject, "")
		}
		return r, err
	})
}

func (e *Embedded) delete(op string, find func(*bolt.Tx) (*record, error)) error {
	var gone *record
	err := e.db.Update(func(tx *bolt.Tx) error {
		r, err := find(tx)
		if err != nil {
			return err
		}
		if hasChildren(tx, r.ID) {
			return fail(op, bridge.KindConflict, ldap.LDAPResultNotAllowedOnNonLeaf, "the entry has entries below it")
		}
		if err := deleteRecord(tx, r); err != nil {
			return err
		}
		now := formatGeneralizedTime(e.clock())
		memberDef := lookupAttr("member")
		// refint: drop the member values that named it. A group left with
		// no member keeps existing, as with slapd's refint when no
		// placeholder value is configured for it.
		for _, gid := range eqLookup(tx, "member", r.NDN) {
			g, err := getRecord(tx, gid)
			if err != nil {
				return err
			}
			ng := g.clone()
			ng.Attrs["member"] = removeValues(memberDef, ng.Attrs["member"], []string{r.DN})
			if len(ng.Attrs["member"]) == 0 {
				delete(ng.Attrs, "member")
			}
			if err := e.touch(tx, g, ng, now); err != nil {
				return err
			}
		}
		// memberof: its members are no longer members of it.
		empty := r.clone()
		delete(empty.Attrs, "member")
		if err := e.syncMemberOf(tx, empty, r, now); err != nil {
			return err
		}
		gone = r
		return nil
	})
	if err != nil {
		return translateBolt(op, err)
	}
	e.log.Debug("entry deleted", "op", op, "id", gone.ID, "dn", gone.DN)
	return nil
}

// EnsureContainer creates the organizational unit at dn and its missing
// parents below the suffix, all in one transaction.
func (e *Embedded) EnsureContainer(ctx context.Context, dnStr string) error {
	const op = "embedded.(*Embedded).EnsureContainer"
	if err := ctxErr(op, ctx); err != nil {
		return err
	}
	d, err := parseDN(dnStr)
	if err != nil {
		return fail(op, bridge.KindInvalidValue, ldap.LDAPResultInvalidDNSyntax, "the container DN is not valid")
	}
	if !ndnUnder(d.norm(), e.suffixN) || len(d) == 0 {
		return fail(op, bridge.KindInvalidValue, ldap.LDAPResultNoSuchObject, "the container would lie outside the directory")
	}
	err = e.db.Update(func(tx *bolt.Tx) error {
		now := formatGeneralizedTime(e.clock())
		for i := len(d) - len(e.suffix) - 1; i >= 0; i-- {
			cur := d[i:]
			if idByNDN(tx, cur.norm()) != "" {
				continue
			}
			if len(cur[0]) != 1 || !strings.EqualFold(canonicalAttrName(cur[0][0].Type), "ou") {
				return fail(op, bridge.KindInvalidValue, ldap.LDAPResultNamingViolation, "a container must be named by ou")
			}
			attrs := map[string][]string{"objectClass": {"top", "organizationalUnit"}, "ou": {cur[0][0].Value}}
			if _, err := e.addTx(tx, op, cur, attrs, e.adminDN, now); err != nil {
				return err
			}
			e.log.Debug("container created", "op", op, "dn", cur.String())
		}
		return nil
	})
	return translateBolt(op, err)
}

// Authenticate checks dn's password the way a simple bind does: a disabled
// account, an unknown DN, an entry without a password and a wrong password
// all fail the same way, and an empty password never authenticates (RFC
// 4513 §5.1.2: that is an unauthenticated bind).
func (e *Embedded) Authenticate(ctx context.Context, dnStr, password string) error {
	const op = "embedded.(*Embedded).Authenticate"
	if err := ctxErr(op, ctx); err != nil {
		return err
	}
	_, _, err := e.authenticate(op, dnStr, password)
	return err
}

// authenticate returns the DN as the directory writes it and whether it is
// the administrator.
func (e *Embedded) authenticate(op, dnStr, password string) (string, bool, error) {
	invalid := fail(op, bridge.KindUnauthorized, ldap.LDAPResultInvalidCredentials, "invalid credentials")
	d, err := parseDN(dnStr)
	if err != nil {
		return "", false, fail(op, bridge.KindUnauthorized, ldap.LDAPResultInvalidDNSyntax, "invalid credentials")
	}
	if password == "" || len(d) == 0 {
		return "", false, invalid
	}
	ndn := d.norm()
	if ndn == e.adminN {
		if e.adminHash != "" && matchesAny([]string{e.adminHash}, password) {
			return e.adminDN, true, nil
		}
		return "", false, invalid
	}
	var r *record
	err = e.db.View(func(tx *bolt.Tx) error {
		var err error
		r, err = getRecordByNDN(tx, ndn)
		return err
	})
	if errors.Is(err, errNotFound) {
		return "", false, invalid
	}
	if err != nil {
		return "", false, translateBolt(op, err)
	}
	// The hash is checked even for a disabled account so that the answer
	// takes as long either way.
	ok := matchesAny(r.Attrs["userPassword"], password)
	if !ok || r.disabled() {
		return "", false, invalid
	}
	return r.DN, false, nil
}

// sameNDN reports whether dnStr names r.
func sameNDN(r *record, dnStr string) bool {
	d, err := parseDN(dnStr)
	return err == nil && d.norm() == r.NDN
}

func allReplaces(changes []bridge.Change) bool {
	for _, c := range changes {
		if c.Op != bridge.ChangeReplace {
			return false
		}
	}
	return true
}
