// Package mrcptest holds the wire captures MRCP and SIP tests replay (Fixtures). The binaries tests
// run are built by asr/testkit.
package mrcptest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/mrcpd/mrcpd/asr/testkit"
)

// Fixtures is the directory of wire captures from real peers (FreeSWITCH mod_unimrcp, the UniMRCP
// client and server, FreeSWITCH's Event Socket), kept in this package's testdata so that a plain
// clone of the repository runs every test. testdata/wire/README.md says where each came from.
func Fixtures(t testing.TB) string {
	t.Helper()
	root, err := testkit.ModuleRoot()
	if err != nil {
		t.Fatalf("mrcptest: %v", err)
	}
	dir := filepath.Join(root, "mrcp", "mrcptest", "testdata", "wire")
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("mrcptest: wire fixtures not found at %s: %v", dir, err)
	}
	return dir
}
