package embedded

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

func TestPasswordHashAndVerify(t *testing.T) {
	h, err := hashPassword("s3cret", cheapArgon2)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "{ARGON2}$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("hash %q", h)
	}
	h2, _ := hashPassword("s3cret", cheapArgon2)
	if h == h2 {
		t.Fatal("no salt")
	}
	for _, tc := range []struct {
		stored, pw string
		want       bool
	}{
		{h, "s3cret", true},
		{h, "S3cret", false},
		{h, "", false},
		// Made by slappasswd (OpenLDAP 2.5) for "test".
		{"{SSHA}+rzPLgNpRD4QaTyTccMj8rxxI4qqOwKX", "test", true},
		{"{SSHA}+rzPLgNpRD4QaTyTccMj8rxxI4qqOwKX", "tesT", false},
		{"{ARGON2}$argon2i$v=19$m=4096,t=3,p=1$xs1sTPz1GceVYFCNfT+pHw$NNpXGOcKKQZH4blnCakfJt2AS4DIrLtGcZF9W2BDAk0", "test", true},
		{"{ARGON2}$argon2i$v=19$m=4096,t=3,p=1$xs1sTPz1GceVYFCNfT+pHw$NNpXGOcKKQZH4blnCakfJt2AS4DIrLtGcZF9W2BDAk0", "nope", false},
		// slappasswd -o module-load=pw-sha2 -h {SSHA256} / {SSHA512} -s test
		{"{SSHA256}Ov/9UxeFpv3Ryn7DSoD59YI1wSLlDlpIqBE8CkUSZi8qO0KFYhwn5Q==", "test", true},
		{"{SSHA512}TYZBDwqJ5o6B9sHqjjvOKNVMqt1F1Ve5dPFTne/YlBS/AgJdhIVFwXSo5MwQnKoO9Cu3dmT18vcPsd2oc3u4Fwsc0B89rcUL", "test", true},
		{"{SHA}qUqP5cyxm6YcTAhz05Hph5gvu9M=", "test", true},
		{"{CLEARTEXT}test", "test", true},
		{"test", "test", true},
		{"{MD5}CY9rzUYh03PK3k6DJie09g==", "test", false}, // a scheme it does not read never matches
		{"{ARGON2}$argon2id$v=19$m=99999999,t=1,p=1$c2FsdA$aGFzaA", "x", false},
		{"{ARGON2}garbage", "x", false},
		{"{SSHA}!!!", "x", false},
	} {
		if got := matchesAny([]string{tc.stored}, tc.pw); got != tc.want {
			t.Errorf("verify(%q, %q) = %v, want %v", tc.stored, tc.pw, got, tc.want)
		}
	}
	for v, want := range map[string]bool{"{SSHA}x": true, "{ARGON2}$x": true, "{x": false, "{}x": false, "plain": false, "{a b}": false} {
		if hasScheme(v) != want {
			t.Errorf("hasScheme(%q) != %v", v, want)
		}
	}
}

// TestPasswordSlappasswdInterop checks hashes slappasswd makes right now,
// in every scheme it offers here.
func TestPasswordSlappasswdInterop(t *testing.T) {
	const bin = "/usr/sbin/slappasswd"
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s missing; CI must run every directory test", bin)
		}
		t.Skip("slappasswd missing (apt-get install slapd)")
	}
	for _, args := range [][]string{
		{"-h", "{SSHA}"},
		{"-o", "module-load=pw-sha2", "-h", "{SSHA256}"},
		{"-o", "module-load=pw-sha2", "-h", "{SSHA512}"},
		{"-o", "module-load=argon2", "-h", "{ARGON2}"},
	} {
		out, err := exec.Command(bin, append(args, "-s", "pässword")...).CombinedOutput()
		if err != nil {
			t.Fatalf("slappasswd %v: %v %s", args, err, out)
		}
		h := strings.TrimSpace(string(out))
		if !matchesAny([]string{h}, "pässword") || matchesAny([]string{h}, "password") {
			t.Errorf("slappasswd %v: %q not verified right", args, h)
		}
	}
}
