package bridge

import (
	"context"
	"fmt"
	"strings"
	"sync"
)

// ServiceConfig holds the provisioning rules of one resource type.
type ServiceConfig struct {
	// Lifecycle enables active and password: accounts are disabled rather
	// than deleted, and passwords are set through the Directory.
	Lifecycle bool
	// HardDelete makes DELETE remove the entry. Otherwise a deleted account
	// is disabled and moved to LeaversDN, out of SCIM's sight.
	HardDelete bool
	// LeaversDN is the container for soft-deleted accounts. It must not lie
	// below the mapper's Container.
	LeaversDN string
	// DefaultPageSize and MaxPageSize bound list responses.
	DefaultPageSize int
	MaxPageSize     int
	// ReadAhead, when set, fetches the next page of a walk ahead (see
	// ReadAhead). Services that share one drop each other's prefetched
	// pages on every write, as a write to one resource type can change the
	// other's pages (members, groups).
	ReadAhead *ReadAhead
	// Memberships, when set, makes DELETE (and, with OnDisable, a write
	// that disables the account) take the user out of the groups that
	// name it, before the user's own write (see deprovision.go).
	Memberships *Memberships
	// OnGroupsLeft, when set, is told what each deprovisioning did to the
	// user's groups (the audit line).
	OnGroupsLeft func(ctx context.Context, ev GroupsLeft)
	// Journal, when set, records the deprovisioning writes (a DELETE, a
	// stripping disable) before their first step, so that one cut short by
	// the directory or a crash is finished or reversed later (journal.go).
	Journal Journal
	// EntryCache, when positive, is how many entries the service remembers
	// (least recently used forgotten first) to send a PUT or PATCH as one
	// modify planned on the remembered entry (ModifyRequest.Guessed), with
	// a fresh read and a second plan only when the directory refuses the
	// guess. Only for a Directory that guards a Guessed request in the
	// operation itself; one that cannot refuses every guess, at no cost
	// but the wasted plan.
	EntryCache int
	// DNIndex, when positive, is how many ids the service remembers the DN
	// of (dnindex.go), to send a PATCH whose outcome does not depend on the
	// entry's values as one modify to that DN guarded by the id
	// (ModifyRequest.Blind), for users whose entry is not remembered.
	// Same condition on the Directory as EntryCache.
	DNIndex int
}

// Service provides SCIM's operations on one resource type over a Directory,
// with the domain's rules: immutable ids, disable instead of delete,
// passwords set only when changed, uniqueness, owner-aware replace.
type Service struct {
	dir    Directory
	m      Mapper
	refs   Refs
	cfg    ServiceConfig
	leaver sync.Mutex // serialises creation of the leavers container
	hasLvr bool
	cache  *entryCache // nil: every PUT and PATCH reads the entry first
	index  *dnIndex    // nil: no blind writes
}

// NewService returns a Service; cfg is copied and defaults are applied to the
// copy.
func NewService(dir Directory, m Mapper, refs Refs, cfg ServiceConfig) *Service {
	if cfg.DefaultPageSize <= 0 {
		cfg.DefaultPageSize = 100
	}
	if cfg.MaxPageSize <= 0 {
		cfg.MaxPageSize = 1000
	}
	if cfg.DefaultPageSize > cfg.MaxPageSize {
		cfg.DefaultPageSize = cfg.MaxPageSize
	}
	if cfg.ReadAhead != nil {
		dir = writesDrop{Directory: dir, ra: cfg.ReadAhead}
	}
	if n, ok := m.(AttrNamer); ok {
		dir = namingDirectory{Directory: dir, n: n}
	}
	cache := newEntryCache(cfg.EntryCache)
	index := newDNIndex(cfg.DNIndex)
	if _, ok := m.(BlindMapper); !ok {
		index = nil
	}
	if cache != nil || index != nil {
		dir = cachingDirectory{Directory: dir, c: cache, x: index, full: m.DirectoryAttrs()}
	}
	s := &Service{dir: dir, m: m, refs: refs, cfg: cfg, cache: cache, index: index}
	if cfg.Journal != nil && cfg.Lifecycle {
		cfg.Journal.Handle(s.intentKind("delete"), s.recoverDelete)
		cfg.Journal.Handle(s.intentKind("disable"), s.recoverDisable)
	}
	return s
}

