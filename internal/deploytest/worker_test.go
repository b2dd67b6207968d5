package deploytest

import (
	"bufio"
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// repoRoot is the module root, seen from this package.
var repoRoot = filepath.Join("..", "..")

// envconfigPkg loads the Temporal connection (TEMPORAL_API_KEY, TEMPORAL_TLS_*)
// the way the temporal CLI does.
const envconfigPkg = "go.temporal.io/sdk/contrib/envconfig"

// configLoaders are the libraries whose environment variables count as read
// by the worker when it links them: the AWS SDK's (AWS_REGION, ...) and the
// Temporal SDK's environment configuration.
var configLoaders = map[string]bool{
	"github.com/aws/aws-sdk-go-v2/config": true,
	envconfigPkg:                          true,
}

// workerNames is what the worker can be given: the string literals of its
// own packages and of the configuration loaders it links (environment
// variable names), and of the packages under worker/ (flag names). A name
// found there is the worker's; a name not found is surely not.
type workerNames struct {
	env       map[string]bool
	flags     map[string]bool
	envconfig bool // links envconfigPkg
}

var (
	workerOnce  sync.Once
	worker      workerNames
	errWorkerLd error
)

func loadWorkerNames(t *testing.T) workerNames {
	t.Helper()
	workerOnce.Do(func() { worker, errWorkerLd = scanWorker() })
	if errWorkerLd != nil {
		t.Fatalf("reading the worker's source: %v", errWorkerLd)
	}
	return worker
}

func scanWorker() (workerNames, error) {
	w := workerNames{env: map[string]bool{}, flags: map[string]bool{}}
	cmd := exec.Command("go", "list", "-deps",
		"-f", `{{.ImportPath}}	{{if .Module}}{{.Module.Main}}{{end}}	{{.Dir}}	{{join .GoFiles " "}}`, "./worker")
	cmd.Dir = repoRoot
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return w, &cmdError{cmd: "go list -deps ./worker", err: err, stderr: stderr.String()}
	}
	mainPath, err := modulePath()
	if err != nil {
		return w, err
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		if len(f) != 4 {
			continue
		}
		pkg, isMain, dir, files := f[0], f[1] == "true", f[2], strings.Fields(f[3])
		if pkg == envconfigPkg {
			w.envconfig = true
		}
		if !isMain && !configLoaders[pkg] {
			continue
		}
		lits, err := stringLiterals(dir, files)
		if err != nil {
			return w, err
		}
		underWorker := pkg == mainPath+"/worker" || strings.HasPrefix(pkg, mainPath+"/worker/")
		for _, s := range lits {
			w.env[s] = true
			if underWorker {
				w.flags[s] = true
			}
		}
	}
	return w, sc.Err()
}

func modulePath() (string, error) {
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Path}}")
	cmd.Dir = repoRoot
	out, err := cmd.Output()
	if err != nil {
		return "", &cmdError{cmd: "go list -m", err: err}
	}
	return strings.TrimSpace(string(out)), nil
}

func stringLiterals(dir string, files []string) ([]string, error) {
	var lits []string
	fset := token.NewFileSet()
	for _, name := range files {
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if b, ok := n.(*ast.BasicLit); ok && b.Kind == token.STRING {
				if s, err := strconv.Unquote(b.Value); err == nil {
					lits = append(lits, s)
				}
			}
			return true
		})
	}
	return lits, nil
}

type cmdError struct {
	cmd    string
	err    error
	stderr string
}

func (e *cmdError) Error() string {
	return e.cmd + ": " + e.err.Error() + ": " + strings.TrimSpace(e.stderr)
}

// nameCheck sorts the names given to the worker in one place (a container, a
// unit) into unknown ones and ones only envconfig would read.
type nameCheck struct {
	w       workerNames
	where   string
	unknown []string
	pending []string
}

// env checks an environment variable name; expanded says whether the
// place itself expands it into a flag ($(NAME) in Kubernetes, ${NAME} in
// systemd), which makes it the place's, not the worker's.
func (c *nameCheck) env(name string, expanded bool) {
	switch {
	case expanded || c.w.env[name]:
	case strings.HasPrefix(name, "TEMPORAL_") && !c.w.envconfig:
		c.pending = append(c.pending, name)
	default:
		c.unknown = append(c.unknown, c.where+": environment variable "+name)
	}
}

var flagRE = regexp.MustCompile(`^--?([a-z0-9][a-z0-9-]*)(=|$)`)

// args checks every --flag among a command's arguments.
func (c *nameCheck) args(args []string) {
	for _, a := range args {
		m := flagRE.FindStringSubmatch(a)
		if m == nil {
			continue
		}
		if !c.w.flags[m[1]] {
			c.unknown = append(c.unknown, c.where+": flag --"+m[1])
		}
	}
}

// report fails the test on unknown names and skips, in a subtest of its own,
// what waits for envconfig.
func reportNames(t *testing.T, checks []*nameCheck) {
	t.Helper()
	pending := map[string]bool{}
	for _, c := range checks {
		for _, u := range c.unknown {
			t.Errorf("%s is not read by the worker (not a string in worker/, internal/ or the AWS and Temporal config loaders it links)", u)
		}
		for _, p := range c.pending {
			pending[p] = true
		}
	}
	if len(pending) > 0 {
		t.Run("TemporalConnectionVariables", func(t *testing.T) {
			t.Skipf("the worker does not link %s yet (issue 14, connecting to a real Temporal), so it reads none of %s",
				envconfigPkg, strings.Join(sortedKeys(pending), ", "))
		})
	}
}
