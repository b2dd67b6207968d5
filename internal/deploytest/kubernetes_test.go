package deploytest

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// lifeboatImage is the image the repository's Dockerfile builds (the worker
// is its entrypoint).
const lifeboatImage = "ghcr.io/lifeboat-dev/lifeboat"

// renderings: the base, and the base with each opt-in component.
var renderings = []struct {
	name       string
	components []string
}{
	{"base", nil},
	{"mtls", []string{"mtls"}},
}

func TestManifestsDecodeStrictly(t *testing.T) {
	t.Parallel()
	for _, r := range renderings {
		t.Run(r.name, func(t *testing.T) {
			objs, err := render(k8sDir, r.components...)
			if err != nil {
				t.Fatal(err)
			}
			kinds := map[string]bool{}
			for _, m := range objs {
				kinds[m.kind()] = true
			}
			// What issue 14 asks of deploy/kubernetes is all there.
			for _, k := range []string{"Namespace", "ServiceAccount", "ConfigMap", "Secret", "Deployment", "StatefulSet", "Service", "PodDisruptionBudget"} {
				if !kinds[k] {
					t.Errorf("no %s among the manifests", k)
				}
			}
		})
	}
}

func TestManifestReferences(t *testing.T) {
	t.Parallel()
	for _, r := range renderings {
		t.Run(r.name, func(t *testing.T) {
			objs, err := render(k8sDir, r.components...)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range checkReferences(objs) {
				t.Error(p)
			}
		})
	}
}

// TestManifestWorkerNames: every flag and environment variable the manifests
// give a Lifeboat container is one the worker reads.
func TestManifestWorkerNames(t *testing.T) {
	t.Parallel()
	w := loadWorkerNames(t)
	for _, r := range renderings {
		t.Run(r.name, func(t *testing.T) {
			objs, err := render(k8sDir, r.components...)
			if err != nil {
				t.Fatal(err)
			}
			reportNames(t, lifeboatNameChecks(objs, w))
		})
	}
}

func lifeboatNameChecks(objs []manifest, w workerNames) []*nameCheck {
	envKeys := map[string]map[string]bool{}
	for _, m := range objs {
		switch o := m.obj.(type) {
		case *corev1.ConfigMap:
			envKeys["ConfigMap "+o.Name] = keysOf(o.Data)
		case *corev1.Secret:
			ks := keysOf(o.StringData)
			for k := range o.Data {
				ks[k] = true
			}
			envKeys["Secret "+o.Name] = ks
		}
	}
	var checks []*nameCheck
	for _, wl := range workloadsOf(objs) {
		for _, ct := range allContainers(&wl.template.Spec) {
			if imageRepo(ct.Image) != lifeboatImage {
				continue
			}
			c := &nameCheck{w: w, where: wl.m.String() + " container " + ct.Name}
			expanded := map[string]bool{}
			for _, e := range expansions(ct) {
				expanded[e] = true
			}
			for _, e := range ct.Env {
				c.env(e.Name, expanded[e.Name])
			}
			for _, ef := range ct.EnvFrom {
				var ks map[string]bool
				if ef.ConfigMapRef != nil {
					ks = envKeys["ConfigMap "+ef.ConfigMapRef.Name]
				}
				if ef.SecretRef != nil {
					ks = envKeys["Secret "+ef.SecretRef.Name]
				}
				for _, k := range sortedKeys(ks) {
					c.env(ef.Prefix+k, expanded[ef.Prefix+k])
				}
			}
			c.args(append(append([]string(nil), ct.Command...), ct.Args...))
			checks = append(checks, c)
		}
	}
	return checks
}

func keysOf(m map[string]string) map[string]bool {
	out := map[string]bool{}
	for k := range m {
		out[k] = true
	}
	return out
}

