package bridge

import (
	"context"
	"encoding/json"
	"strings"
)

// A deprovisioning (DELETE, or a disable that strips groups) is several
// directory writes: the groups, one by one, then the user. With a Journal
// the service records the request before its first step and each group
// before it leaves it, and ends the record when the request is settled:
// done, or undone after a failure that retrying will not cure. A request
// the directory cut short (KindUnavailable) or that a crash interrupted
// stays pending, and recovery settles it once the directory is back:
//
//   - a DELETE is finished: the user still in scope leaves its remaining
//     groups and is disabled and moved, as the client's retry would do; a
//     user already moved to the leavers container is made sure to be
//     disabled and in no group (the move and the disable are two writes).
//   - a stripping disable whose user write never happened (the account is
//     still enabled) is reversed: the groups it left are rejoined, so that
//     the request changed nothing, and the client's retry does it all; one
//     whose user write happened (the account is disabled) is finished.

const stepLeave = "leave "

// intentKind names a journal kind of this service's resource type.
func (s *Service) intentKind(what string) string {
	return "bridge." + what + "/" + s.m.ResourceType().Name
}

// begin records a deprovisioning of id before its first step; "" without a
// journal.
func (s *Service) begin(ctx context.Context, what, id string) (string, error) {
	if s.cfg.Journal == nil {
		return "", nil
	}
	tok, err := s.cfg.Journal.Begin(ctx, Intent{Kind: s.intentKind(what), ID: id})
	if err != nil {
		// Nothing is written yet: the request fails whole.
		return "", E("bridge.(*Service).begin", KindInternal, "the gateway cannot record the request in its journal", err)
	}
	return tok, nil
}

// settle ends tok's record unless err leaves the request for recovery: the
// directory went away (or the entry was not where a step expected it, which
// only recovery, looking at the directory afresh, can sort out).
func (s *Service) settle(tok string, err error) {
	if tok == "" {
		return
	}
	if k := KindOf(err); err != nil && (k == KindUnavailable || k == KindNotFound) {
		s.cfg.Journal.Release(tok)
		return
	}
	// A record that cannot be ended is harmless: recovery finds the
	// request settled and ends it then.
	_ = s.cfg.Journal.End(tok)
}

type journalKey struct{}

type journalled struct {
	j   Journal
	tok string
}

// withJournal makes leaveGroups record each group in tok before it leaves it.
func withJournal(ctx context.Context, j Journal, tok string) context.Context {
	if j == nil || tok == "" {
		return ctx
	}
	return context.WithValue(ctx, journalKey{}, journalled{j, tok})
}

// recordLeave writes g into the request's journal record, when there is one.
func recordLeave(ctx context.Context, g membership) error {
	jr, ok := ctx.Value(journalKey{}).(journalled)
	if !ok {
		return nil
	}
	b, _ := json.Marshal(leftGroup{ID: g.id, DN: g.dn, Managed: g.managed})
	return jr.j.Step(jr.tok, stepLeave+string(b))
}

// leftGroup is a membership as the journal keeps it.
type leftGroup struct {
	ID      string `json:"id"`
	DN      string `json:"dn"`
	Managed bool   `json:"managed"`
}

func groupsLeftIn(it Intent) []membership {
	var out []membership
	for _, st := range it.Steps {
		if !strings.HasPrefix(st, stepLeave) {
			continue
		}
		var g leftGroup
		if json.Unmarshal([]byte(st[len(stepLeave):]), &g) == nil {
			out = append(out, membership{id: g.ID, dn: g.DN, managed: g.Managed})
		}
	}
	return out
}

// recoverDelete finishes a DELETE.
func (s *Service) recoverDelete(ctx context.Context, it Intent) error {
	cur, err := s.get(ctx, it.ID)
	switch {
	case err == nil:
		if err := s.delete(ctx, cur); KindOf(err) == KindUnavailable {
			return err
		}
		return nil // done, or undone by delete itself
	case KindOf(err) != KindNotFound:
		return err
	}
	// Out of SCIM's scope: hard-deleted, or moved to the leavers.
	if s.cfg.HardDelete || s.cfg.LeaversDN == "" {
		return nil
	}
	e, err := s.dir.Get(ctx, s.cfg.LeaversDN, it.ID, []string{"objectClass"})
	if KindOf(err) == KindNotFound {
		return nil
	}
	if err != nil {
		return err
	}
	if !e.Disabled {
		disabled := true
		if _, err := s.dir.Modify(ctx, ModifyRequest{ID: e.ID, Base: s.cfg.LeaversDN, Disabled: &disabled, Return: []string{"objectClass"}}); err != nil {
			return err
		}
	}
	if s.cfg.Memberships != nil {
		if _, err := s.leaveGroups(ctx, e, "delete"); err != nil {
			return err
		}
	}
	return nil
}

// recoverDisable finishes or reverses a stripping disable.
func (s *Service) recoverDisable(ctx context.Context, it Intent) error {
	cur, err := s.get(ctx, it.ID)
	if KindOf(err) == KindNotFound {
		return nil // deleted since: DELETE strips
	}
	if err != nil {
		return err
	}
	if cur.Disabled {
		_, err := s.leaveGroups(ctx, cur, "disable")
		return err
	}
	left := groupsLeftIn(it)
	ev := GroupsLeft{UserID: cur.ID, UserDN: cur.DN, Reason: "disable"}
	for i := len(left) - 1; i >= 0; i-- {
		if err := s.rejoinGroup(ctx, cur.DN, left[i]); err != nil {
			if KindOf(err) == KindUnavailable {
				return err
			}
			ev.Failed = append(ev.Failed, left[i].dn)
			continue
		}
		ev.Rejoined = append(ev.Rejoined, left[i].dn)
	}
	if len(left) > 0 {
		s.reportLeft(ctx, ev)
	}
	return nil
}
