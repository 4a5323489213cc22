package capture

import (
	"net/http"
	"os"
	"strings"
)

// Handler serves the store's finished files under prefix (e.g. "/waveforms/"): GET and HEAD only,
// names only as the store made them, files still being written are 404 like unknown ones.
func (s *Store) Handler(prefix string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		name, ok := strings.CutPrefix(r.URL.Path, prefix)
		if !ok || !validName(name) || !s.ready(name) {
			http.NotFound(w, r)
			return
		}
		f, err := os.Open(s.Path(name))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			http.Error(w, "cannot read the file", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "audio/wav")
		w.Header().Set("Cache-Control", "private, no-store")
		http.ServeContent(w, r, "", st.ModTime(), f)
	})
}
