package cli

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// isTerminal reports whether w is a terminal: a redrawn progress bar is
// for people watching one; a log file or pipe gets plain lines.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// loadProgress returns the callback counting written items: a progress bar
// on a terminal, otherwise one plain line each time another tenth is done
// (and at the end), so logs stay readable.
func (a *app) loadProgress(desc string, total int) func(int) {
	if isTerminal(a.err) {
		bar := progressbar.NewOptions(total,
			progressbar.OptionSetWriter(a.err), progressbar.OptionSetDescription(desc),
			progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(a.err) }))
		return func(n int) { _ = bar.Add(n) }
	}
	var (
		mu         sync.Mutex
		done, step int
	)
	return func(n int) {
		mu.Lock()
		defer mu.Unlock()
		done += n
		if s := done * 10 / max(total, 1); s > step {
			step = s
			fmt.Fprintf(a.err, "%s  %s: %d/%d items (%d%%)\n", time.Now().Format("15:04:05"), desc, done, total, done*100/max(total, 1))
		}
	}
}
