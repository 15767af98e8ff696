package scimside

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/dirbridge/dirbridge/bridge"
)

// A SCIM 1.1 user body may carry groups ([{value, display}]), which Okta's
// agent sends with every POST and PUT. Membership lives on the groups (a
// group's member values), so the users endpoint writes it through the
// Groups service, one value-level add or delete per group: never a rewrite
// of a member list, and never a read of one.
//
// Atomicity: every group id is checked before anything is written (an
// unknown one is a 400 naming it, and nothing is applied). Then, for a PUT,
// the membership changes are made first and the user's own write last; if
// that write fails, the membership changes are undone. For a POST the user
// must exist first; if a membership write then fails, those already made
// are undone and the new user is deleted again (the way DELETE deletes:
// with soft deletes configured, it stays disabled among the leavers, out of
// SCIM's sight). Undoing is best effort: if the directory fails during the
// undo as well, the log has each step that could not be undone.

// groupsInBody is implemented by codecs whose user bodies carry groups.
type groupsInBody interface {
	userGroups(rt *bridge.ResourceType, body map[string]any) (ids []string, present bool, err error)
}

// bodyGroups is the validated group list of a user body.
type bodyGroups struct{ ids []string }

// bodyGroups reads and validates the groups of a user body. It returns nil
// when there is nothing to write: groups are not served, the codec has no
// such thing, or the body has no groups.
func (ep *endpoint) bodyGroups(ctx context.Context, c *call, body map[string]any) (*bodyGroups, error) {
	const op = "scimside.(*endpoint).bodyGroups"
	gb, ok := c.codec.(groupsInBody)
	if !ok || ep.groups == nil {
		return nil, nil
	}
	ids, present, err := gb.userGroups(ep.rt, body)
	if err != nil || !present {
		return nil, err
	}
	var unknown []string
	for _, id := range ids {
		exists, err := ep.groupExists(ctx, id)
		if err != nil {
			return nil, bridge.Wrap(op, err)
		}
		if !exists {
			unknown = append(unknown, fmt.Sprintf("%q", id))
		}
	}
	if len(unknown) > 0 {
		return nil, bridge.Errorf(op, bridge.KindInvalidValue, "groups: no group has the id %s", strings.Join(unknown, ", "))
	}
	return &bodyGroups{ids: ids}, nil
}

// groupExists asks for the number of groups with the id, so that no member
// list is read.
func (ep *endpoint) groupExists(ctx context.Context, id string) (bool, error) {
	page, err := ep.groups.List(ctx, bridge.Query{
		Filter: &bridge.CompareExpr{Path: bridge.AttrPath{Attr: "id"}, Op: bridge.OpEq, Value: id},
		Count:  0,
	})
	if err != nil {
		return false, err
	}
	return page.TotalResults > 0, nil
}

// currentGroups returns the ids of the groups userID is a member of: from
// the user's own groups attribute when the users table maps one (memberOf),
// otherwise by asking the groups for that member.
func (ep *endpoint) currentGroups(ctx context.Context, user bridge.Resource) ([]string, error) {
	if d := ep.rt.Schema.Attr("groups"); d != nil {
		var ids []string
		v, _ := user.Get("groups")
		list, _ := v.([]any)
		for _, item := range list {
			if m, ok := item.(map[string]any); ok {
				if s, _ := m["value"].(string); s != "" {
					ids = append(ids, s)
				}
			}
		}
		return ids, nil
	}
	var ids []string
	if err := eachHolding(ctx, ep.groups, user.ID, []string{"id"}, func(g bridge.Resource) { ids = append(ids, g.ID) }); err != nil {
		return nil, err
	}
	return ids, nil
}

// eachHolding pages through the resources of svc (groups, an entitlement
// type's values) whose members include userID, calling fn for each.
func eachHolding(ctx context.Context, svc ResourceService, userID string, attrs []string, fn func(bridge.Resource)) error {
	q := bridge.Query{
		Filter:     &bridge.CompareExpr{Path: bridge.AttrPath{Attr: "members", Sub: "value"}, Op: bridge.OpEq, Value: userID},
		StartIndex: 1, Count: 100, Attributes: attrs,
	}
	for {
		page, err := svc.List(ctx, q)
		if err != nil {
			return err
		}
		for _, r := range page.Resources {
			fn(r)
		}
		if len(page.Resources) == 0 || q.StartIndex+len(page.Resources) > page.TotalResults {
			return nil
		}
		q.StartIndex += len(page.Resources)
	}
}

// membershipChange is one value-level change of one group: a SCIM 1.1
// body's group (kind "") or a value of the entitlement type named kind.
type membershipChange struct {
	kind  string
	group string
	add   bool
}

