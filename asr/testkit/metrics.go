package testkit

import (
	"bufio"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// Metrics reads the samples of the Prometheus text page at http://addr/metrics whose names
// (labels included, as written) start with prefix.
func Metrics(t testing.TB, addr, prefix string) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	m := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), " ")
		if v, err := strconv.ParseFloat(val, 64); ok && err == nil && strings.HasPrefix(key, prefix) {
			m[key] = v
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return m
}
