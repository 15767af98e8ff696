package ldapside

import (
	"context"
	"errors"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/dirbridge/dirbridge/bridge"
	"github.com/go-ldap/ldap/v3"
)

const attrUserPassword = "userPassword"

// cleanupTimeout bounds the undo steps that run after the request's own
// context has ended.
const cleanupTimeout = 30 * time.Second

// checkAttrs refuses attribute names that are not attribute descriptions
// and passwords passed as attributes (they would bypass the hashing, the
// same-password check and AD's encrypted-connection rule).
func checkAttrs(op string, d dialect, names []string) error {
	for _, n := range names {
		if !bridge.ValidAttrDescription(n) {
			return bridge.Errorf(op, bridge.KindInvalidValue, "an attribute name is not valid")
		}
		if strings.EqualFold(n, attrUserPassword) || d.secretAttr(n) {
			return bridge.Errorf(op, bridge.KindInvalidValue, "the password is set as the password, not as an attribute")
		}
	}
	return nil
}

// errCleartextPassword: a password is never sent on a connection that is
// not encrypted, even where the server would take it (Samba does).
var errCleartextPassword = errors.New("refusing to send a password over an unencrypted LDAP connection")

func (c *Conn) cleartextRefused(op, dn string) error {
	return &bridge.Error{Op: op, Kind: bridge.KindMisconfigured, Err: errCleartextPassword,
		Fix: "use an ldaps:// URL or set start_tls = true (with ca_file): a password is never sent over an unencrypted connection",
		Log: []any{"dn", dn, "urls", c.cfg.URLs}}
}

// Add creates the entry in ONE add operation: the lock of a disabled account
// and the password's hash (on AD unicodePwd and userAccountControl, see
// addAccount) travel with it. A password set by a second operation would
// leave a window in which a failure - the directory restarting, say -
// strands an account without its password that no undo can reach while the
// directory is down; one add is all or nothing.
func (c *Conn) Add(ctx context.Context, req bridge.AddRequest) (*bridge.Entry, error) {
	const op = "ldapside.(*Conn).Add"
	if _, err := parseDN(req.DN); err != nil {
		return nil, bridge.E(op, bridge.KindInvalidValue, "the entry's name is not a valid DN", err)
	}
	names := make([]string, 0, len(req.Attrs))
	for n := range req.Attrs {
		names = append(names, n)
	}
	sort.Strings(names)
	if err := checkAttrs(op, c.d, names); err != nil {
		return nil, err
	}
	if ap, ok := c.d.(attrPasswords); ok && isAccount(req.Attrs) {
		return c.addAccount(ctx, req, ap, names)
	}
	ar := ldap.NewAddRequest(req.DN, nil)
	for _, n := range names {
		if vals := req.Attrs[n]; len(vals) > 0 {
			ar.Attribute(n, append([]string(nil), vals...))
		}
	}
	if req.Disabled {
		a := c.d.addDisabled()
		ar.Attribute(a.Type, a.Vals)
	}
	if req.Password != "" {
		h, err := c.d.passwordHash(req.Password)
		if err != nil {
			return nil, bridge.E(op, bridge.KindInternal, "", err)
		}
		ar.Attribute(attrUserPassword, []string{h})
	}
	return c.runAdd(ctx, op, req, names, func(pc *pconn, added func()) error {
		if err := pc.l.Add(ar); err != nil {
			return err
		}
		added()
		return nil
	})
}