func (m membershipChange) ops(userID string) []bridge.PatchOp {
	verb := "remove"
	if m.add {
		verb = "add"
	}
	return []bridge.PatchOp{{Op: verb, Path: &bridge.PatchPath{Attr: bridge.AttrPath{Attr: "members"}},
		Value: []any{map[string]any{"value": userID}}}}
}

// applyMemberships makes the changes in order. On a failure it undoes those
// already made and returns the failure.
//
// With journalled set, an unavailable directory undoes nothing: the
// journal's record finishes the changes once it is back.
func (ep *endpoint) applyMemberships(ctx context.Context, userID string, changes []membershipChange, journalled bool) (undo func(), err error) {
	const op = "scimside.(*endpoint).applyMemberships"
	var done []membershipChange
	undo = func() {
		for i := len(done) - 1; i >= 0; i-- {
			back := membershipChange{kind: done[i].kind, group: done[i].group, add: !done[i].add}
			if err := ep.patchGroup(context.WithoutCancel(ctx), back, userID); err != nil {
				ep.log.Error("could not undo a membership change", "request_id", bridge.RequestID(ctx), "type", back.kind, "group", back.group, "user", userID, "add", back.add, "error", err.Error())
			}
		}
	}
	for _, ch := range changes {
		if err := ep.patchGroup(ctx, ch, userID); err != nil {
			if journalled && bridge.KindOf(err) == bridge.KindUnavailable {
				return nil, bridge.Wrap(op, err)
			}
			if journalled && bridge.KindOf(err) == bridge.KindNotFound && !ch.add {
				continue // a group it was to leave is gone: left already
			}
			undo()
			if bridge.KindOf(err) == bridge.KindNotFound {
				// The group went away after it was checked.
				return nil, bridge.E(op, bridge.KindInvalidValue, ep.unknownValue(ch), err)
			}
			return nil, bridge.Wrap(op, err)
		}
		done = append(done, ch)
	}
	return undo, nil
}

// patchGroup makes one change: a member value of the group (or
// entitlement value) added or removed, through the service that owns it.
func (ep *endpoint) patchGroup(ctx context.Context, ch membershipChange, userID string) error {
	svc := ep.serviceOf(ch.kind)
	if svc == nil {
		return bridge.Errorf("scimside.(*endpoint).patchGroup", bridge.KindMisconfigured, "the entitlement type %q is not configured any more; its change for user %q cannot be made", ch.kind, userID)
	}
	if qp, ok := svc.(quietPatcher); ok {
		return qp.PatchQuiet(ctx, ch.group, ch.ops(userID))
	}
	_, err := svc.Patch(ctx, ch.group, ch.ops(userID))
	return err
}

// createWithMemberships is a POST whose body carries groups or
// entitlement values: the user is created, then joins them. With a
// journal the record is made before the user exists, naming it by its
// userName (its id is the directory's to give): a create cut short after
// the directory made the entry, but before the answer came back, is then
// finished by recovery too, instead of leaving a user without the values
// it was created with.
func (ep *endpoint) createWithMemberships(ctx context.Context, in bridge.Resource, changes []membershipChange) (bridge.Resource, error) {
	const op = "scimside.(*endpoint).createWithMemberships"
	var tok string
	if len(changes) > 0 && ep.journal != nil {
		name, _ := lookupFold(in.Attrs, "userName")
		s, _ := name.(string)
		var err error
		if tok, err = ep.beginMemberships(ctx, membershipIntent{UserName: s, Created: true, Changes: intentChanges(changes)}); err != nil {
			return bridge.Resource{}, bridge.Wrap(op, err)
		}
	}
	res, err := ep.svc.Create(ctx, in)
	if err != nil {
		if tok != "" && bridge.KindOf(err) == bridge.KindUnavailable {
			ep.journal.Release(tok) // the entry may exist: recovery looks
		} else {
			ep.endMemberships(tok)
		}
		return bridge.Resource{}, err
	}
	return ep.joinNewUser(ctx, res, changes, tok)
}

// joinNewUser makes the membership changes (all adds) of a user just
// created, under the journal record tok ("" without a journal); on
// failure the user is deleted again, unless the directory went away: then
// the record finishes the memberships once it is back (a retried POST
// finds the user whole: 409).
func (ep *endpoint) joinNewUser(ctx context.Context, user bridge.Resource, changes []membershipChange, tok string) (bridge.Resource, error) {
	const op = "scimside.(*endpoint).joinNewUser"
	if len(changes) == 0 {
		return user, nil
	}
	if _, err := ep.applyMemberships(ctx, user.ID, changes, tok != ""); err != nil {
		if tok != "" && bridge.KindOf(err) == bridge.KindUnavailable {
			ep.journal.Release(tok)
			return bridge.Resource{}, bridge.Wrap(op, err)
		}
		ep.endMemberships(tok)
		if derr := ep.svc.Delete(context.WithoutCancel(ctx), user.ID); derr != nil {
			ep.log.Error("could not remove a user whose groups could not be written", "request_id", bridge.RequestID(ctx), "user", user.ID, "error", derr.Error())
		}
		return bridge.Resource{}, bridge.Wrap(op, err)
	}
	ep.endMemberships(tok)
	// Read back, so that the answer shows the groups.
	res, err := ep.svc.Get(ctx, user.ID)
	if err != nil {
		return user, nil // the writes happened; the answer shows what Create returned
	}
	return res, nil
}

