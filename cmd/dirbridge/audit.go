package main

import (
	"context"
	"errors"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/dirbridge/dirbridge/bridge"
	"github.com/hashicorp/go-hclog"
)

// auditDirectory writes one audit line per directory write: who asked (request
// id, client), what (operation, resource id, DN, names of the attributes
// changed) and how it ended. Values are never logged: they may be personal
// data, and passwords must never reach a log.
type auditDirectory struct {
	bridge.Directory
	log hclog.Logger
	// afterWrite, when set, is called after every write the directory
	// acknowledged (the tests' crash hook, crashAfterWrites).
	afterWrite func()
	// explainUPN, when set, says for an add whether the UPN is the
	// userName or derived (mapping.(*Table).ExplainUPN).
	explainUPN func(attrs map[string][]string) (string, bool)
}

var _ bridge.Directory = auditDirectory{}

// dropped reports whether the line of a write that ended with err would be
// dropped by the log level: then nothing is built for it.
func (a auditDirectory) dropped(err error) bool { return err == nil && !a.log.IsInfo() }

func (a auditDirectory) record(ctx context.Context, op, id, dn string, attrs []string, extra []any, err error) {
	if a.dropped(err) {
		return
	}
	kv := []any{"request_id", bridge.RequestID(ctx), "client", bridge.Client(ctx), "remote_addr", bridge.Remote(ctx),
		"op", op, "id", id, "dn", dn, "attributes", nonNil(attrs)}
	kv = append(kv, extra...)
	if err != nil {
		a.log.Warn("directory write failed", append(kv, "error", err)...)
		return
	}
	a.log.Info("directory write", kv...)
}

// wrote runs the crash hook after a write the directory acknowledged.
func (a auditDirectory) wrote(err error) {
	if err == nil && a.afterWrite != nil {
		a.afterWrite()
	}
}

func (a auditDirectory) Add(ctx context.Context, req bridge.AddRequest) (*bridge.Entry, error) {
	e, err := a.Directory.Add(ctx, req)
	if a.dropped(err) {
		a.wrote(err)
		return e, err
	}
	names := make([]string, 0, len(req.Attrs))
	for k := range req.Attrs {
		names = append(names, k)
	}
	sort.Strings(names)
	id := ""
	if e != nil {
		id = e.ID
	}
	extra := []any{"password_set", req.Password != "", "disabled", req.Disabled}
	if a.explainUPN != nil {
		// Which logon name the user got: the userName, or a derived UPN
		// because the userName is no UPN of the forest.
		if path, ok := a.explainUPN(req.Attrs); ok {
			extra = append(extra, "upn", path)
		}
	}
	if req.Password != "" {
		names = append(names, "password")
	}
	if req.Disabled {
		names = append(names, "disabled")
	}
	a.record(ctx, "create", id, req.DN, names, extra, err)
	a.wrote(err)
	return e, err
}

func (a auditDirectory) Modify(ctx context.Context, req bridge.ModifyRequest) (*bridge.Entry, error) {
	e, err := a.Directory.Modify(ctx, req)
	if errors.Is(err, bridge.ErrStaleCurrent) {
		// A guess the directory refused wrote nothing and is not the
		// request's outcome: the service reads and writes again, and that
		// write is the one audited.
		return e, err
	}
	if a.dropped(err) {
		a.wrote(err)
		return e, err
	}
	dn := ""
	if e != nil {
		dn = e.DN
	}
	op, names, extra := describeModify(req)
	a.record(ctx, op, req.ID, dn, names, extra, err)
	a.wrote(err)
	return e, err
}

// memberAttrs are the attributes whose changes are membership changes.
var memberAttrs = map[string]bool{"member": true, "uniquemember": true, "memberuid": true}

