package tomlfile

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

type dur struct{ time.Duration }

func (d *dur) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	d.Duration = v
	return err
}

type row struct {
	SCIM string `toml:"scim"`
	LDAP string `toml:"ldap"`
}

type file struct {
	Name    string `toml:"name"`
	Secret  string `toml:"secret" secret:"true"`
	Section struct {
		Count   int      `toml:"count"`
		List    []string `toml:"list"`
		Timeout dur      `toml:"timeout"`
		On      *bool    `toml:"on"`
	} `toml:"section"`
	Row []row `toml:"row"`
}

// Every wrong value is reported at its own line, a row of an array of
// tables at that row's line (not the last row's, as the decoder does).
func TestCheckReportsEveryTypeErrorAtItsLine(t *testing.T) {
	data := `name = "x"
secret = 271828
[section]
list = [
  "a = 1",
  """
count = "nope"
""",
]
count = "8"
timeout = "5x"
on = "yes"
colour = 1

[[row]]
scim = "a"
ldap = "a"

[[row]]
scim = "b"
ldap = 5

[[row]]
scim = "c"
ldap = "c"
`
	if p := SyntaxError([]byte(data)); p != nil {
		t.Fatal(p)
	}
	got := Check([]byte(data), &file{})
	for _, p := range got {
		if strings.Contains(p.Msg, "271828") {
			t.Errorf("a secret's value is shown: %+v", p)
		}
	}
	want := []string{
		"2 secret want a string in quotes, got a number",
		"10 section.count want a whole number",
		"11 section.timeout unknown unit",
		"12 section.on want true or false",
		"13 section.colour unknown key",
		"21 row[1].ldap want a string",
	}
	if len(got) != len(want) {
		t.Fatalf("got %d problems, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		f := strings.SplitN(w, " ", 3)
		if g := got[i]; f[0] != strconv.Itoa(g.Line) || g.Key != f[1] || !strings.Contains(g.Msg, f[2]) {
			t.Errorf("problem %d: got %+v, want %s", i, g, w)
		}
	}
}

func TestSyntaxErrorIsLocated(t *testing.T) {
	p := SyntaxError([]byte("a = 1\nb = \n"))
	if p == nil || p.Line != 2 {
		t.Fatalf("got %+v", p)
	}
}

func TestNearest(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"dispalyName", "displayName"}, {"bsae_dn", "base_dn"}, {"zzzzzz", ""}, {"levle", "level"},
	} {
		if got := Nearest(tc.in, []string{"displayName", "base_dn", "level", "bind_dn"}); got != tc.want {
			t.Errorf("Nearest(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
