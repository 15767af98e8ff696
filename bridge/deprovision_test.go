package bridge_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/dirbridge/dirbridge/bridge"
	"github.com/dirbridge/dirbridge/mapping"
	"github.com/dirbridge/dirbridge/scimside"
)

// faultyDir fails the n-th modify of a group (counting from 1) with kind,
// once, as a directory that goes away between two steps, or refuses one.
type faultyDir struct {
	bridge.Directory
	mu      sync.Mutex
	groupOp int
	failAt  int
	kind    bridge.Kind
}

func (d *faultyDir) Modify(ctx context.Context, req bridge.ModifyRequest) (*bridge.Entry, error) {
	if len(req.Changes) > 0 && req.Changes[0].Attr == "member" {
		d.mu.Lock()
		d.groupOp++
		fail := d.groupOp == d.failAt
		d.mu.Unlock()
		if fail {
			return nil, bridge.Errorf("test.Modify", d.kind, "injected")
		}
	}
	return d.Directory.Modify(ctx, req)
}

type stripEnv struct {
	dir    bridge.Directory
	faulty *faultyDir
	users  *bridge.Service
	events []bridge.GroupsLeft
}

// newStripEnv is the users service over an embedded directory, with the
// shipped OpenLDAP groups table's memberships (member, the placeholder).
func newStripEnv(t *testing.T, m bridge.Memberships) *stripEnv {
	t.Helper()
	e, users := embeddedUsers(t)
	groups, err := mapping.Load("../conf/examples/openldap-groups.toml", mapping.Options{BaseDN: "dc=example,dc=com", Standard: scimside.StandardSchemas()})
	if err != nil {
		t.Fatal(err)
	}
	attr, ph := groups.MemberPlaceholder()
	m.Container, m.Filter, m.Attr, m.Placeholder = groups.Container(), groups.ObjectFilter(), attr, ph
	env := &stripEnv{dir: e, faulty: &faultyDir{Directory: e}}
	r := bridge.NewResolver(env.faulty, 0)
	r.Register(users)
	r.Register(groups)
	env.users = bridge.NewService(env.faulty, users, r, bridge.ServiceConfig{
		Lifecycle: true, LeaversDN: "ou=leavers,dc=example,dc=com", Memberships: &m,
		OnGroupsLeft: func(_ context.Context, ev bridge.GroupsLeft) { env.events = append(env.events, ev) },
	})
	return env
}