// groupChanges are the changes that make a user's memberships exactly
// groups, from those it has.
func groupChanges(have, groups []string) []membershipChange {
	want := map[string]bool{}
	for _, g := range groups {
		want[strings.ToLower(g)] = true
	}
	had := map[string]bool{}
	var changes []membershipChange
	for _, g := range have {
		had[strings.ToLower(g)] = true
		if !want[strings.ToLower(g)] {
			changes = append(changes, membershipChange{group: g})
		}
	}
	for _, g := range groups {
		if !had[strings.ToLower(g)] {
			changes = append(changes, membershipChange{group: g, add: true})
		}
	}
	return changes
}

// replaceWithGroups is a PUT of a user whose body carries groups: the
// user's memberships become exactly groups.
func (ep *endpoint) replaceWithGroups(ctx context.Context, id string, in bridge.Resource, groups []string) (bridge.Resource, error) {
	const op = "scimside.(*endpoint).replaceWithGroups"
	cur, err := ep.svc.Get(ctx, id)
	if err != nil {
		return bridge.Resource{}, bridge.Wrap(op, err)
	}
	have, err := ep.currentGroups(ctx, cur)
	if err != nil {
		return bridge.Resource{}, bridge.Wrap(op, err)
	}
	return ep.writeWithMemberships(ctx, cur, groupChanges(have, groups), func(ctx context.Context) (bridge.Resource, error) {
		return ep.svc.Replace(ctx, id, in)
	})
}

// writeWithMemberships makes the user's own write (write; nil when the
// request changes nothing of the user itself) and the membership changes,
// all or nothing: a SCIM 1.1 PUT with groups, a SCIM 2.0 PUT or PATCH with
// entitlement values. cur is the user as read before.
func (ep *endpoint) writeWithMemberships(ctx context.Context, cur bridge.Resource, changes []membershipChange, write func(context.Context) (bridge.Resource, error)) (bridge.Resource, error) {
	const op = "scimside.(*endpoint).writeWithMemberships"
	id := cur.ID
	if write == nil {
		write = func(context.Context) (bridge.Resource, error) { return cur, nil }
	}
	if ep.journal == nil || len(changes) == 0 {
		undo, err := ep.applyMemberships(ctx, id, changes, false)
		if err != nil {
			return bridge.Resource{}, err
		}
		res, err := write(ctx)
		if err != nil {
			undo()
			return bridge.Resource{}, bridge.Wrap(op, err)
		}
		return res, nil
	}
	// With a journal the user goes first and the memberships after it: a
	// user write the directory refuses then leaves nothing to undo, and
	// memberships cut short are finished by recovery (value by value, no
	// secrets in the record), so that the request takes full effect.
	tok, err := ep.beginMemberships(ctx, membershipIntent{User: id, Version: cur.Meta.Version, Changes: intentChanges(changes)})
	if err != nil {
		return bridge.Resource{}, bridge.Wrap(op, err)
	}
	res, err := write(ctx)
	if err != nil {
		if bridge.KindOf(err) == bridge.KindUnavailable {
			ep.journal.Release(tok)
		} else {
			ep.endMemberships(tok)
		}
		return bridge.Resource{}, bridge.Wrap(op, err)
	}
	// Without a write of its own the user is "written" already: recovery
	// must finish the memberships, whatever the user's version says.
	if err := ep.journal.Step(tok, stepUserWritten); err != nil {
		ep.journal.Release(tok)
		return bridge.Resource{}, bridge.E(op, bridge.KindUnavailable, "the gateway cannot record the request in its journal", err)
	}
	if _, err := ep.applyMemberships(ctx, id, changes, true); err != nil {
		if bridge.KindOf(err) == bridge.KindUnavailable {
			ep.journal.Release(tok)
			return bridge.Resource{}, bridge.Wrap(op, err)
		}
		// A group refused the change (it went away since it was checked,
		// or the service account may not write it): applyMemberships has
		// undone the changes it made; the user's own write stays, and the
		// log and the answer say which group.
		ep.endMemberships(tok)
		return bridge.Resource{}, bridge.Wrap(op, err)
	}
	ep.endMemberships(tok)
	// Read back, so that the answer shows the groups.
	if got, gerr := ep.svc.Get(ctx, id); gerr == nil {
		res = got
	}
	return res, nil
}

