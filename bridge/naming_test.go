package bridge

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

type failingDir struct {
	Directory // nil: only Add and Modify are called
	err       error
}

func (d failingDir) Add(context.Context, AddRequest) (*Entry, error)       { return nil, d.err }
func (d failingDir) Modify(context.Context, ModifyRequest) (*Entry, error) { return nil, d.err }

type namer map[string][2]string

func (n namer) MappedFrom(attr string) (string, string, bool) {
	v, ok := n[strings.ToLower(attr)]
	return v[0], v[1], ok
}

// TestNamingDirectory: a client's bad value is named by its SCIM attribute;
// a misconfiguration keeps its kind and gets the table row for the log.
func TestNamingDirectory(t *testing.T) {
	n := namer{"telephonenumber": {`phoneNumbers[type eq "work"].value`, "users.toml:117"}, "dispalyname": {"displayName", "users.toml:74"},
		"cn": {"", "users.toml:83"}}
	cause := errors.New(`LDAP Result Code 21 "Invalid Attribute Syntax": telephoneNumber: value #0 invalid per syntax`)
	syntax := &Error{Op: "ldapside.(*Conn).Add", Kind: KindInvalidValue, Msg: "a value does not have the syntax the directory requires", Err: cause, Attr: "telephoneNumber"}
	d := namingDirectory{Directory: failingDir{err: syntax}, n: n}
	_, err := d.Add(context.Background(), AddRequest{})
	if KindOf(err) != KindInvalidValue || SafeMessage(err) != `a value does not have the syntax the directory requires (attribute "phoneNumbers[type eq \"work\"].value")` {
		t.Errorf("client error: %v: %q", err, SafeMessage(err))
	}
	if !errors.Is(err, cause) {
		t.Errorf("the cause is lost")
	}

	typo := &Error{Op: "ldapside.(*Conn).Modify", Kind: KindMisconfigured, Err: errors.New("undefined"), Attr: "dispalyName",
		Fix: "attribute dispalyName is not in the directory schema", Log: []any{"ldap_result_code", 17}}
	d = namingDirectory{Directory: failingDir{err: typo}, n: n}
	_, err = d.Modify(context.Background(), ModifyRequest{})
	if KindOf(err) != KindMisconfigured || SafeMessage(err) != "the gateway is misconfigured" {
		t.Errorf("misconfiguration: %v: %q", err, SafeMessage(err))
	}
	if fix := FixOf(err); fix != "attribute dispalyName is not in the directory schema (the mapping table row is at users.toml:74)" {
		t.Errorf("fix %q", fix)
	}
	origin, kvs := LogOf(err)
	if origin != "ldapside.(*Conn).Modify" || fmt.Sprint(kvs) != "[table_row users.toml:74 scim_attribute displayName ldap_result_code 17]" {
		t.Errorf("log: %s %v", origin, kvs)
	}

	// A row without a SCIM attribute (a template) and an attribute no row
	// maps leave the message as it was.
	for _, attr := range []string{"cn", "unmapped"} {
		e := &Error{Op: "x", Kind: KindInvalidValue, Msg: "a value violates a constraint of the directory", Attr: attr}
		_, err = namingDirectory{Directory: failingDir{err: e}, n: n}.Add(context.Background(), AddRequest{})
		if SafeMessage(err) != "a value violates a constraint of the directory" {
			t.Errorf("%s: %q", attr, SafeMessage(err))
		}
	}
	if _, err := (namingDirectory{Directory: failingDir{}, n: n}).Add(context.Background(), AddRequest{}); err != nil {
		t.Errorf("no error becomes %v", err)
	}
}