// runAdd runs steps (the one add) on one connection, reads the new entry
// back, and deletes it again when that read fails, so that a create the
// client is told failed does not stay behind. steps calls added once the
// entry exists.
func (c *Conn) runAdd(ctx context.Context, op string, req bridge.AddRequest, names []string, steps func(pc *pconn, added func()) error) (*bridge.Entry, error) {
	var out *bridge.Entry
	added := false
	err := c.with(ctx, nil, func(pc *pconn) error {
		if err := steps(pc, func() { added = true }); err != nil {
			return err
		}
		e, err := c.findOne(pc, req.DN, ldap.ScopeBaseObject, filterAll, c.wantAttrs(req.Return))
		if err != nil {
			return err
		}
		out, err = c.entry(pc, e, req.Return)
		return err
	})
	if err != nil && added {
		c.undo(ctx, "add", req.DN, func(pc *pconn) error { return pc.l.Del(ldap.NewDelRequest(req.DN, nil)) })
	}
	if err != nil {
		if lerr := c.lifecycleRefusal(op, "add", req.DN, err); lerr != nil {
			return nil, lerr
		}
		return nil, c.explain(op, "add", req.DN, "", err)
	}
	c.noteWrite(out)
	c.log.Debug("entry added", "dn", req.DN, "id", out.ID, "attrs", names, "password_set", req.Password != "", "disabled", req.Disabled)
	return out, nil
}

// undo runs a compensating step on a connection of its own, also when the
// request's context has ended, and logs when it fails: then the directory
// holds what the failed request half made.
func (c *Conn) undo(ctx context.Context, what, dn string, fn func(pc *pconn) error) error {
	uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	err := c.with(uctx, nil, fn)
	if err != nil {
		msg := "cannot undo a partly applied change"
		if c.cfg.Journal != nil && what == "rename" {
			msg += "; the journal keeps it and it is undone once the directory is back"
		}
		c.log.Error(msg, "step", what, "dn", dn, "error", err)
	}
	return err
}

// Delete removes the entry with the given id.
func (c *Conn) Delete(ctx context.Context, id string) error {
	const op = "ldapside.(*Conn).Delete"
	if !c.d.validID(id) {
		return bridge.Errorf(op, bridge.KindNotFound, "")
	}
	var dn string
	err := c.with(ctx, nil, func(pc *pconn) error {
		e, err := c.findByID(pc, "", id, []string{"1.1"})
		if err != nil {
			return err
		}
		dn = e.DN
		return pc.l.Del(ldap.NewDelRequest(e.DN, nil))
	})
	if err != nil {
		return c.explain(op, "delete", dn, "", err)
	}
	c.log.Debug("entry deleted", "dn", dn, "id", id)
	return nil
}

// EnsureContainer creates the organizational unit dn and its missing
// parents below BaseDN, parents first. Units that already exist, also ones
// another request creates at the same moment, are not an error.
func (c *Conn) EnsureContainer(ctx context.Context, dn string) error {
	const op = "ldapside.(*Conn).EnsureContainer"
	d, err := parseDN(dn)
	if err != nil {
		return bridge.E(op, bridge.KindInvalidValue, "the container's name is not a valid DN", err)
	}
	if !c.baseDN.EqualFold(d) && !c.baseDN.AncestorOfFold(d) {
		return bridge.Errorf(op, bridge.KindInvalidValue, "the container is not below the directory's base")
	}
	missing := len(d.RDNs) - len(c.baseDN.RDNs)
	for i := 0; i < missing; i++ {
		rdn := d.RDNs[i]
		if len(rdn.Attributes) != 1 || !strings.EqualFold(rdn.Attributes[0].Type, "ou") {
			return bridge.Errorf(op, bridge.KindInvalidValue, "a container to create must be named ou=...")
		}
	}
	err = c.with(ctx, nil, func(pc *pconn) error {
		if _, err := c.findOne(pc, dn, ldap.ScopeBaseObject, filterAll, []string{"1.1"}); err == nil {
			return nil
		} else if bridge.KindOf(err) != bridge.KindNotFound {
			return err
		}
		for i := missing - 1; i >= 0; i-- {
			sub := &ldap.DN{RDNs: d.RDNs[i:]}
			ar := ldap.NewAddRequest(sub.String(), nil)
			ar.Attribute("objectClass", []string{"top", "organizationalUnit"})
			ar.Attribute("ou", []string{d.RDNs[i].Attributes[0].Value})
			err := pc.l.Add(ar)
			var le *ldap.Error
			if err != nil && !(errors.As(err, &le) && le.ResultCode == ldap.LDAPResultEntryAlreadyExists) {
				return err
			}
			if err == nil {
				c.log.Info("container added", "dn", sub.String())
			}
		}
		return nil
	})
	return translate(op, err)
}

