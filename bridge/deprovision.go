package bridge

import (
	"context"
	"slices"
)

// Deprovisioning takes access away in the directory, not only in SCIM: LDAP
// applications authorise by group, and a leaver still named in a group's
// member attribute is let in by every one that checks the group (or by the
// next account that is given the leaver's DN, where no refint overlay cleans
// up). So a DELETE, and with Memberships.OnDisable a write that disables an
// enabled account, runs these steps, in this order:
//
//  1. find: the groups whose member attribute names the user's DN
//     (directGroups). A search of the groups, not the user's memberOf: the
//     memberof overlay may be absent, configured for another attribute, or
//     stale, and the search finds exactly the values there are to remove.
//  2. leave: one value-level delete of the user's DN per group (leaveGroup),
//     groups outside the managed container first (the ones a service
//     account is least likely to be allowed to write, so that a refusal
//     comes before anything changed). An emptied group whose object class
//     needs a member keeps the placeholder, in the same modify. Each step is
//     idempotent: a value already gone is no change and no error.
//  3. the user's own write: disable and move to the leavers container, the
//     hard delete, or the PATCH or PUT's modify.
//
// The user's own write comes last so that, until it is done, the user is
// still in SCIM's scope: a retried DELETE (Okta and Entra retry after a 503)
// finds it, finds the groups that still name it, and finishes the job. So a
// failure that the directory's unavailability caused (KindUnavailable)
// leaves the groups already left as they are, and the client's retry (or a
// recovery journal replaying these steps) completes the request; undoing
// would need the directory that just failed, and would give a leaver its
// access back. Any other failure (the service account may not write a
// group, the leavers container cannot be made, the PATCH carries a value
// the directory refuses) will not go away by retrying: the groups left are
// rejoined (rejoinGroups), so that the request changed nothing, and the log
// says what to fix.

// Memberships tells a users Service where the groups are whose members
// deprovisioning removes (ServiceConfig.Memberships).
type Memberships struct {
	// Container and Filter select the groups dirbridge manages (the groups
	// table's container and object filter); Container may be "" when there
	// is no groups table and All is set.
	Container string
	Filter    *Filter
	// Attr is the group attribute that holds member DNs (member,
	// uniqueMember), the one the groups table maps.
	Attr string
	// Placeholder is the value a group keeps when its last member leaves
	// and its object class needs one (groupOfNames); "" for none.
	Placeholder string
	// All removes the user from every group below the directory's base
	// whose Attr names it, not only from the managed ones.
	All bool
	// OnDisable makes a write that disables an enabled account leave the
	// groups too (users.strip_groups_on_disable). Enabling it again does
	// not restore them.
	OnDisable bool
}

// GroupsLeft reports one deprovisioning's group step, for the audit log
// (ServiceConfig.OnGroupsLeft): the groups left, and after a failure the
// ones rejoined. DNs only, never values of other attributes.
type GroupsLeft struct {
	UserID   string
	UserDN   string
	Reason   string   // "delete" or "disable"
	Groups   []string // DNs of the groups the user left
	Rejoined []string // DNs of the groups put back after a failure
	Failed   []string // DNs of the groups that could not be rejoined
	Err      error    // the failure, if any
}

// membership is one group a user is a direct member of.
type membership struct {
	id, dn      string
	managed     bool // in Memberships.Container
	placeholder bool // leaveGroup added the placeholder
}

// directGroups is step 1: the groups whose member attribute names dn,
// unmanaged ones first.
func (s *Service) directGroups(ctx context.Context, dn string) ([]membership, error) {
	const op = "bridge.(*Service).directGroups"
	m := s.cfg.Memberships
	f, base := Eq(m.Attr, dn), ""
	if !m.All {
		f, base = And(m.Filter, f), m.Container
	}
	var out []membership
	const page = 1000
	for offset := 0; ; offset += page {
		// objectClass only: a group's member list can be large and is not
		// needed to find it.
		res, err := s.dir.Search(ctx, SearchRequest{Base: base, Scope: ScopeSub, Filter: f, Attrs: []string{"objectClass"}, Offset: offset, Count: page})
		if err != nil {
			return nil, Wrap(op, err)
		}
		for _, e := range res.Entries {
			out = append(out, membership{id: e.ID, dn: e.DN, managed: m.Container != "" && IsUnder(e.DN, m.Container)})
		}
		if len(res.Entries) < page || offset+page >= res.Total {
			break
		}
	}
	slices.SortStableFunc(out, func(a, b membership) int {
		switch {
		case a.managed == b.managed:
			return 0
		case !a.managed:
			return -1
		}
		return 1
	})
	return out, nil
}

// groupBase is the base a group's modify is checked against.
func (s *Service) groupBase(g membership) string {
	if g.managed {
		return s.cfg.Memberships.Container
	}
	return ""
}