// describeModify names what a modify does, for the audit line: deprovision
// (disable and move to the leavers container), disable, enable, move,
// rename, member_add / member_remove / member_update (with counts), or
// update; the attributes changed, each once, lifecycle ones included
// ("disabled", "dn" for a rename or move, "password" by name only).
func describeModify(req bridge.ModifyRequest) (op string, names []string, extra []any) {
	seen := map[string]bool{}
	others, added, removed := 0, 0, 0
	for _, c := range req.Changes {
		if !seen[c.Attr] {
			seen[c.Attr] = true
			names = append(names, c.Attr)
		}
		switch {
		case memberAttrs[strings.ToLower(c.Attr)] && c.Op == bridge.ChangeAdd:
			added += len(c.Values)
		case memberAttrs[strings.ToLower(c.Attr)] && c.Op == bridge.ChangeDelete && len(c.Values) > 0:
			removed += len(c.Values)
		default:
			others++
		}
	}
	moved := req.NewSuperior != ""
	renamed := req.NewRDN != ""
	if moved || renamed {
		names = append(names, "dn")
	}
	if req.Password != nil {
		names = append(names, "password")
	}
	if req.Disabled != nil {
		names = append(names, "disabled")
	}
	extra = []any{"password_changed", req.Password != nil}
	if req.Disabled != nil {
		extra = append(extra, "disabled", *req.Disabled)
	}
	if moved {
		extra = append(extra, "new_parent", req.NewSuperior)
	}
	if renamed {
		extra = append(extra, "new_rdn", req.NewRDN)
	}
	if added+removed > 0 {
		extra = append(extra, "members_added", added, "members_removed", removed)
	}
	switch {
	case req.Disabled != nil && *req.Disabled && moved:
		op = "deprovision"
	case req.Disabled != nil && *req.Disabled:
		op = "disable"
	case req.Disabled != nil && !*req.Disabled && others == 0 && !moved && !renamed && req.Password == nil:
		op = "enable"
	case moved && others == 0 && added+removed == 0:
		op = "move"
	case renamed && others == 0 && added+removed == 0:
		op = "rename"
	case others == 0 && added > 0 && removed == 0 && req.Password == nil && req.Disabled == nil && !moved && !renamed:
		op = "member_add"
	case others == 0 && removed > 0 && added == 0 && req.Password == nil && req.Disabled == nil && !moved && !renamed:
		op = "member_remove"
	case others == 0 && added > 0 && removed > 0 && req.Password == nil && req.Disabled == nil && !moved && !renamed:
		op = "member_update"
	default:
		op = "update"
	}
	return op, names, extra
}

func (a auditDirectory) Delete(ctx context.Context, id string) error {
	err := a.Directory.Delete(ctx, id)
	a.record(ctx, "delete", id, "", nil, nil, err)
	a.wrote(err)
	return err
}

func (a auditDirectory) EnsureContainer(ctx context.Context, dn string) error {
	err := a.Directory.EnsureContainer(ctx, dn)
	a.record(ctx, "ensure_container", "", dn, nil, nil, err)
	return err
}

// groupsLeft is the audit line of a deprovisioning's group step: the DNs of
// the groups the user left (and, after a failure, of those it rejoined),
// never a value of another attribute. Each group's own modify has its line
// too; this one says why, and which groups in all.
func (a auditDirectory) groupsLeft(ctx context.Context, ev bridge.GroupsLeft) {
	op, extra := "leave_groups", []any{"reason", ev.Reason, "groups", nonNil(ev.Groups)}
	if ev.Rejoined != nil || ev.Failed != nil {
		op, extra = "rejoin_groups", []any{"reason", ev.Reason, "groups", nonNil(ev.Rejoined)}
		if len(ev.Failed) > 0 {
			// The undo itself failed: the directory holds a half-done
			// deprovisioning that the log must name.
			a.log.Error("cannot undo a partly applied change", "request_id", bridge.RequestID(ctx), "op", op,
				"id", ev.UserID, "dn", ev.UserDN, "groups_not_rejoined", ev.Failed, "error", ev.Err)
		}
	}
	a.record(ctx, op, ev.UserID, ev.UserDN, nil, extra, ev.Err)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// crashEnv makes the gateway exit at once, as kill -9 would (no shutdown, no
// deferred cleanup), right after its nth acknowledged directory write: the
// tests use it to kill the process between two writes of one request and
// check that the journal settles the request at the next start. Never set
// it in production.
const crashEnv = "DIRBRIDGE_TEST_CRASH_AFTER_WRITES"

func crashAfterWrites(logger hclog.Logger) func() {
	n, err := strconv.Atoi(os.Getenv(crashEnv))
	if err != nil || n <= 0 {
		return nil
	}
	logger.Warn("test hook set: the process exits after this many directory writes", "env", crashEnv, "writes", n)
	var count atomic.Int64
	return func() {
		if count.Add(1) == int64(n) {
			os.Exit(86)
		}
	}
}