// valueSet is an attribute's values while a Modify is planned.
type valueSet map[string][]string // lower-cased attribute name -> values

func (v valueSet) get(attr string) []string { return v[strings.ToLower(attr)] }
func (v valueSet) set(attr string, vals []string) {
	v[strings.ToLower(attr)] = vals
}

func containsFold(vals []string, s string) (string, bool) {
	for _, v := range vals {
		if strings.EqualFold(v, s) {
			return v, true
		}
	}
	return "", false
}

// sameValues compares exactly, ignoring order: a replace that changes only
// the case of a value is a change.
func sameValues(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	a, b = slices.Clone(a), slices.Clone(b)
	sort.Strings(a)
	sort.Strings(b)
	return slices.Equal(a, b)
}

// planChanges turns the requested changes into the modifications that
// actually change something, given the current values in cur (updated as
// the plan goes). Values are matched case-insensitively for add and delete,
// as the equality rules of nearly all directory attributes do; an add of a
// present value and a delete of an absent one drop out.
func planChanges(changes []bridge.Change, cur valueSet) []ldap.Change {
	var out []ldap.Change
	for _, ch := range changes {
		have := cur.get(ch.Attr)
		switch ch.Op {
		case bridge.ChangeAdd:
			var add []string
			for _, v := range ch.Values {
				if _, ok := containsFold(have, v); ok {
					continue
				}
				if _, ok := containsFold(add, v); ok {
					continue
				}
				add = append(add, v)
			}
			if len(add) == 0 {
				continue
			}
			out = append(out, ldap.Change{Operation: ldap.AddAttribute, Modification: ldap.PartialAttribute{Type: ch.Attr, Vals: add}})
			cur.set(ch.Attr, append(slices.Clone(have), add...))
		case bridge.ChangeDelete:
			if len(ch.Values) == 0 {
				if len(have) == 0 {
					continue
				}
				out = append(out, ldap.Change{Operation: ldap.DeleteAttribute, Modification: ldap.PartialAttribute{Type: ch.Attr, Vals: []string{}}})
				cur.set(ch.Attr, nil)
				continue
			}
			var del []string
			rest := slices.Clone(have)
			for _, v := range ch.Values {
				if stored, ok := containsFold(rest, v); ok {
					del = append(del, stored)
					rest = slices.DeleteFunc(rest, func(x string) bool { return x == stored })
				}
			}
			if len(del) == 0 {
				continue
			}
			out = append(out, ldap.Change{Operation: ldap.DeleteAttribute, Modification: ldap.PartialAttribute{Type: ch.Attr, Vals: del}})
			cur.set(ch.Attr, rest)
		case bridge.ChangeReplace:
			if sameValues(have, ch.Values) {
				continue
			}
			out = append(out, ldap.Change{Operation: ldap.ReplaceAttribute, Modification: ldap.PartialAttribute{Type: ch.Attr, Vals: append([]string{}, ch.Values...)}})
			cur.set(ch.Attr, slices.Clone(ch.Values))
		}
	}
	return out
}