// leaveGroup is one step 2: a value-level delete of userDN from g, never a
// rewrite of the member list. Deleting an absent value is no change, and a
// group that went away meanwhile is left already.
func (s *Service) leaveGroup(ctx context.Context, userDN string, g *membership) error {
	const op = "bridge.(*Service).leaveGroup"
	m := s.cfg.Memberships
	del := Change{Op: ChangeDelete, Attr: m.Attr, Values: []string{userDN}}
	req := ModifyRequest{ID: g.id, Base: s.groupBase(*g), Changes: []Change{del}, Return: []string{}}
	_, err := s.dir.Modify(ctx, req)
	if schemaRefused(err) && m.Placeholder != "" {
		// The user was the last member of a group whose object class
		// needs one: the placeholder goes in with the same write.
		req.Changes = []Change{{Op: ChangeAdd, Attr: m.Attr, Values: []string{m.Placeholder}}, del}
		if _, err = s.dir.Modify(ctx, req); err == nil {
			g.placeholder = true
		}
	}
	switch KindOf(err) {
	case KindNotFound:
		return nil
	case KindUnavailable, KindForbidden, KindMisconfigured:
		return Wrap(op, err)
	}
	if err != nil {
		// Not the client's doing (a 400 would say so): a group that cannot
		// be emptied, a directory that refuses the change.
		return E(op, KindInternal, "the user could not be removed from one of its groups", err)
	}
	return nil
}

// rejoinGroup undoes leaveGroup: the user's DN goes back, and the
// placeholder, if leaveGroup added it, goes again, in one write.
func (s *Service) rejoinGroup(ctx context.Context, userDN string, g membership) error {
	m := s.cfg.Memberships
	changes := []Change{{Op: ChangeAdd, Attr: m.Attr, Values: []string{userDN}}}
	if g.placeholder {
		changes = append(changes, Change{Op: ChangeDelete, Attr: m.Attr, Values: []string{m.Placeholder}})
	}
	_, err := s.dir.Modify(ctx, ModifyRequest{ID: g.id, Base: s.groupBase(g), Changes: changes, Return: []string{}})
	return Wrap("bridge.(*Service).rejoinGroup", err)
}

// leaveGroups runs steps 1 and 2 for user and reports them. On a failure it
// returns the groups already left with the error; the caller decides
// whether to rejoin them (finishLeave).
func (s *Service) leaveGroups(ctx context.Context, user *Entry, reason string) ([]membership, error) {
	const op = "bridge.(*Service).leaveGroups"
	groups, err := s.directGroups(ctx, user.DN)
	if err != nil {
		s.reportLeft(ctx, GroupsLeft{UserID: user.ID, UserDN: user.DN, Reason: reason, Err: err})
		return nil, Wrap(op, err)
	}
	var left []membership
	for i := range groups {
		// Recorded before it is left: a crash between the two leaves a
		// record of a group maybe not left, which rejoining tolerates.
		if err = recordLeave(ctx, groups[i]); err != nil {
			err = E(op, KindInternal, "the gateway cannot record the request in its journal", err)
			break
		}
		if err = s.leaveGroup(ctx, user.DN, &groups[i]); err != nil {
			break
		}
		left = append(left, groups[i])
	}
	s.reportLeft(ctx, GroupsLeft{UserID: user.ID, UserDN: user.DN, Reason: reason, Groups: dnsOf(left), Err: err})
	return left, Wrap(op, err)
}

// undoLeave is called when a step after leaving left (or the leaving
// itself) failed with err: unless the directory was unavailable, the
// groups left are rejoined, so that the failed request changed nothing.
func (s *Service) undoLeave(ctx context.Context, user *Entry, reason string, left []membership, err error) {
	if len(left) == 0 || KindOf(err) == KindUnavailable {
		return
	}
	// The request's context may be over (the client went away): the undo
	// still runs.
	ctx = context.WithoutCancel(ctx)
	ev := GroupsLeft{UserID: user.ID, UserDN: user.DN, Reason: reason, Err: err}
	for i := len(left) - 1; i >= 0; i-- {
		if rerr := s.rejoinGroup(ctx, user.DN, left[i]); rerr != nil {
			ev.Failed = append(ev.Failed, left[i].dn)
			continue
		}
		ev.Rejoined = append(ev.Rejoined, left[i].dn)
	}
	s.reportLeft(ctx, ev)
}

func (s *Service) reportLeft(ctx context.Context, ev GroupsLeft) {
	if s.cfg.OnGroupsLeft != nil {
		s.cfg.OnGroupsLeft(ctx, ev)
	}
}

func dnsOf(gs []membership) []string {
	out := make([]string, 0, len(gs))
	for _, g := range gs {
		out = append(out, g.dn)
	}
	return out
}
