package bridge

import (
	"context"
	"fmt"
)

// AttrNamer is implemented by mappers that can say which SCIM attribute a
// directory attribute holds, so that a failure the directory reports by
// its attribute reaches the client in the client's terms and the operator
// learns which table row to fix. Services find it by a type assertion.
type AttrNamer interface {
	// MappedFrom returns the SCIM attribute of the row that writes dirAttr
	// ("" for a row with no SCIM attribute: a template or constant) and the
	// row's place in its table ("file:line"); ok is false when no row maps
	// dirAttr.
	MappedFrom(dirAttr string) (scim, where string, ok bool)
}

// schemaRefused reports whether err is the directory's schema refusing a
// write: the kind a client's value gets (InvalidValue) or the kind the
// gateway's own setup gets (Misconfigured).
func schemaRefused(err error) bool {
	k := KindOf(err)
	return k == KindInvalidValue || k == KindMisconfigured
}

// namingDirectory is the Directory a Service writes through: failures that
// name a directory attribute get the SCIM attribute in the client's message
// (a client error) or the table row in the operator's log (a misconfiguration).
type namingDirectory struct {
	Directory
	n AttrNamer
}

func (d namingDirectory) Add(ctx context.Context, req AddRequest) (*Entry, error) {
	e, err := d.Directory.Add(ctx, req)
	return e, d.name("bridge.(namingDirectory).Add", err)
}

func (d namingDirectory) Modify(ctx context.Context, req ModifyRequest) (*Entry, error) {
	e, err := d.Directory.Modify(ctx, req)
	return e, d.name("bridge.(namingDirectory).Modify", err)
}

func (d namingDirectory) name(op string, err error) error {
	attr := AttrOf(err)
	if err == nil || attr == "" {
		return err
	}
	scim, where, ok := d.n.MappedFrom(attr)
	if !ok {
		return err
	}
	switch KindOf(err) {
	case KindInvalidValue, KindConflict:
		if scim == "" {
			return err
		}
		return &Error{Op: op, Kind: KindOf(err), Msg: fmt.Sprintf("%s (attribute %q)", SafeMessage(err), scim), Err: err}
	case KindMisconfigured:
		kvs := []any{"table_row", where}
		if scim != "" {
			kvs = append(kvs, "scim_attribute", scim)
		}
		fix := FixOf(err)
		if where != "" {
			fix += " (the mapping table row is at " + where + ")"
		}
		return &Error{Op: op, Kind: KindMisconfigured, Err: err, Fix: fix, Log: kvs}
	}
	return err
}
