package embedded

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/dirbridge/dirbridge/bridge"
)

// durabilityEnv names the data directory of the writer child; set, it makes
// TestDurabilityWriter the child instead of a no-op.
const durabilityEnv = "DIRBRIDGE_TESTENV_DURABILITY_DIR"

// TestDurabilityWriter is the child of TestDurabilityKill9: it writes users
// (and group memberships, which touch several entries in one transaction)
// in a loop and prints each write only after Add or Modify returned.
func TestDurabilityWriter(t *testing.T) {
	dir := os.Getenv(durabilityEnv)
	if dir == "" {
		t.Skip("the child of TestDurabilityKill9")
	}
	opts := testOptions(t, dir)
	opts.Clock = nil
	e, err := OpenEmbedded(opts)
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(2)
	}
	ctx := context.Background()
	round := os.Getenv(durabilityEnv + "_ROUND")
	group, err := e.Add(ctx, bridge.AddRequest{DN: "cn=g" + round + ",ou=groups,dc=example,dc=com", Attrs: map[string][]string{
		"objectClass": {"groupOfNames"}, "cn": {"g" + round}, "member": {"cn=nobody,dc=example,dc=com"},
	}})
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(2)
	}
	for i := 0; ; i++ {
		uid := fmt.Sprintf("r%s-u%05d", round, i)
		req := person(uid, "mail", uid+"@example.com")
		req.Password = "pw-" + uid
		u, err := e.Add(ctx, req)
		if err != nil {
			fmt.Println("ERR", err)
			os.Exit(2)
		}
		fmt.Printf("ADD %s %s\n", u.ID, uid)
		if i%5 == 0 {
			_, err := e.Modify(ctx, bridge.ModifyRequest{ID: group.ID, Changes: []bridge.Change{
				{Op: bridge.ChangeAdd, Attr: "member", Values: []string{u.DN}}}})
			if err != nil {
				fmt.Println("ERR", err)
				os.Exit(2)
			}
			fmt.Printf("MEMBER %s %s\n", u.ID, group.ID)
		}
	}
}

// TestDurabilityKill9 kills a writing process with SIGKILL in the middle of
// its load, three times over the same data, and checks after each kill that
// every acknowledged write is there, whole, and that the indexes and
// memberOf agree with the entries.
func TestDurabilityKill9(t *testing.T) {
	if os.Getenv(durabilityEnv) != "" {
		t.Skip("in the child")
	}
	dir := t.TempDir()
	acked := map[string]string{}   // id → uid
	members := map[string]string{} // user id → group id
	for round := 0; round < 3; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestDurabilityWriter$", "-test.count=1")
		cmd.Env = append(os.Environ(), durabilityEnv+"="+dir, fmt.Sprintf("%s_ROUND=%d", durabilityEnv, round))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		n := 0
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			switch {
			case len(f) == 3 && f[0] == "ADD":
				acked[f[1]] = f[2]
				n++
			case len(f) == 3 && f[0] == "MEMBER":
				members[f[1]] = f[2]
			case len(f) > 0 && f[0] == "ERR":
				t.Fatalf("writer: %s", sc.Text())
			}
			if n == 150 {
				// Mid-load: the child is writing as fast as it can.
				if err := cmd.Process.Kill(); err != nil { // SIGKILL, by pid
					t.Fatal(err)
				}
				break
			}
		}
		// Whatever it printed before dying was acknowledged too.
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) == 3 && f[0] == "ADD" {
				acked[f[1]] = f[2]
			} else if len(f) == 3 && f[0] == "MEMBER" {
				members[f[1]] = f[2]
			}
		}
		_ = cmd.Wait()

		opts := testOptions(t, dir)
		e, err := OpenEmbedded(opts)
		if err != nil {
			t.Fatalf("reopen after kill %d: %v", round, err)
		}
		ctx := context.Background()
		for id, uid := range acked {
			u, err := e.Get(ctx, "", id, []string{"*", "memberOf", "userPassword"})
			if err != nil {
				t.Fatalf("round %d: acknowledged %s (%s) lost: %v", round, uid, id, err)
			}
			if u.First("uid") != uid || u.First("mail") != uid+"@example.com" || u.First("userPassword") == "" {
				t.Fatalf("round %d: %s is incomplete: %+v", round, uid, u.Attrs)
			}
			if g, ok := members[id]; ok {
				ge, err := e.Get(ctx, "", g, nil)
				if err != nil || !containsValue(lookupAttr("member"), ge.Values("member"), u.DN) ||
					!containsValue(lookupAttr("memberOf"), u.Values("memberOf"), ge.DN) {
					t.Fatalf("round %d: membership of %s lost or half-applied (%v)", round, uid, err)
				}
			}
		}
		if err := checkIntegrity(e); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d acknowledged users survived three SIGKILLs", len(acked))
}

// checkIntegrity verifies that every index key points at an entry that has
// it, that every entry has all its index keys, that parents exist, and that
// memberOf is exactly what the groups say: what a half-applied write would
// break.
func checkIntegrity(e *Embedded) error {
	return e.db.View(func(tx *bolt.Tx) error {
		records := map[string]*record{}
		err := tx.Bucket(bucketEntries).ForEach(func(k, v []byte) error {
			r, err := getRecord(tx, string(k))
			if err != nil {
				return err
			}
			records[r.ID] = r
			return nil
		})
		if err != nil {
			return err
		}
		eqKeys, dnKeys, kidKeys := 0, 0, 0
		byNDN := map[string]*record{}
		for id, r := range records {
			byNDN[r.NDN] = r
			if got := idByNDN(tx, r.NDN); got != id {
				return fmt.Errorf("dn index of %s points at %q", r.DN, got)
			}
			if r.Parent != "" {
				if _, ok := records[r.Parent]; !ok {
					return fmt.Errorf("parent of %s missing", r.DN)
				}
			}
			if tx.Bucket(bucketKids).Get(kidKey(r.Parent, id)) == nil {
				return fmt.Errorf("kids index lacks %s", r.DN)
			}
			for _, k := range r.indexKeys() {
				if tx.Bucket(bucketEq).Get(k) == nil {
					return fmt.Errorf("eq index lacks a key of %s", r.DN)
				}
			}
			eqKeys += len(r.indexKeys())
		}
		_ = tx.Bucket(bucketDN).ForEach(func(k, v []byte) error { dnKeys++; return nil })
		_ = tx.Bucket(bucketKids).ForEach(func(k, v []byte) error { kidKeys++; return nil })
		n := 0
		_ = tx.Bucket(bucketEq).ForEach(func(k, v []byte) error { n++; return nil })
		if dnKeys != len(records) || kidKeys != len(records) || n != eqKeys {
			return fmt.Errorf("stray index keys: dn %d, kids %d, eq %d for %d entries with %d eq keys", dnKeys, kidKeys, n, len(records), eqKeys)
		}
		memberDef, memberOfDef := lookupAttr("member"), lookupAttr("memberOf")
		for _, r := range records {
			var want []string
			for _, g := range records {
				if containsValue(memberDef, g.Attrs["member"], r.DN) {
					want = append(want, g.NDN)
				}
			}
			var got []string
			for _, v := range r.Attrs["memberOf"] {
				got = append(got, memberOfDef.norm(v))
			}
			if len(got) != len(want) {
				return fmt.Errorf("memberOf of %s is %v, groups say %v", r.DN, got, want)
			}
			for _, w := range want {
				if !containsValue(memberOfDef, r.Attrs["memberOf"], byNDN[w].DN) {
					return fmt.Errorf("memberOf of %s lacks %s", r.DN, w)
				}
			}
		}
		return nil
	})
}