// Modify applies req: a rename or move first (LDAP has no operation that
// renames and changes attributes at once), then the attribute changes, the
// password and the disabled state together in ONE modify operation, which
// the directory applies whole or not at all: a failure or a cut connection
// can never leave, say, the new password set and the account still
// enabled. It writes nothing when nothing would change. When the modify
// fails after a rename, the rename is undone.
func (c *Conn) Modify(ctx context.Context, req bridge.ModifyRequest) (*bridge.Entry, error) {
	const op = "ldapside.(*Conn).Modify"
	if !c.d.validID(req.ID) {
		return nil, bridge.Errorf(op, bridge.KindNotFound, "")
	}
	var read []string
	for _, ch := range req.Changes {
		if ch.Op < bridge.ChangeAdd || ch.Op > bridge.ChangeReplace {
			return nil, bridge.Errorf(op, bridge.KindInvalidValue, "unknown change operation")
		}
		read = append(read, ch.Attr)
	}
	if err := checkAttrs(op, c.d, read); err != nil {
		return nil, err
	}
	if req.Password != nil && *req.Password == "" {
		return nil, bridge.Errorf(op, bridge.KindInvalidValue, "the password must not be empty")
	}
	var newRDN *ldap.DN
	if req.NewRDN != "" {
		d, err := parseDN(req.NewRDN)
		if err != nil || len(d.RDNs) != 1 {
			return nil, bridge.Errorf(op, bridge.KindInvalidValue, "the new name is not a valid RDN")
		}
		newRDN = d
	}
	if req.NewSuperior != "" {
		if _, err := parseDN(req.NewSuperior); err != nil {
			return nil, bridge.Errorf(op, bridge.KindInvalidValue, "the new parent is not a valid DN")
		}
	}
	if newRDN != nil {
		for _, a := range newRDN.RDNs[0].Attributes {
			read = append(read, a.Type)
		}
	}
	if req.Password != nil {
		read = append(read, c.d.passwordReadAttrs()...)
	}
	read = append(read, c.d.operationalAttrs()...)
	if len(read) == len(c.d.operationalAttrs()) {
		read = append(read, "1.1")
	}
	partial := c.valueLevel(req.Changes, newRDN != nil)

	var out *bridge.Entry
	var undoRename func(pc *pconn) error
	written := false // every write of the request is done
	journalTok := "" // the journal's record of a rename and its modify
	var dn string
	err := c.with(ctx, nil, func(pc *pconn) error {
		if _, ad := c.d.(activeDirectory); !pc.caps.matchedValues && !ad {
			partial = nil // read the whole attributes, as before
		}
		if got, done, err := c.modifyCurrent(pc, req, partial); done || err != nil {
			if out = got; req.Current != nil {
				dn = req.Current.DN
			}
			return err
		}
		// Of the attributes of partial only which of the given values
		// are present matters to the plan: read those, not the whole
		// attribute.
		e, present, err := c.findWithValues(pc, req.Base, req.ID, read, partial)
		if err == nil && len(partial) > 0 && !pc.caps.matchedValues {
			present, err = c.adConfirmDeletes(pc, e.DN, req.Changes, present)
		}
		if err != nil {
			return err
		}
		dn = e.DN
		cur := valueSet{}
		for _, a := range e.Attributes {
			if _, p := partial[strings.ToLower(a.Name)]; !p {
				cur.set(a.Name, a.Values)
			}
		}
		for a, v := range present {
			cur.set(a, v)
		}
		before := valueSet{}
		for k, v := range cur {
			before[k] = slices.Clone(v)
		}
		var was bridge.Entry
		c.d.fill(&was, e)

		// Plan the rename.
		curDN, err := parseDN(e.DN)
		if err != nil {
			return err
		}
		targetRDN, targetParent := curDN.RDNs[0], &ldap.DN{RDNs: curDN.RDNs[1:]}
		if newRDN != nil {
			targetRDN = newRDN.RDNs[0]
		}
		if req.NewSuperior != "" {
			targetParent, _ = parseDN(req.NewSuperior)
		}
		target := &ldap.DN{RDNs: append([]*ldap.RelativeDN{targetRDN}, targetParent.RDNs...)}
		rename := !target.EqualFold(curDN)
		if rename {
			// After the rename the old RDN values are gone and the new
			// ones present: plan the attribute changes on that state.
			for _, a := range curDN.RDNs[0].Attributes {
				cur.set(a.Type, slices.DeleteFunc(slices.Clone(cur.get(a.Type)), func(x string) bool { return strings.EqualFold(x, a.Value) }))
			}
			for _, a := range targetRDN.Attributes {
				if _, ok := containsFold(cur.get(a.Type), a.Value); !ok {
					cur.set(a.Type, append(slices.Clone(cur.get(a.Type)), a.Value))
				}
			}
		}
		mods := planChanges(req.Changes, cur)
		setPw := req.Password != nil && !c.d.samePassword(e, *req.Password)
		changeDisabled := req.Disabled != nil && *req.Disabled != was.Disabled
		if _, ap := c.d.(attrPasswords); ap && setPw && !pc.secure {
			// Refused before anything is written, the rename too.
			return c.cleartextRefused(op, e.DN)
		}
		var pw *string
		if setPw {
			pw = req.Password
		}
		var dis *bool
		if changeDisabled {
			dis = req.Disabled
		}
		account := func(e *ldap.Entry, mods []ldap.Change) ([]ldap.Change, error) {
			return c.withAccount(e, mods, pw, dis)
		}

		var all []ldap.Change
		if len(mods) > 0 || setPw || changeDisabled {
			if all, err = account(e, mods); err != nil {
				return err
			}
		}
		if rename {
			// deleteoldrdn: the contract says the old RDN value goes.
			newParent := ""
			if req.NewSuperior != "" {
				newParent = targetParent.String()
			}
			oldRDN, oldParent := curDN.RDNs[0].String(), (&ldap.DN{RDNs: curDN.RDNs[1:]}).String()
			newDN := target.String()
			// Renaming back removes the new RDN value too, unless the
			// entry had it before the rename.
			keepNew := true
			for _, a := range targetRDN.Attributes {
				if _, ok := containsFold(before.get(a.Type), a.Value); !ok {
					keepNew = false
				}
			}
			if len(all) > 0 {
				ri := renameIntent{OldRDN: oldRDN, NewDN: newDN, KeepNew: keepNew}
				if req.NewSuperior != "" {
					ri.OldParent = oldParent
				}
				if journalTok, err = c.beginRename(ctx, req.ID, ri, all); err != nil {
					return bridge.E(op, bridge.KindInternal, "the gateway cannot record the request in its journal", err)
				}
			}
			if err := pc.l.ModifyDN(ldap.NewModifyDNRequest(e.DN, targetRDN.String(), true, newParent)); err != nil {
				return err
			}
			undoRename = func(pc *pconn) error {
				sup := ""
				if req.NewSuperior != "" {
					sup = oldParent
				}
				return pc.l.ModifyDN(ldap.NewModifyDNRequest(newDN, oldRDN, !keepNew, sup))
			}
			dn = newDN
		}
		var post []string
		if len(partial) > 0 && pc.caps.postRead {
			// A value-level change of a big member list: the modify's
			// response carries the entry as written (without the list,
			// unless Return names it), which saves the read back.
			post = c.wantAttrs(req.Return)
		}
		var got *ldap.Entry
		if len(all) > 0 {
			if got, err = c.modifyIdempotentRead(pc, dn, all, req.Changes, read, account, post); err != nil {
				if setPw {
					return passwordRefusal(op, err)
				}
				return err
			}
		}
		// From here on the request has taken full effect: a failure to
		// read the entry back undoes nothing (the client that retries
		// finds its change made).
		written = true
		if got == nil && req.Return != nil && len(req.Return) == 0 {
			// Nothing asked for (a membership change): on Samba, which
			// sends no Post-Read, that saves a search per request. No
			// version is noted for fail-back (noteWrite): only an entry
			// this gateway created can be missing from a replica.
			out = &bridge.Entry{ID: req.ID, DN: dn}
			return nil
		}
		if got == nil {
			if got, err = c.findOne(pc, dn, ldap.ScopeBaseObject, filterAll, c.wantAttrs(req.Return)); err != nil {
				return err
			}
		}
		if out, err = c.entry(pc, got, req.Return); err != nil {
			return err
		}
		if rename || len(mods) > 0 || setPw || changeDisabled {
			names := make([]string, 0, len(mods))
			for _, m := range mods {
				names = append(names, m.Modification.Type)
			}
			c.log.Debug("entry modified", "dn", dn, "id", req.ID, "renamed", rename, "attrs", names, "password_set", setPw, "disabled_changed", changeDisabled)
		}
		return nil
	})
	settled := err == nil || written
	if err != nil && undoRename != nil && !written {
		settled = c.undo(ctx, "rename", dn, undoRename) == nil
	}
	if journalTok != "" {
		if settled {
			_ = c.cfg.Journal.End(journalTok)
		} else {
			// The record stays, for recovery (recoverRename).
			c.cfg.Journal.Release(journalTok)
		}
	}
	if err != nil {
		if lerr := c.lifecycleRefusal(op, "modify", dn, err); lerr != nil {
			return nil, lerr
		}
		return nil, c.explain(op, "modify", dn, req.NewSuperior, err)
	}
	c.noteWrite(out)
	return out, nil
}