// ResourceType describes the service's resource type.
func (s *Service) ResourceType() *ResourceType { return s.m.ResourceType() }

// Config returns the service's rules, with defaults applied.
func (s *Service) Config() ServiceConfig { return s.cfg }

// Get returns the resource with the given id.
func (s *Service) Get(ctx context.Context, id string) (Resource, error) {
	const op = "bridge.(*Service).Get"
	e, err := s.get(ctx, id)
	if err != nil {
		return Resource{}, Wrap(op, err)
	}
	r, err := s.resource(ctx, e)
	return r, Wrap(op, err)
}

func (s *Service) get(ctx context.Context, id string) (*Entry, error) {
	return s.getAttrs(ctx, id, s.m.DirectoryAttrs())
}

// getAttrs reads the resource's entry with attrs; an entry outside the
// mapper's scope is not found.
func (s *Service) getAttrs(ctx context.Context, id string, attrs []string) (*Entry, error) {
	const op = "bridge.(*Service).get"
	if attr := s.idAttr(); attr != "" {
		return s.getByAttr(ctx, attr, id, attrs)
	}
	e, err := s.dir.Get(ctx, s.m.Container(), id, attrs)
	if err == nil && !s.inScope(e.DN) {
		err = Errorf(op, KindNotFound, "the entry is below the container's children")
	}
	if err != nil {
		if KindOf(err) == KindNotFound {
			return nil, E(op, KindNotFound, fmt.Sprintf("%s %q not found", s.m.ResourceType().Name, id), err)
		}
		return nil, err
	}
	return e, nil
}

// idAttr is the directory attribute whose value is a resource's id
// (IDAttrMapper), or "" for the entry's immutable id.
func (s *Service) idAttr() string {
	if im, ok := s.m.(IDAttrMapper); ok {
		return im.IDAttr()
	}
	return ""
}