func (env *stripEnv) group(t *testing.T, dn string, members ...string) *bridge.Entry {
	t.Helper()
	ctx := context.Background()
	if err := env.dir.EnsureContainer(ctx, bridge.ParentDN(dn)); err != nil {
		t.Fatal(err)
	}
	cn := strings.TrimPrefix(strings.SplitN(dn, ",", 2)[0], "cn=")
	e, err := env.dir.Add(ctx, bridge.AddRequest{DN: dn, Attrs: map[string][]string{
		"objectClass": {"top", "groupOfNames"}, "cn": {cn}, "member": members}})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func (env *stripEnv) members(t *testing.T, g *bridge.Entry) []string {
	t.Helper()
	e, err := env.dir.Get(context.Background(), "", g.ID, []string{"member"})
	if err != nil {
		t.Fatal(err)
	}
	return e.Values("member")
}

func holds(vals []string, dn string) bool {
	return slices.ContainsFunc(vals, func(v string) bool { return strings.EqualFold(v, dn) })
}

// A DELETE takes the user out of each group that names it (an emptied
// groupOfNames keeps the placeholder), reports them, and then moves it.
func TestDeleteLeavesGroupsFirst(t *testing.T) {
	ctx := context.Background()
	for _, all := range []bool{true, false} {
		name := "managed"
		if all {
			name = "all"
		}
		t.Run(name, func(t *testing.T) {
			env := newStripEnv(t, bridge.Memberships{All: all})
			u, err := env.users.Create(ctx, user("leaver", "t"))
			if err != nil {
				t.Fatal(err)
			}
			stay, err := env.users.Create(ctx, user("stayer", "t"))
			if err != nil {
				t.Fatal(err)
			}
			uDN, sDN := "uid=leaver,ou=people,dc=example,dc=com", "uid=stayer,ou=people,dc=example,dc=com"
			only := env.group(t, "cn=only,ou=groups,dc=example,dc=com", uDN)
			both := env.group(t, "cn=both,ou=groups,dc=example,dc=com", uDN, sDN)
			// A group made by an administrator outside dirbridge's container.
			other := env.group(t, "cn=vpn,ou=apps,dc=example,dc=com", uDN)
			if err := env.users.Delete(ctx, u.ID); err != nil {
				t.Fatal(err)
			}
			if got := env.members(t, only); len(got) != 1 || !strings.EqualFold(got[0], "cn=nobody,dc=example,dc=com") {
				t.Errorf("emptied group holds %q, want only the placeholder", got)
			}
			if got := env.members(t, both); len(got) != 1 || !strings.EqualFold(got[0], sDN) {
				t.Errorf("group holds %q, want only the other member", got)
			}
			// Not left, it follows the user to the leavers (refint).
			if got := env.members(t, other); (len(got) == 1 && strings.HasPrefix(got[0], "uid=leaver,")) == all {
				t.Errorf("strip all=%v: the group outside the container holds %q", all, got)
			}
			want := 2
			if all {
				want = 3
			}
			if len(env.events) != 1 || len(env.events[0].Groups) != want || env.events[0].Err != nil || env.events[0].Reason != "delete" {
				t.Fatalf("events: %+v", env.events)
			}
			if all && !strings.EqualFold(env.events[0].Groups[0], "cn=vpn,ou=apps,dc=example,dc=com") {
				t.Errorf("the unmanaged group was not left first: %q", env.events[0].Groups)
			}
			if _, err := env.users.Get(ctx, u.ID); bridge.KindOf(err) != bridge.KindNotFound {
				t.Errorf("deleted user: %v", err)
			}
			e, err := env.dir.Get(ctx, "ou=leavers,dc=example,dc=com", u.ID, nil)
			if err != nil || !e.Disabled {
				t.Errorf("leaver: %+v %v", e, err)
			}
			if _, err := env.users.Get(ctx, stay.ID); err != nil {
				t.Error(err)
			}
		})
	}
}

// A directory that goes away between two group steps: the DELETE fails as
// unavailable, the user is still there for the client's retry, and the retry
// finishes the job.
func TestDeleteRetriedAfterAnOutageFinishes(t *testing.T) {
	ctx := context.Background()
	env := newStripEnv(t, bridge.Memberships{All: true})
	u, err := env.users.Create(ctx, user("leaver", "t"))
	if err != nil {
		t.Fatal(err)
	}
	uDN := "uid=leaver,ou=people,dc=example,dc=com"
	g1 := env.group(t, "cn=one,ou=groups,dc=example,dc=com", uDN, "cn=x")
	g2 := env.group(t, "cn=two,ou=groups,dc=example,dc=com", uDN, "cn=x")
	env.faulty.failAt, env.faulty.kind = 2, bridge.KindUnavailable
	if err := env.users.Delete(ctx, u.ID); bridge.KindOf(err) != bridge.KindUnavailable {
		t.Fatalf("DELETE during the outage: %v, want unavailable", err)
	}
	// Half done, on the safe side: out of one group, still in scope.
	if holds(env.members(t, g1), uDN) == holds(env.members(t, g2), uDN) {
		t.Fatalf("after the outage: one %q, two %q", env.members(t, g1), env.members(t, g2))
	}
	if got, err := env.users.Get(ctx, u.ID); err != nil || got.Attrs["active"] != true {
		t.Fatalf("the user is not there for the retry: %v %v", got, err)
	}
	if err := env.users.Delete(ctx, u.ID); err != nil {
		t.Fatalf("retried DELETE: %v", err)
	}
	if holds(env.members(t, g1), uDN) || holds(env.members(t, g2), uDN) {
		t.Fatalf("after the retry: one %q, two %q", env.members(t, g1), env.members(t, g2))
	}
	if _, err := env.users.Get(ctx, u.ID); bridge.KindOf(err) != bridge.KindNotFound {
		t.Errorf("DELETE again: %v, want not found", err)
	}
}

// A group the service account may not write: the DELETE fails and changes
// nothing; the group already left is rejoined, placeholder and all.
func TestDeleteRefusedOnAGroupRejoinsTheOthers(t *testing.T) {
	ctx := context.Background()
	env := newStripEnv(t, bridge.Memberships{All: true})
	u, err := env.users.Create(ctx, user("leaver", "t"))
	if err != nil {
		t.Fatal(err)
	}
	uDN := "uid=leaver,ou=people,dc=example,dc=com"
	g1 := env.group(t, "cn=one,ou=groups,dc=example,dc=com", uDN)
	g2 := env.group(t, "cn=two,ou=groups,dc=example,dc=com", uDN)
	env.faulty.failAt, env.faulty.kind = 3, bridge.KindForbidden // 1: the first group, 2: its placeholder retry
	err = env.users.Delete(ctx, u.ID)
	if bridge.KindOf(err) != bridge.KindForbidden {
		t.Fatalf("DELETE: %v, want forbidden (500)", err)
	}
	for _, g := range []*bridge.Entry{g1, g2} {
		if got := env.members(t, g); len(got) != 1 || !strings.EqualFold(got[0], uDN) {
			t.Errorf("%s holds %q, want the user alone (no placeholder)", g.DN, got)
		}
	}
	if got, err := env.users.Get(ctx, u.ID); err != nil || got.Attrs["active"] != true {
		t.Fatalf("the user changed: %v %v", got, err)
	}
	last := env.events[len(env.events)-1]
	if len(last.Rejoined) != 1 || len(last.Failed) != 0 {
		t.Fatalf("events: %+v", env.events)
	}
}

// active: false leaves the groups only with OnDisable; enabling again does
// not bring them back.
func TestDisableLeavesGroupsWhenConfigured(t *testing.T) {
	ctx := context.Background()
	deactivate := []bridge.PatchOp{{Op: "replace", Path: &bridge.PatchPath{Attr: bridge.AttrPath{Attr: "active"}}, Value: false}}
	activate := []bridge.PatchOp{{Op: "replace", Path: &bridge.PatchPath{Attr: bridge.AttrPath{Attr: "active"}}, Value: true}}
	for _, on := range []bool{false, true} {
		env := newStripEnv(t, bridge.Memberships{All: true, OnDisable: on})
		u, err := env.users.Create(ctx, user("pat", "t"))
		if err != nil {
			t.Fatal(err)
		}
		uDN := "uid=pat,ou=people,dc=example,dc=com"
		g := env.group(t, "cn=g,ou=groups,dc=example,dc=com", uDN, "cn=x")
		got, err := env.users.Patch(ctx, u.ID, deactivate)
		if err != nil || got.Attrs["active"] != false {
			t.Fatalf("deactivate: %v %v", got, err)
		}
		if holds(env.members(t, g), uDN) == on {
			t.Errorf("OnDisable=%v: the group holds %q after active false", on, env.members(t, g))
		}
		if _, err := env.users.Patch(ctx, u.ID, activate); err != nil {
			t.Fatal(err)
		}
		if on && holds(env.members(t, g), uDN) {
			t.Error("re-activation restored the membership")
		}
	}
}

// A disable whose user write the directory refuses rejoins the groups.
func TestDisableRefusedRejoins(t *testing.T) {
	ctx := context.Background()
	env := newStripEnv(t, bridge.Memberships{All: true, OnDisable: true})
	u, err := env.users.Create(ctx, user("pat", "t"))
	if err != nil {
		t.Fatal(err)
	}
	uDN := "uid=pat,ou=people,dc=example,dc=com"
	g := env.group(t, "cn=g,ou=groups,dc=example,dc=com", uDN, "cn=x")
	// The directory refuses the user's own write for a reason a retry does
	// not change.
	ops := []bridge.PatchOp{
		{Op: "replace", Path: &bridge.PatchPath{Attr: bridge.AttrPath{Attr: "active"}}, Value: false},
	}
	env.faulty.Directory = refuseUserWrite{env.dir}
	if _, err := env.users.Patch(ctx, u.ID, ops); bridge.KindOf(err) != bridge.KindInvalidValue {
		t.Fatalf("PATCH: %v, want the refusal", err)
	}
	if !holds(env.members(t, g), uDN) {
		t.Fatalf("the group was not rejoined: %q", env.members(t, g))
	}
}

// refuseUserWrite refuses modifies of users as a directory's schema would.
type refuseUserWrite struct{ bridge.Directory }

func (d refuseUserWrite) Modify(ctx context.Context, req bridge.ModifyRequest) (*bridge.Entry, error) {
	if req.Disabled != nil {
		return nil, bridge.Errorf("test.Modify", bridge.KindInvalidValue, "refused")
	}
	return d.Directory.Modify(ctx, req)
}