// withAccount returns mods, the attribute changes planned on e, followed by
// the dialect's changes of the password (unless pw is nil) and the disabled
// state (unless dis is nil), for one modify operation. A replace in mods of
// the attribute that holds the disabled state (a table that maps AD's
// userAccountControl) becomes the value the disabled-state change starts
// from, instead of a second replace of the same attribute: Samba 4.17 does
// not apply two replaces of one attribute in one modify in order (the
// first wins).
func (c *Conn) withAccount(e *ldap.Entry, mods []ldap.Change, pw *string, dis *bool) ([]ldap.Change, error) {
	if pw == nil && dis == nil {
		return mods, nil
	}
	state := e
	if attr, ok := c.d.virtualAttr(bridge.VirtualDisabled); ok && dis != nil {
		i := slices.IndexFunc(mods, func(m ldap.Change) bool {
			return m.Operation == ldap.ReplaceAttribute && strings.EqualFold(m.Modification.Type, attr)
		})
		if i >= 0 {
			state = withValues(e, attr, mods[i].Modification.Vals)
			mods = slices.Delete(slices.Clone(mods), i, i+1)
		}
	}
	acc, err := c.d.accountChanges(state, pw, dis)
	if err != nil {
		return nil, err
	}
	return append(slices.Clip(mods), acc...), nil
}

