package bridge

import "testing"

// The userName filter of a table that keeps it in the UPN or in a
// fallback attribute: a PUT that keeps the userName makes no search.
func TestHoldsExactlyCompound(t *testing.T) {
	f := Or(And(Eq("userPrincipalName", "x@corp.example"), Not(Present("fb"))), And(Present("fb"), Eq("fb", "x@corp.example")))
	for _, tc := range []struct {
		attrs map[string][]string
		want  bool
	}{
		{map[string][]string{"userPrincipalName": {"x@corp.example"}}, true},
		{map[string][]string{"userPrincipalName": {"derived@corp.example"}, "fb": {"x@corp.example"}}, true},
		{map[string][]string{"userPrincipalName": {"x@corp.example"}, "fb": {"other@gmail.com"}}, false},
		{map[string][]string{"userPrincipalName": {"X@corp.example"}}, false}, // case: left to the directory
		{map[string][]string{}, false},
	} {
		if got := holdsExactly(&Entry{Attrs: tc.attrs}, f); got != tc.want {
			t.Errorf("%v: %v, want %v", tc.attrs, got, tc.want)
		}
	}
	if holdsExactly(&Entry{Attrs: map[string][]string{}}, Not(Eq("a", "b"))) {
		t.Error("not of an equality is never certain")
	}
}
