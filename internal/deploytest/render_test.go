package deploytest

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	kjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

var k8sDir = filepath.Join(repoRoot, "deploy", "kubernetes")

// The kinds deploy/kubernetes may use, each decoded into its k8s.io/api type.
var scheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{corev1.AddToScheme, appsv1.AddToScheme, policyv1.AddToScheme} {
		if err := add(s); err != nil {
			panic(err)
		}
	}
	return s
}()

// strictYAML is the API server's own decoder in strict mode: an unknown or
// duplicate field, a wrong type or an unregistered kind is an error.
var strictYAML = kjson.NewSerializerWithOptions(kjson.DefaultMetaFactory, scheme, scheme,
	kjson.SerializerOptions{Yaml: true, Strict: true})

// manifest is one decoded Kubernetes object and where it came from.
type manifest struct {
	file string // relative to deploy/kubernetes
	obj  runtime.Object
}

func (m manifest) meta() metav1.Object {
	acc, ok := m.obj.(metav1.Object)
	if !ok {
		panic(fmt.Sprintf("%T has no metadata", m.obj))
	}
	return acc
}

func (m manifest) kind() string { return m.obj.GetObjectKind().GroupVersionKind().Kind }

func (m manifest) String() string {
	return fmt.Sprintf("%s: %s %s/%s", m.file, m.kind(), m.meta().GetNamespace(), m.meta().GetName())
}

// kustomization is the part of kustomize's file these manifests use; any
// other field is refused (decoded strictly), so the test knows all of it.
type kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Resources  []string `json:"resources,omitempty"`
	Components []string `json:"components,omitempty"`
	Patches    []struct {
		Path string `json:"path"`
	} `json:"patches,omitempty"`
	Images []struct {
		Name    string `json:"name"`
		NewName string `json:"newName,omitempty"`
		NewTag  string `json:"newTag,omitempty"`
		Digest  string `json:"digest,omitempty"`
	} `json:"images,omitempty"`
}

var kustomizeAPI = map[string]string{
	"Kustomization": "kustomize.config.k8s.io/v1beta1",
	"Component":     "kustomize.config.k8s.io/v1alpha1",
}

func readKustomization(dir, wantKind string) (*kustomization, error) {
	path := filepath.Join(dir, "kustomization.yaml")
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var k kustomization
	if err := yaml.UnmarshalStrict(b, &k); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if k.Kind != wantKind || k.APIVersion != kustomizeAPI[wantKind] {
		return nil, fmt.Errorf("%s: %s %s, want %s %s", path, k.APIVersion, k.Kind, kustomizeAPI[wantKind], wantKind)
	}
	return &k, nil
}

// decodeFile splits a file into its YAML documents and decodes each one
// strictly into its API type. Documents holding only comments are skipped.
func decodeFile(dir, rel string) ([]manifest, error) {
	f, err := os.Open(filepath.Join(dir, rel))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := utilyaml.NewYAMLReader(bufio.NewReader(f))
	var out []manifest
	for i := 1; ; i++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", rel, err)
		}
		if j, err := yaml.YAMLToJSON(doc); err == nil && string(j) == "null" {
			continue
		}
		obj, _, err := strictYAML.Decode(doc, nil, nil)
		if err != nil {
			return nil, fmt.Errorf("%s (document %d): %w", rel, i, err)
		}
		out = append(out, manifest{file: rel, obj: obj})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no Kubernetes object", rel)
	}
	return out, nil
}

// render builds what kubectl apply -k would apply: the base's resources,
// plus each component's (its own and extra ones) with its patches applied by
// strategic merge, as kustomize does. It also checks that each
// kustomization lists every YAML file beside it.
func render(dir string, extra ...string) ([]manifest, error) {
	base, err := readKustomization(dir, "Kustomization")
	if err != nil {
		return nil, err
	}
	var objs []manifest
	if err := checkListed(dir, "", base); err != nil {
		return nil, err
	}
	for _, res := range base.Resources {
		ms, err := decodeFile(dir, res)
		if err != nil {
			return nil, err
		}
		objs = append(objs, ms...)
	}
	for _, comp := range append(append([]string(nil), base.Components...), extra...) {
		cdir := filepath.Join(dir, comp)
		k, err := readKustomization(cdir, "Component")
		if err != nil {
			return nil, err
		}
		if err := checkListed(dir, comp, k); err != nil {
			return nil, err
		}
		for _, res := range k.Resources {
			ms, err := decodeFile(dir, filepath.Join(comp, res))
			if err != nil {
				return nil, err
			}
			objs = append(objs, ms...)
		}
		for _, p := range k.Patches {
			if objs, err = applyPatch(dir, filepath.Join(comp, p.Path), objs); err != nil {
				return nil, err
			}
		}
	}
	for _, img := range base.Images {
		if !usesImage(objs, img.Name) {
			return nil, fmt.Errorf("kustomization.yaml: images: no container uses %s", img.Name)
		}
	}
	return objs, nil
}