// withValues is a copy of e with attr holding vals.
func withValues(e *ldap.Entry, attr string, vals []string) *ldap.Entry {
	out := &ldap.Entry{DN: e.DN}
	for _, a := range e.Attributes {
		if !strings.EqualFold(a.Name, attr) {
			out.Attributes = append(out.Attributes, a)
		}
	}
	out.Attributes = append(out.Attributes, ldap.NewEntryAttribute(attr, vals))
	return out
}

// passwordRefusal names the password policy when the modify that carried a
// password failed with a constraint violation that names no attribute: that
// is ppolicy's answer ("Password fails quality checking policy", "Password
// is in history of old passwords", "Password is too young to change").
// AD's password refusals carry 0000052D, which translate names already.
func passwordRefusal(op string, err error) error {
	var le *ldap.Error
	if errors.As(err, &le) && le.ResultCode == ldap.LDAPResultConstraintViolation &&
		adExtendedCode(le.Err) == "" && attrInDiag(le.Err) == "" {
		return bridge.E(op, bridge.KindInvalidValue, "the directory's password policy refused the password", err)
	}
	return err
}

// modifyIdempotent sends mods in one modify operation. Adding a present
// value and deleting an absent one must not fail: with the Permissive
// Modify control the server ignores them; without it, a refusal for exactly
// that reason makes us re-read the entry (changes' attributes and
// stateAttrs), re-plan changes, add account's changes for the fresh state
// (account may be nil) and try once more (another writer changed the entry
// between our read and our write).
//
// The retry also runs when the control was sent: Samba 4.17 advertises it
// but still refuses a present value of a linked attribute (member) with
// entryAlreadyExists (68), and a value removed before with
// unwillingToPerform (53, "already deleted"), rather than ignoring them.
// Those codes are only taken for that when the re-read shows nothing left
// to do; otherwise the retry's own answer stands.
func (c *Conn) modifyIdempotent(pc *pconn, dn string, mods []ldap.Change, changes []bridge.Change, stateAttrs []string,
	account func(e *ldap.Entry, mods []ldap.Change) ([]ldap.Change, error)) error {
	_, err := c.modifyIdempotentRead(pc, dn, mods, changes, stateAttrs, account, nil)
	return err
}