// TestManifestChecksCatchBugs: each one-line mistake below is reported, so
// the checks above can fail.
func TestManifestChecksCatchBugs(t *testing.T) {
	t.Parallel()
	w := loadWorkerNames(t)
	deployment := func(objs []manifest) *appsv1.Deployment {
		for _, m := range objs {
			if d, ok := m.obj.(*appsv1.Deployment); ok {
				return d
			}
		}
		t.Fatal("no Deployment")
		return nil
	}
	statefulSet := func(objs []manifest) *appsv1.StatefulSet {
		for _, m := range objs {
			if s, ok := m.obj.(*appsv1.StatefulSet); ok {
				return s
			}
		}
		t.Fatal("no StatefulSet")
		return nil
	}
	for _, tc := range []struct {
		name  string
		plant func([]manifest)
		want  string
	}{
		{"wrong probe port", func(o []manifest) {
			deployment(o).Spec.Template.Spec.Containers[0].ReadinessProbe.HTTPGet.Port.StrVal = "metric"
		}, "readiness probe port metric is not one of the container's ports"},
		{"missing ConfigMap", func(o []manifest) {
			deployment(o).Spec.Template.Spec.Containers[0].EnvFrom[0].ConfigMapRef.Name = "lifeboat-conf"
		}, `envFrom ConfigMap "lifeboat-conf": not among the manifests`},
		{"missing Secret key", func(o []manifest) {
			statefulSet(o).Spec.Template.Spec.Containers[0].Env[0].ValueFrom.SecretKeyRef.Key = "REDIS_PASSWORD"
		}, `has no key "REDIS_PASSWORD"`},
		{"selector off the template", func(o []manifest) {
			deployment(o).Spec.Template.Labels["app.kubernetes.io/name"] = "worker"
		}, "does not match the pod template's labels"},
		{"service targetPort", func(o []manifest) {
			for _, m := range o {
				if s, ok := m.obj.(*corev1.Service); ok && s.Name == "lifeboat-worker" {
					s.Spec.Ports[0].TargetPort.StrVal = "http"
				}
			}
		}, "targetPort http is not a container port"},
		{"unknown service account", func(o []manifest) {
			deployment(o).Spec.Template.Spec.ServiceAccountName = "lifeboat-worker"
		}, `serviceAccountName "lifeboat-worker": no such ServiceAccount`},
		{"unmounted volume", func(o []manifest) {
			statefulSet(o).Spec.Template.Spec.Containers[1].VolumeMounts[0].Name = "redis-data"
		}, `volumeMount "redis-data": no such volume`},
		{"undefined expansion", func(o []manifest) {
			statefulSet(o).Spec.Template.Spec.Containers[1].Env[0].Name = "NODE_NAME"
		}, "$(POD_NAME) in command or args, but no such variable"},
		{"root filesystem writable", func(o []manifest) {
			deployment(o).Spec.Template.Spec.Containers[0].SecurityContext.ReadOnlyRootFilesystem = nil
		}, "readOnlyRootFilesystem not set"},
		{"env the worker ignores", func(o []manifest) {
			deployment(o).Spec.Template.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "LIFEBOAT_TASKQUEUE", Value: "x"}}
		}, "environment variable LIFEBOAT_TASKQUEUE"},
		{"flag the worker lacks", func(o []manifest) {
			args := statefulSet(o).Spec.Template.Spec.Containers[1].Args
			args[0] = strings.Replace(args[0], "--redis-node", "--node-id", 1)
		}, "flag --node-id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objs, err := render(k8sDir)
			if err != nil {
				t.Fatal(err)
			}
			tc.plant(objs)
			got := []string(checkReferences(objs))
			for _, c := range lifeboatNameChecks(objs, w) {
				got = append(got, c.unknown...)
			}
			for _, g := range got {
				if strings.Contains(g, tc.want) {
					return
				}
			}
			t.Errorf("planted %q, want a problem containing %q; got %q", tc.name, tc.want, got)
		})
	}
}

// TestManifestDecodeRefusesUnknownFields: a misspelt field is an error, not
// silently dropped as a plain YAML decoder would.
func TestManifestDecodeRefusesUnknownFields(t *testing.T) {
	t.Parallel()
	for _, doc := range []string{
		"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndatas:\n  A: b\n",
		"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\nspec:\n  replica: 2\n",
		"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\nspec:\n  replicas: two\n",
		"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  name: y\n",
		"apiVersion: v1\nkind: Pod2\nmetadata:\n  name: x\n",
	} {
		if _, _, err := strictYAML.Decode([]byte(doc), nil, nil); err == nil {
			t.Errorf("decoded without error:\n%s", doc)
		}
	}
}
