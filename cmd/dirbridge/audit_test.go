package main

import (
	"reflect"
	"testing"

	"github.com/dirbridge/dirbridge/bridge"
)

func TestDescribeModify(t *testing.T) {
	yes, no, pw := true, false, "s3cret"
	cases := []struct {
		name  string
		req   bridge.ModifyRequest
		op    string
		attrs []string
	}{
		{"disable", bridge.ModifyRequest{Disabled: &yes}, "disable", []string{"disabled"}},
		{"enable", bridge.ModifyRequest{Disabled: &no}, "enable", []string{"disabled"}},
		{"deprovision", bridge.ModifyRequest{Disabled: &yes, NewSuperior: "ou=leavers,dc=x"}, "deprovision", []string{"dn", "disabled"}},
		{"move", bridge.ModifyRequest{NewSuperior: "ou=b,dc=x"}, "move", []string{"dn"}},
		{"rename", bridge.ModifyRequest{NewRDN: "uid=new"}, "rename", []string{"dn"}},
		{"member add", bridge.ModifyRequest{Changes: []bridge.Change{{Op: bridge.ChangeDelete, Attr: "member", Values: nil}, {Op: bridge.ChangeAdd, Attr: "member", Values: []string{"uid=a"}}}},
			"update", []string{"member"}},
		{"one member add", bridge.ModifyRequest{Changes: []bridge.Change{{Op: bridge.ChangeAdd, Attr: "member", Values: []string{"uid=a", "uid=b"}}}}, "member_add", []string{"member"}},
		{"member remove", bridge.ModifyRequest{Changes: []bridge.Change{{Op: bridge.ChangeDelete, Attr: "member", Values: []string{"uid=a"}}}}, "member_remove", []string{"member"}},
		{"update", bridge.ModifyRequest{Changes: []bridge.Change{{Op: bridge.ChangeReplace, Attr: "sn", Values: []string{"X"}}}, Password: &pw}, "update", []string{"sn", "password"}},
	}
	for _, c := range cases {
		op, attrs, extra := describeModify(c.req)
		if op != c.op || !reflect.DeepEqual(attrs, c.attrs) {
			t.Errorf("%s: op=%s attributes=%v, want op=%s attributes=%v", c.name, op, attrs, c.op, c.attrs)
		}
		for _, v := range extra {
			if v == pw {
				t.Errorf("%s: the password value is in the audit fields %v", c.name, extra)
			}
		}
	}
}