// getByAttr finds the one entry of the mapper's objects below Container
// whose attr is id. Two would make the id name either, and a write could
// land on the wrong one: that is the table's mistake (an attribute that
// is not unique there), not the client's.
func (s *Service) getByAttr(ctx context.Context, attr, id string, attrs []string) (*Entry, error) {
	const op = "bridge.(*Service).get"
	notFound := func() error {
		return Errorf(op, KindNotFound, "%s %q not found", s.m.ResourceType().Name, id)
	}
	if id == "" {
		return nil, notFound()
	}
	if !containsFold(attrs, attr) {
		attrs = append(append([]string(nil), attrs...), attr)
	}
	res, err := s.dir.Search(ctx, SearchRequest{Base: s.m.Container(), Scope: s.scope(),
		Filter: And(s.m.ObjectFilter(), Eq(attr, id)), Attrs: attrs, Count: 2})
	if err != nil {
		return nil, err
	}
	switch len(res.Entries) {
	case 0:
		return nil, notFound()
	case 1:
		return res.Entries[0], nil
	}
	name := s.m.ResourceType().Name
	return nil, &Error{Op: op, Kind: KindMisconfigured,
		Msg: fmt.Sprintf("more than one %s has the id %q: the server's id attribute is not unique", name, id),
		Fix: fmt.Sprintf("%s values are identified by %s, which more than one entry below the type's container holds as %q: "+
			"make %s unique there, or use value.id = \"\" (the immutable id)", name, attr, id, attr),
		Log: []any{"id_attr", attr, "container", s.m.Container()}}
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

// scope is the search scope below Container (SearchScoper).
func (s *Service) scope() Scope {
	if sc, ok := s.m.(SearchScoper); ok {
		return sc.SearchScope()
	}
	return ScopeSub
}

// inScope reports whether dn lies where the mapper's resources may: with
// ScopeOne only directly below Container (Directory.Get answers anything
// at or below its base).
func (s *Service) inScope(dn string) bool {
	if s.scope() != ScopeOne {
		return true
	}
	rdns, err := ParseDN(dn)
	if err != nil || len(rdns) < 2 {
		return false
	}
	return NormalizeDN(JoinDN(rdns[1:])) == NormalizeDN(s.m.Container())
}

// List returns one page of the resources that match q.
func (s *Service) List(ctx context.Context, q Query) (Page, error) {
	const op = "bridge.(*Service).List"
	start := q.StartIndex
	if start < 1 {
		start = 1
	}
	count := q.Count
	if count < 0 {
		count = s.cfg.DefaultPageSize
	}
	if count > s.cfg.MaxPageSize {
		count = s.cfg.MaxPageSize
	}
	f := s.m.ObjectFilter()
	if q.Filter != nil {
		tf, err := s.m.Filter(ctx, q.Filter, s.refs)
		if err != nil {
			return Page{}, Wrap(op, err)
		}
		f = And(f, tf)
	}
	attrs := s.m.DirectoryAttrs()
	if lm, ok := s.m.(ListMapper); ok && q.Filter == nil {
		attrs = lm.ListAttrs()
	}
	req := SearchRequest{
		Base:   s.m.Container(),
		Scope:  s.scope(),
		Filter: f,
		Attrs:  attrs,
		SortBy: s.m.SortAttr(),
		Offset: start - 1,
		Count:  count,
	}
	ra := s.cfg.ReadAhead
	if ra == nil {
		page, err := s.listPage(ctx, req)
		return page, Wrap(op, err)
	}
	// A page at offset 0 is never fetched ahead, and one that is not full
	// ends its walk: only the others need the search's key.
	var key string
	var page Page
	ok := false
	if req.Offset > 0 {
		key = searchKey(s.m.ResourceType().Name, req)
		page, ok = ra.take(ctx, key, req.Offset)
	}
	if !ok {
		var err error
		if page, err = s.listPage(ctx, req); err != nil {
			return Page{}, Wrap(op, err)
		}
	}
	full := len(page.Resources) == count && count > 0
	if full && key == "" {
		key = searchKey(s.m.ResourceType().Name, req)
	}
	if next := req.Offset + len(page.Resources); full && ra.served(key, req.Offset, next) && next < page.TotalResults {
		ra.start(ctx, key, next, func(ctx context.Context) (Page, error) {
			r := req
			r.Offset = next
			return s.listPage(ctx, r)
		})
	}
	return page, nil
}

// listPage reads one page from the directory and maps it.
func (s *Service) listPage(ctx context.Context, req SearchRequest) (Page, error) {
	res, err := s.dir.Search(ctx, req)
	if err != nil {
		return Page{}, err
	}
	page := Page{TotalResults: res.Total, StartIndex: req.Offset + 1, Resources: make([]Resource, 0, len(res.Entries))}
	for _, e := range res.Entries {
		r, err := s.resource(ctx, e)
		if err != nil {
			return Page{}, err
		}
		page.Resources = append(page.Resources, r)
	}
	return page, nil
}

// Create adds a resource.
func (s *Service) Create(ctx context.Context, in Resource) (Resource, error) {
	const op = "bridge.(*Service).Create"
	attrs, err := Normalize(s.m.ResourceType(), in.Attrs)
	if err != nil {
		return Resource{}, Wrap(op, err)
	}
	r := Resource{Attrs: attrs}
	if err := s.checkRequired(r); err != nil {
		return Resource{}, Wrap(op, err)
	}
	disabled, password := false, ""
	if s.cfg.Lifecycle {
		if a, ok := attrs["active"].(bool); ok {
			disabled = !a
		}
		password, _ = attrs["password"].(string)
	}
	if err := s.checkUnique(ctx, r, nil); err != nil {
		return Resource{}, Wrap(op, err)
	}
	plan, err := s.m.NewEntry(ctx, r, s.refs)
	if err != nil {
		return Resource{}, Wrap(op, err)
	}
	if err := s.ensure(ctx, plan.Containers); err != nil {
		return Resource{}, Wrap(op, err)
	}
	e, err := s.dir.Add(ctx, AddRequest{DN: plan.DN, Attrs: plan.Attrs, Password: password, Disabled: disabled, Return: s.m.DirectoryAttrs()})
	if err != nil {
		if KindOf(err) == KindConflict {
			return Resource{}, E(op, KindConflict, s.conflictMessage(r), err)
		}
		return Resource{}, Wrap(op, err)
	}
	out, err := s.resource(ctx, e)
	return out, Wrap(op, err)
}

// Replace makes the resource with id hold in's values for every attribute
// the identity provider owns (a SCIM PUT).
func (s *Service) Replace(ctx context.Context, id string, in Resource) (Resource, error) {
	const op = "bridge.(*Service).Replace"
	if cur := s.cached(id); cur != nil {
		if attrs, err := Normalize(s.m.ResourceType(), in.Attrs); err == nil {
			if out, done, err := s.updateGuessed(ctx, cur, Resource{ID: id, Attrs: attrs}); done {
				return out, Wrap(op, err)
			}
		}
	}
	// A PUT is not written blind: replacing every attribute the table
	// writes makes slapd re-index each of them (cn, uid, mail: eq,sub),
	// which cost more than the read it saves (docs/performance.md).
	cur, err := s.get(ctx, id)
	if err != nil {
		return Resource{}, Wrap(op, err)
	}
	attrs, err := Normalize(s.m.ResourceType(), in.Attrs)
	if err != nil {
		return Resource{}, Wrap(op, err)
	}
	out, err := s.update(ctx, cur, Resource{ID: id, Attrs: attrs})
	return out, Wrap(op, err)
}

// Patch applies PATCH operations to the resource with id.
func (s *Service) Patch(ctx context.Context, id string, ops []PatchOp) (Resource, error) {
	const op = "bridge.(*Service).Patch"
	if done, err := s.patchMembers(ctx, id, ops); done || err != nil {
		if err != nil {
			return Resource{}, Wrap(op, err)
		}
		return s.Get(ctx, id)
	}
	if cur := s.cached(id); cur != nil {
		if out, done, err := s.patchGuessed(ctx, cur, ops); done {
			return out, Wrap(op, err)
		}
	} else if blind := s.blindEntry(id); blind != nil {
		if out, done, err := s.patchBlind(ctx, blind, ops); done {
			return out, Wrap(op, err)
		}
	}
	cur, err := s.get(ctx, id)
	if err != nil {
		return Resource{}, Wrap(op, err)
	}
	r, err := s.resource(ctx, cur)
	if err != nil {
		return Resource{}, Wrap(op, err)
	}
	patched, err := ApplyPatch(s.m.ResourceType(), r, ops)
	if err != nil {
		return Resource{}, Wrap(op, err)
	}
	attrs, err := Normalize(s.m.ResourceType(), patched.Attrs)
	if err != nil {
		return Resource{}, Wrap(op, err)
	}
	out, err := s.update(ctx, cur, Resource{ID: id, Attrs: attrs, Patched: true})
	return out, Wrap(op, err)
}

// PatchQuiet applies PATCH operations like Patch but returns nothing, so
// that membership changes need not read the member list back (SCIM group
// PATCH answers 204).
func (s *Service) PatchQuiet(ctx context.Context, id string, ops []PatchOp) error {
	const op = "bridge.(*Service).PatchQuiet"
	done, err := s.patchMembers(ctx, id, ops)
	if err != nil {
		return Wrap(op, err)
	}
	if done {
		return nil
	}
	_, err = s.Patch(ctx, id, ops)
	return Wrap(op, err)
}

// cached is the remembered entry of id, which the cache keys by immutable
// id: a resource named by an attribute's value is always read.
func (s *Service) cached(id string) *Entry {
	if s.idAttr() != "" {
		return nil
	}
	return s.cache.get(id)
}

// patchMembers takes the membership fast path when the mapper offers it and
// every op is a membership change. It reports whether it handled ops.
func (s *Service) patchMembers(ctx context.Context, id string, ops []PatchOp) (bool, error) {
	mm, ok := s.m.(MemberMapper)
	if !ok {
		return false, nil
	}
	changes, ok, err := mm.MemberChanges(ctx, ops, s.refs)
	if err != nil || !ok {
		return false, err
	}
	// Nothing back: the answer is read afterwards (Patch) or not at all
	// (PatchQuiet), and a directory without Post-Read then skips a read.
	req := ModifyRequest{ID: id, Base: s.m.Container(), Changes: changes, Return: []string{}}
	if attr := s.idAttr(); attr != "" {
		// id is the attribute's value: the write goes to the entry it
		// names now, by its immutable id (found in scope, so the check
		// below is done too).
		e, err := s.getAttrs(ctx, id, []string{"objectClass"})
		if err != nil || len(changes) == 0 {
			return true, err
		}
		req.ID = e.ID
	} else if len(changes) == 0 || s.scope() == ScopeOne {
		// Nothing to write still needs the resource to exist; and Modify's
		// Base admits any depth, so a one-level type checks where the entry
		// is before writing (its values are the directory's and do not move
		// under provisioning, so the read and the write see the same place).
		if _, err := s.getAttrs(ctx, id, []string{"objectClass"}); err != nil || len(changes) == 0 {
			return true, err
		}
	}
	_, err = s.dir.Modify(ctx, req)
	if schemaRefused(err) {
		// Removing the last members of a group whose object class needs one:
		// keep the placeholder in the same write, and take it out again
		// when members come back (mapping's Changes does that).
		if attr, ph := mm.MemberPlaceholder(); ph != "" {
			req.Changes = append([]Change{{Op: ChangeAdd, Attr: attr, Values: []string{ph}}}, changes...)
			_, err = s.dir.Modify(ctx, req)
		}
	}
	if KindOf(err) == KindNotFound {
		return true, E("bridge.(*Service).patchMembers", KindNotFound, fmt.Sprintf("%s %q not found", s.m.ResourceType().Name, id), err)
	}
	return true, err
}

// update writes what it takes to turn cur into desired.
func (s *Service) update(ctx context.Context, cur *Entry, desired Resource) (Resource, error) {
	req, plan, err := s.plan(ctx, cur, desired)
	if err != nil {
		return Resource{}, err
	}
	if plan.Empty() && req.Disabled == nil && req.Password == nil {
		return s.resource(ctx, cur)
	}
	if err := s.ensure(ctx, plan.Containers); err != nil {
		return Resource{}, err
	}
	if s.strips(req) {
		// Everything that can refuse the request as the client's fault was
		// checked above: leave the groups, then write the user (see
		// deprovision.go for the order), journalled as one request.
		tok, err := s.begin(ctx, "disable", cur.ID)
		if err != nil {
			return Resource{}, err
		}
		out, err := s.stripAndWrite(ctx, cur, desired, req, tok)
		s.settle(tok, err)
		return out, err
	}
	return s.write(ctx, cur, desired, req, nil)
}

// patchGuessed is Patch planned on cur, an entry remembered rather than
// read; done is false when it wrote nothing and Patch is to read the entry
// and plan again. Every failure before the write is left to that second
// plan, as it may come from the remembered state.
func (s *Service) patchGuessed(ctx context.Context, cur *Entry, ops []PatchOp) (Resource, bool, error) {
	r, err := s.resource(ctx, cur)
	if err != nil {
		return Resource{}, false, nil
	}
	patched, err := ApplyPatch(s.m.ResourceType(), r, ops)
	if err != nil {
		return Resource{}, false, nil
	}
	attrs, err := Normalize(s.m.ResourceType(), patched.Attrs)
	if err != nil {
		return Resource{}, false, nil
	}
	return s.updateGuessed(ctx, cur, Resource{ID: cur.ID, Attrs: attrs, Patched: true})
}

// updateGuessed is update on cur, an entry remembered rather than read
// (the entry cache), sent as one modify that the directory applies only to
// exactly cur (ModifyRequest.Guessed). done is false when nothing was
// written and the caller is to read the entry and take update's path: the
// directory refused the guess, or the request is one whose outcome the
// remembered entry cannot settle (nothing to change - which only the entry
// as it is can confirm -, a rename or move, containers to make, a disable
// that leaves groups first, any refusal before the write).
func (s *Service) updateGuessed(ctx context.Context, cur *Entry, desired Resource) (Resource, bool, error) {
	req, plan, err := s.plan(ctx, cur, desired)
	if err != nil || req.NewRDN != "" || req.NewSuperior != "" || len(plan.Containers) > 0 || s.strips(req) ||
		plan.Empty() && req.Disabled == nil && req.Password == nil {
		return Resource{}, false, nil
	}
	req.Guessed = true
	out, err := s.write(ctx, cur, desired, req, nil)
	if stale(err) {
		s.cache.drop(cur.ID)
		return Resource{}, false, nil
	}
	return out, true, err
}

// strips reports whether req disables an account whose groups are then
// left (Memberships.OnDisable).
func (s *Service) strips(req ModifyRequest) bool {
	m := s.cfg.Memberships
	return m != nil && m.OnDisable && req.Disabled != nil && *req.Disabled
}

// plan checks desired and works out the modify that turns cur into it.
func (s *Service) plan(ctx context.Context, cur *Entry, desired Resource) (ModifyRequest, *EntryPlan, error) {
	if err := s.checkRequired(desired); err != nil {
		return ModifyRequest{}, nil, err
	}
	if err := s.checkUnique(ctx, desired, cur); err != nil {
		return ModifyRequest{}, nil, err
	}
	plan, err := s.m.Changes(ctx, cur, desired, s.refs)
	if err != nil {
		return ModifyRequest{}, nil, err
	}
	req := ModifyRequest{
		ID:          cur.ID,
		Base:        s.m.Container(),
		Changes:     plan.Changes,
		NewRDN:      plan.NewRDN,
		NewSuperior: plan.NewSuperior,
		Return:      s.m.DirectoryAttrs(),
		Current:     cur,
	}
	if s.cfg.Lifecycle {
		if a, ok := desired.Attrs["active"].(bool); ok && a == cur.Disabled {
			d := !a
			req.Disabled = &d
		}
		if p, ok := desired.Attrs["password"].(string); ok && p != "" {
			req.Password = &p
		}
	}
	return req, plan, nil
}

// stripAndWrite leaves the user's groups, then writes it.
func (s *Service) stripAndWrite(ctx context.Context, cur *Entry, desired Resource, req ModifyRequest, tok string) (Resource, error) {
	left, err := s.leaveGroups(withJournal(ctx, s.cfg.Journal, tok), cur, "disable")
	if err != nil {
		s.undoLeave(ctx, cur, "disable", left, err)
		return Resource{}, err
	}
	return s.write(ctx, cur, desired, req, left)
}

// write sends the user's own modify; left are the groups it left before,
// rejoined when the modify fails for a reason other than the directory's
// unavailability.
func (s *Service) write(ctx context.Context, cur *Entry, desired Resource, req ModifyRequest, left []membership) (Resource, error) {
	const op = "bridge.(*Service).write"
	if req.NewRDN != "" || req.NewSuperior != "" {
		s.forget(cur.DN)
	}
	e, err := s.dir.Modify(ctx, req)
	if err != nil {
		s.undoLeave(ctx, cur, "disable", left, err)
		if KindOf(err) == KindConflict {
			return Resource{}, E(op, KindConflict, s.conflictMessage(desired), err)
		}
		if KindOf(err) == KindNotFound {
			return Resource{}, E(op, KindNotFound, fmt.Sprintf("%s %q not found", s.m.ResourceType().Name, cur.ID), err)
		}
		return Resource{}, err
	}
	return s.resource(ctx, e)
}

// Delete makes the resource gone for SCIM. Accounts are disabled and moved to
// the leavers container unless the configuration asks for hard deletes;
// with Memberships they leave their groups first (see deprovision.go).
func (s *Service) Delete(ctx context.Context, id string) error {
	const op = "bridge.(*Service).Delete"
	if ro, ok := s.m.(ReadOnlyMapper); ok && ro.ReadOnly() {
		return Errorf(op, KindMethodNotAllowed, "%s resources are the directory's and cannot be deleted over SCIM", s.m.ResourceType().Name)
	}
	cur, err := s.get(ctx, id)
	if err != nil {
		return Wrap(op, err)
	}
	tok, err := s.begin(ctx, "delete", cur.ID)
	if err != nil {
		return Wrap(op, err)
	}
	err = s.delete(ctx, cur)
	s.settle(tok, err)
	return Wrap(op, err)
}

// delete runs DELETE's steps for cur (see deprovision.go): the leavers
// container, the groups, the user's own write.
func (s *Service) delete(ctx context.Context, cur *Entry) error {
	const op = "bridge.(*Service).delete"
	var err error
	soft := !s.cfg.HardDelete && s.cfg.Lifecycle && s.cfg.LeaversDN != ""
	if soft {
		// A precondition, idempotent: before the groups, so that a
		// directory that cannot hold leavers fails the DELETE while
		// nothing is changed.
		if err := s.ensureLeavers(ctx); err != nil {
			return Wrap(op, err)
		}
	}
	var left []membership
	if s.cfg.Memberships != nil && s.cfg.Lifecycle {
		if left, err = s.leaveGroups(ctx, cur, "delete"); err != nil {
			s.undoLeave(ctx, cur, "delete", left, err)
			return Wrap(op, err)
		}
	}
	if err := s.removeUser(ctx, cur, soft); err != nil {
		s.undoLeave(ctx, cur, "delete", left, err)
		return Wrap(op, err)
	}
	return nil
}

// removeUser is DELETE's last step: the entry goes, or is disabled and
// moved to the leavers container, out of SCIM's scope.
func (s *Service) removeUser(ctx context.Context, cur *Entry, soft bool) error {
	const op = "bridge.(*Service).removeUser"
	s.forget(cur.DN)
	if !soft {
		return Wrap(op, s.dir.Delete(ctx, cur.ID))
	}
	disabled := true
	req := ModifyRequest{ID: cur.ID, Base: s.m.Container(), NewSuperior: s.cfg.LeaversDN, Disabled: &disabled, Return: []string{"objectClass"}}
	_, err := s.dir.Modify(ctx, req)
	if KindOf(err) == KindConflict {
		// An earlier leaver had the same RDN: keep this one apart by its id.
		rdns, perr := ParseDN(cur.DN)
		if perr != nil || len(rdns) == 0 {
			return E(op, KindInternal, "", perr)
		}
		rdn := rdns[0]
		rdn[0].Value = rdn[0].Value + "." + shortID(cur.ID)
		req.NewRDN = rdn.String()
		_, err = s.dir.Modify(ctx, req)
	}
	return Wrap(op, err)
}

func shortID(id string) string {
	id = strings.ReplaceAll(id, "-", "")
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// ensure creates the containers a plan asks for.
func (s *Service) ensure(ctx context.Context, containers []string) error {
	for _, c := range containers {
		if err := s.dir.EnsureContainer(ctx, c); err != nil {
			return err
		}
	}
	return nil
}

func (s *Service) ensureLeavers(ctx context.Context) error {
	s.leaver.Lock()
	defer s.leaver.Unlock()
	if s.hasLvr {
		return nil
	}
	if err := s.dir.EnsureContainer(ctx, s.cfg.LeaversDN); err != nil {
		return err
	}
	s.hasLvr = true
	return nil
}

// resource builds the SCIM resource of an entry, with id, active and meta.
func (s *Service) resource(ctx context.Context, e *Entry) (Resource, error) {
	r, err := s.m.Resource(ctx, e, s.refs)
	if err != nil {
		return Resource{}, err
	}
	if r.Attrs == nil {
		r.Attrs = map[string]any{}
	}
	r.ID = e.ID
	if attr := s.idAttr(); attr != "" {
		r.ID = e.First(attr)
	}
	if s.cfg.Lifecycle {
		r.Attrs["active"] = !e.Disabled
	}
	r.Meta = Meta{ResourceType: s.m.ResourceType().Name, Created: e.Created, LastModified: e.Modified}
	if e.Version != "" {
		r.Meta.Version = `W/"` + e.Version + `"`
	}
	return r, nil
}

// checkRequired reports required top-level attributes without a value.
func (s *Service) checkRequired(r Resource) error {
	rt := s.m.ResourceType()
	var missing []string
	for _, a := range rt.Schema.Attrs {
		if !a.Required || a.Mutability == "readOnly" {
			continue
		}
		if v, ok := r.Attrs[a.Name]; !ok || isEmpty(v) {
			missing = append(missing, a.Name)
		}
	}
	if len(missing) > 0 {
		return Errorf("bridge.(*Service).checkRequired", KindInvalidValue, "required attribute missing: %s", strings.Join(missing, ", "))
	}
	return nil
}

// checkUnique enforces attributes whose uniqueness is "server" by searching
// the directory. The directory's own constraint (an RDN built from the
// attribute) closes the race between two concurrent creates.
//
// self is the entry being updated (nil on create). When it already holds
// exactly the value (a PUT or PATCH that keeps userName, which is nearly
// every one), the value is not changing and there is nothing to enforce,
// so no search is made: that search was the most expensive step of a PUT
// or PATCH (make bench).
func (s *Service) checkUnique(ctx context.Context, r Resource, self *Entry) error {
	const op = "bridge.(*Service).checkUnique"
	rt := s.m.ResourceType()
	for _, a := range rt.Schema.Attrs {
		v, f, err := s.uniqueFilter(ctx, a, r)
		if err != nil {
			return err
		}
		if f == nil {
			continue
		}
		if holdsExactly(self, f) {
			continue
		}
		f = And(s.m.ObjectFilter(), f)
		if self != nil {
			f = And(f, Not(Eq(VirtualID, self.ID)))
		}
		res, err := s.dir.Search(ctx, SearchRequest{Base: s.m.Container(), Scope: s.scope(), Filter: f, Count: 0})
		if err != nil {
			return err
		}
		if res.Total > 0 {
			return Errorf(op, KindConflict, "a %s with %s %q already exists", rt.Name, a.Name, v)
		}
	}
	return nil
}

// uniqueFilter returns, for a unique attribute a that r gives a value, the
// value and the filter that finds it; f is nil when there is nothing to
// enforce (a not unique, no value, or a not mapped).
func (s *Service) uniqueFilter(ctx context.Context, a AttrDef, r Resource) (v string, f *Filter, err error) {
	if a.Uniqueness != "server" && a.Uniqueness != "global" {
		return "", nil, nil
	}
	v, ok := r.Attrs[a.Name].(string)
	if !ok || v == "" {
		return "", nil, nil
	}
	f, err = s.m.Filter(ctx, &CompareExpr{Path: AttrPath{Attr: a.Name}, Op: OpEq, Value: v}, s.refs)
	if KindOf(err) == KindInvalidFilter {
		return "", nil, nil
	}
	return v, f, err
}

// holdsExactly reports whether e has a value of f's attribute that is
// byte-for-byte f's value, for a plain equality filter. Anything else
// (virtual attributes, transforms that built a compound filter, a value
// that differs only in case) is left to the directory's search.
func holdsExactly(e *Entry, f *Filter) bool {
	if e == nil || f == nil {
		return false
	}
	switch f.Op {
	case FilterEqual:
		if strings.HasPrefix(f.Attr, "@") {
			return false
		}
		for _, v := range e.Values(f.Attr) {
			if v == f.Value {
				return true
			}
		}
	case FilterPresent:
		return !strings.HasPrefix(f.Attr, "@") && len(e.Values(f.Attr)) > 0
	// A userName kept in one of two attributes (AD's UPN, or a fallback
	// beside a derived UPN) is a compound filter; it is held when the
	// entry certainly matches it.
	case FilterAnd:
		for _, k := range f.Kids {
			if !holdsExactly(e, k) {
				return false
			}
		}
		return len(f.Kids) > 0
	case FilterOr:
		for _, k := range f.Kids {
			if holdsExactly(e, k) {
				return true
			}
		}
	case FilterNot:
		// Only an absent attribute is certainly not matched.
		k := f.Kids[0]
		return k.Op == FilterPresent && !strings.HasPrefix(k.Attr, "@") && len(e.Values(k.Attr)) == 0
	}
	return false
}

func (s *Service) conflictMessage(r Resource) string {
	rt := s.m.ResourceType()
	for _, a := range rt.Schema.Attrs {
		if a.Uniqueness == "server" || a.Uniqueness == "global" {
			if v, ok := r.Attrs[a.Name].(string); ok {
				return fmt.Sprintf("a %s with %s %q already exists", rt.Name, a.Name, v)
			}
		}
	}
	return fmt.Sprintf("the %s conflicts with an existing entry", rt.Name)
}

// forget tells the resolver, if it caches, that dn no longer names the entry.
func (s *Service) forget(dn string) {
	if f, ok := s.refs.(interface{ Forget(string) }); ok {
		f.Forget(dn)
	}
}
