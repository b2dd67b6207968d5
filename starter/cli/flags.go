package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// aliasAnnotation lists, on a flag, the hidden old spellings that set it.
const aliasAnnotation = "lifeboat_aliases"

// alias makes old a hidden spelling of the flag name: both set the same
// value, so scripts written for an older release keep working while help
// shows one spelling per idea.
func alias(cmd *cobra.Command, name string, old ...string) {
	f := cmd.Flags().Lookup(name)
	if f == nil {
		panic("alias of unknown flag --" + name)
	}
	for _, o := range old {
		cmd.Flags().AddFlag(&pflag.Flag{
			Name: o, Usage: "old spelling of --" + name, Value: f.Value, DefValue: f.DefValue,
			NoOptDefVal: f.NoOptDefVal, Hidden: true,
		})
		if f.Annotations == nil {
			f.Annotations = map[string][]string{}
		}
		f.Annotations[aliasAnnotation] = append(f.Annotations[aliasAnnotation], o)
	}
}

// given reports whether a flag was set on the command line, under its
// name or one of its hidden old spellings.
func given(cmd *cobra.Command, name string) bool {
	f := cmd.Flags().Lookup(name)
	if f == nil {
		return false
	}
	if f.Changed {
		return true
	}
	for _, o := range f.Annotations[aliasAnnotation] {
		if a := cmd.Flags().Lookup(o); a != nil && a.Changed {
			return true
		}
	}
	return false
}

func requireFlags(cmd *cobra.Command, names ...string) error {
	for _, n := range names {
		if !given(cmd, n) {
			return usagef("--%s is required", n)
		}
	}
	return nil
}

// timeFormats is the help every time flag shares: one parser (parseTime)
// reads them all.
const timeFormats = "an RFC 3339 time (2026-11-22T06:00:00Z) or a UTC date (2026-11-22)"

// durationFormat is the help of every duration flag.
const durationFormat = "a duration such as 90s, 15m or 6h"

// when is a parsed time flag: a moment, or a whole UTC day.
type when struct {
	t    time.Time // the moment, or 00:00 UTC of the day
	date bool      // given as a date
}

// parseTime reads a time flag: an RFC 3339 time (fractional seconds
// allowed) or a date, YYYY-MM-DD, which is a UTC day.
func parseTime(flag, s string) (when, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return when{t: t.UTC()}, nil
	}
	if d, err := time.Parse(time.DateOnly, s); err == nil {
		return when{t: d, date: true}, nil
	}
	return when{}, usagef("--%s %q: invalid date or time, want %s", flag, s, timeFormats)
}

// start is the moment, a date meaning 00:00 UTC.
func (w when) start() time.Time { return w.t }

// end is the moment, a date meaning its last instant: "at or before
// 2026-11-22" includes what was taken that day.
func (w when) end() time.Time {
	if w.date {
		return w.t.Add(24*time.Hour - time.Nanosecond)
	}
	return w.t
}

// day is the UTC date of the moment.
func (w when) day() string { return w.t.Format(time.DateOnly) }

// checkArgs refuses positional arguments: no command takes any, so one is
// a mistyped subcommand or a value without its flag.
func checkArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	if cmd.HasSubCommands() {
		hint := ""
		if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
			hint = fmt.Sprintf(" (did you mean %q?)", s[0])
		}
		return usagef("unknown command %q for %q%s: run '%s --help'", args[0], cmd.CommandPath(), hint, cmd.CommandPath())
	}
	return usagef("%q takes no arguments, got %q: run '%s --help'", cmd.CommandPath(), args[0], cmd.CommandPath())
}

// finish applies what every command shares: positional arguments refused,
// a parent without a subcommand prints its help, an unknown subcommand is
// an error (cobra would print help and exit 0).
func finish(cmd *cobra.Command) {
	cmd.Args = checkArgs
	if cmd.HasSubCommands() && cmd.RunE == nil && cmd.Run == nil {
		cmd.RunE = func(c *cobra.Command, _ []string) error { return c.Help() }
	}
	for _, c := range cmd.Commands() {
		finish(c)
	}
}