const kindMemberships = "scimside.memberships"

const stepUserWritten = "user written"

// membershipIntent is a request's membership changes as the journal keeps
// them: the user (by userName when recorded before its create), its
// version before the write (PUT), the changes.
type membershipIntent struct {
	User     string             `json:"user"`
	UserName string             `json:"user_name,omitempty"`
	Version  string             `json:"version,omitempty"`
	Created  bool               `json:"created,omitempty"`
	Changes  []membershipRecord `json:"changes"`
}

// membershipRecord is one change; Type names the entitlement type ("":
// a group, as records from before entitlements have it).
type membershipRecord struct {
	Type  string `json:"type,omitempty"`
	Group string `json:"group"`
	Add   bool   `json:"add"`
}

func intentChanges(cs []membershipChange) []membershipRecord {
	out := make([]membershipRecord, len(cs))
	for i, c := range cs {
		out[i] = membershipRecord{Type: c.kind, Group: c.group, Add: c.add}
	}
	return out
}

// beginMemberships records it; "" without a journal.
func (ep *endpoint) beginMemberships(ctx context.Context, mi membershipIntent) (string, error) {
	if ep.journal == nil {
		return "", nil
	}
	data, err := json.Marshal(mi)
	if err != nil {
		return "", bridge.E("scimside.(*endpoint).beginMemberships", bridge.KindInternal, "", err)
	}
	tok, err := ep.journal.Begin(ctx, bridge.Intent{Kind: kindMemberships, ID: firstNonEmpty(mi.User, mi.UserName), Data: data})
	if err != nil {
		return "", bridge.E("scimside.(*endpoint).beginMemberships", bridge.KindInternal, "the gateway cannot record the request in its journal", err)
	}
	return tok, nil
}

func (ep *endpoint) endMemberships(tok string) {
	if tok != "" {
		_ = ep.journal.End(tok)
	}
}

// recoverMemberships finishes the memberships of a request cut short: when
// the user's write happened (recorded, or its version moved since), every
// recorded change is made again (value-level, so what was made already is
// no change); when it did not, nothing was changed and nothing is done.
func (ep *endpoint) recoverMemberships(ctx context.Context, it bridge.Intent) error {
	var mi membershipIntent
	if err := json.Unmarshal(it.Data, &mi); err != nil {
		return nil
	}
	if mi.User == "" {
		id, err := ep.createdUser(ctx, it, mi.UserName)
		if err != nil || id == "" {
			return err
		}
		mi.User = id
	}
	cur, err := ep.svc.Get(ctx, mi.User)
	if bridge.KindOf(err) == bridge.KindNotFound {
		return nil // gone since
	}
	if err != nil {
		return err
	}
	if !mi.Created && !it.Done(stepUserWritten) && cur.Meta.Version == mi.Version {
		return nil // the user's write never happened, and nothing after it
	}
	for _, ch := range mi.Changes {
		c := membershipChange{kind: ch.Type, group: ch.Group, add: ch.Add}
		if err := ep.patchGroup(ctx, c, mi.User); err != nil && bridge.KindOf(err) != bridge.KindNotFound {
			if bridge.KindOf(err) == bridge.KindMisconfigured {
				// Its type was removed from the configuration: nothing
				// can make it, and retrying forever would not either.
				ep.log.Error("dropped a membership change of a request cut short", "user", mi.User, "type", c.kind, "group", c.group, "add", c.add, "error", err.Error())
				continue
			}
			return err
		}
	}
	ep.log.Info("finished the group memberships of a request cut short", "user", mi.User, "changes", len(mi.Changes))
	return nil
}

// createSkew is how far the directory's clock may be behind the gateway's
// for a user found by recovery to count as created by the request.
const createSkew = 10 * time.Minute

// createdUser finds the user a create cut short made, by its userName:
// "" when there is none (the create never happened) or when the user
// found is older than the request (someone else's: a create of a taken
// userName is a 409 and joins nothing).
func (ep *endpoint) createdUser(ctx context.Context, it bridge.Intent, userName string) (string, error) {
	if userName == "" {
		return "", nil
	}
	page, err := ep.svc.List(ctx, bridge.Query{
		Filter:     &bridge.CompareExpr{Path: bridge.AttrPath{Attr: "userName"}, Op: bridge.OpEq, Value: userName},
		StartIndex: 1, Count: 2,
	})
	if err != nil {
		return "", err
	}
	if len(page.Resources) != 1 {
		return "", nil
	}
	u := page.Resources[0]
	if c := u.Meta.Created; !c.IsZero() && !it.Started.IsZero() && c.Before(it.Started.Add(-createSkew)) {
		ep.log.Warn("a create cut short left no user of its own; its memberships are not made", "user_name", userName, "found", u.ID)
		return "", nil
	}
	return u.ID, nil
}