// checkListed: every YAML file in the kustomization's folder is one of its
// resources or patches, every one listed exists, and every subfolder with a
// kustomization.yaml is a component (listed by the base, or opt-in).
func checkListed(root, sub string, k *kustomization) error {
	dir := filepath.Join(root, sub)
	listed := map[string]bool{}
	for _, r := range k.Resources {
		listed[r] = true
	}
	for _, p := range k.Patches {
		listed[p.Path] = true
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	onDisk := map[string]bool{}
	for _, e := range entries {
		name := e.Name()
		switch {
		case e.IsDir():
			if _, err := os.Stat(filepath.Join(dir, name, "kustomization.yaml")); err == nil && sub == "" {
				if _, err := readKustomization(filepath.Join(dir, name), "Component"); err != nil {
					return err
				}
			}
		case name == "kustomization.yaml":
		case strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml"):
			onDisk[name] = true
			if !listed[name] {
				return fmt.Errorf("%s: not listed in %s", filepath.Join(sub, name), filepath.Join(sub, "kustomization.yaml"))
			}
		}
	}
	for name := range listed {
		if !onDisk[name] {
			return fmt.Errorf("%s lists %s, which is not a YAML file there", filepath.Join(sub, "kustomization.yaml"), name)
		}
	}
	return nil
}

// applyPatch decodes a strategic-merge patch strictly (as its kind) and
// merges it into the object it names.
func applyPatch(dir, rel string, objs []manifest) ([]manifest, error) {
	ps, err := decodeFile(dir, rel)
	if err != nil {
		return nil, err
	}
	if len(ps) != 1 {
		return nil, fmt.Errorf("%s: one patch per file, found %d", rel, len(ps))
	}
	p := ps[0]
	raw, err := os.ReadFile(filepath.Join(dir, rel))
	if err != nil {
		return nil, err
	}
	patchJSON, err := yaml.YAMLToJSON(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", rel, err)
	}
	for i, m := range objs {
		if m.kind() != p.kind() || m.meta().GetName() != p.meta().GetName() || m.meta().GetNamespace() != p.meta().GetNamespace() {
			continue
		}
		origJSON, err := json.Marshal(m.obj)
		if err != nil {
			return nil, err
		}
		merged, err := strategicpatch.StrategicMergePatch(origJSON, patchJSON, m.obj)
		if err != nil {
			return nil, fmt.Errorf("%s: patching %s: %w", rel, m, err)
		}
		obj, _, err := strictYAML.Decode(merged, nil, nil)
		if err != nil {
			return nil, fmt.Errorf("%s: patched %s: %w", rel, m, err)
		}
		objs[i] = manifest{file: m.file + "+" + rel, obj: obj}
		return objs, nil
	}
	return nil, fmt.Errorf("%s: patches %s, which no resource is", rel, p)
}

func usesImage(objs []manifest, name string) bool {
	for _, w := range workloadsOf(objs) {
		for _, c := range allContainers(&w.template.Spec) {
			if imageRepo(c.Image) == name {
				return true
			}
		}
	}
	return false
}

// imageRepo is an image reference without its tag or digest.
func imageRepo(image string) string {
	if i := strings.Index(image, "@"); i >= 0 {
		image = image[:i]
	}
	if i := strings.LastIndex(image, ":"); i > strings.LastIndex(image, "/") {
		image = image[:i]
	}
	return image
}

// workload is a Deployment or StatefulSet, seen through its pod template.
type workload struct {
	m           manifest
	selector    *metav1.LabelSelector
	template    corev1.PodTemplateSpec
	claims      []string // StatefulSet volumeClaimTemplates
	serviceName string   // StatefulSet
}

func workloadsOf(objs []manifest) []workload {
	var ws []workload
	for _, m := range objs {
		switch o := m.obj.(type) {
		case *appsv1.Deployment:
			ws = append(ws, workload{m: m, selector: o.Spec.Selector, template: o.Spec.Template})
		case *appsv1.StatefulSet:
			w := workload{m: m, selector: o.Spec.Selector, template: o.Spec.Template, serviceName: o.Spec.ServiceName}
			for _, c := range o.Spec.VolumeClaimTemplates {
				w.claims = append(w.claims, c.Name)
			}
			ws = append(ws, w)
		}
	}
	return ws
}

func allContainers(spec *corev1.PodSpec) []*corev1.Container {
	var cs []*corev1.Container
	for i := range spec.InitContainers {
		cs = append(cs, &spec.InitContainers[i])
	}
	for i := range spec.Containers {
		cs = append(cs, &spec.Containers[i])
	}
	return cs
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