// modifyIdempotentRead is modifyIdempotent that, when post names
// attributes, asks for the entry as written with the Post-Read control
// and returns it; it returns nil when the server sent none (or the retry
// found nothing left to write), and the caller reads the entry back.
func (c *Conn) modifyIdempotentRead(pc *pconn, dn string, mods []ldap.Change, changes []bridge.Change, stateAttrs []string,
	account func(e *ldap.Entry, mods []ldap.Change) ([]ldap.Change, error), post []string) (*ldap.Entry, error) {
	var ctrls []ldap.Control
	if pc.caps.permissive {
		ctrls = append(ctrls, ldap.NewControlString(oidPermissiveModify, false, ""))
	}
	if len(post) > 0 {
		ctrls = append(ctrls, &postReadControl{attrs: post})
	}
	send := func(changes []ldap.Change) (*ldap.Entry, error) {
		m := ldap.NewModifyRequest(dn, ctrls)
		m.Changes = changes
		res, err := pc.l.ModifyWithResult(m)
		if err != nil || len(post) == 0 {
			return nil, err
		}
		got := postReadEntry(res.Controls)
		if got != nil {
			c.postRead.Add(1)
		}
		return got, nil
	}
	got, err := send(mods)
	var le *ldap.Error
	if err == nil || !errors.As(err, &le) ||
		(le.ResultCode != ldap.LDAPResultAttributeOrValueExists && le.ResultCode != ldap.LDAPResultNoSuchAttribute &&
			le.ResultCode != ldap.LDAPResultEntryAlreadyExists && le.ResultCode != ldap.LDAPResultUnwillingToPerform) {
		return got, err
	}
	attrs := slices.Clone(stateAttrs)
	for _, ch := range changes {
		attrs = append(attrs, ch.Attr)
	}
	e, rerr := c.findOne(pc, dn, ldap.ScopeBaseObject, filterAll, attrs)
	if rerr != nil {
		return nil, err
	}
	cur := valueSet{}
	for _, a := range e.Attributes {
		cur.set(a.Name, a.Values)
	}
	again := planChanges(changes, cur)
	if account != nil {
		if again, rerr = account(e, again); rerr != nil {
			return nil, rerr
		}
	}
	if len(again) == 0 {
		return nil, nil
	}
	return send(again)
}

// valueLevel returns the attributes (lower-cased, with the values named)
// whose changes in req are all adds or deletes of given values: planning
// those needs only to know which of the values are present, not the whole
// attribute (see presentValues). A replace, a delete of the whole attribute
// or a rename (which changes the naming attribute's values) needs the
// whole attribute. On AD only member is planned so (adValueLevel).
func (c *Conn) valueLevel(changes []bridge.Change, rename bool) map[string][]string {
	if rename {
		return nil
	}
	if _, ad := c.d.(activeDirectory); ad {
		return adValueLevel(changes)
	}
	out := map[string][]string{}
	whole := map[string]bool{}
	for _, ch := range changes {
		a := strings.ToLower(ch.Attr)
		if ch.Op == bridge.ChangeReplace || len(ch.Values) == 0 {
			whole[a] = true
			continue
		}
		out[a] = append(out[a], ch.Values...)
	}
	for a := range whole {
		delete(out, a)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// withoutAttrs returns read without the attributes of skip.
func withoutAttrs(read []string, skip map[string][]string) []string {
	if len(skip) == 0 {
		return read
	}
	out := make([]string, 0, len(read))
	for _, a := range read {
		if _, s := skip[strings.ToLower(a)]; !s {
			out = append(out, a)
		}
	}
	return out
}
