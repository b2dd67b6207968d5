package deploytest

import (
	"fmt"
	"regexp"
	"slices"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
)

// problems collects what is wrong, each naming the file and object.
type problems []string

func (p *problems) add(m manifest, format string, args ...any) {
	*p = append(*p, fmt.Sprintf("%s: %s", m, fmt.Sprintf(format, args...)))
}

// catalog indexes the objects by namespace/name.
type catalog struct {
	namespaces      map[string]bool
	configMaps      map[string]map[string]bool // keys
	secrets         map[string]map[string]bool // keys
	serviceAccounts map[string]bool
	services        map[string]*corev1.Service
}

func key(ns, name string) string { return ns + "/" + name }

func newCatalog(objs []manifest, p *problems) *catalog {
	c := &catalog{namespaces: map[string]bool{}, configMaps: map[string]map[string]bool{},
		secrets: map[string]map[string]bool{}, serviceAccounts: map[string]bool{}, services: map[string]*corev1.Service{}}
	seen := map[string]bool{}
	for _, m := range objs {
		meta := m.meta()
		id := m.kind() + " " + key(meta.GetNamespace(), meta.GetName())
		if seen[id] {
			p.add(m, "defined twice")
		}
		seen[id] = true
		for _, e := range validation.IsDNS1123Subdomain(meta.GetName()) {
			p.add(m, "name: %s", e)
		}
		k := key(meta.GetNamespace(), meta.GetName())
		switch o := m.obj.(type) {
		case *corev1.Namespace:
			c.namespaces[o.Name] = true
		case *corev1.ConfigMap:
			keys := map[string]bool{}
			for k := range o.Data {
				keys[k] = true
			}
			for k := range o.BinaryData {
				keys[k] = true
			}
			c.configMaps[k] = keys
		case *corev1.Secret:
			keys := map[string]bool{}
			for k := range o.Data {
				keys[k] = true
			}
			for k := range o.StringData {
				keys[k] = true
			}
			c.secrets[k] = keys
		case *corev1.ServiceAccount:
			c.serviceAccounts[k] = true
		case *corev1.Service:
			c.services[k] = o
		}
	}
	for _, m := range objs {
		ns := m.meta().GetNamespace()
		if _, isNS := m.obj.(*corev1.Namespace); isNS {
			continue
		}
		if ns == "" {
			p.add(m, "no namespace (every object names its own, so kubectl apply without -k lands them together)")
		} else if len(c.namespaces) > 0 && !c.namespaces[ns] {
			p.add(m, "namespace %q is not among the manifests' Namespaces", ns)
		}
	}
	return c
}

// checkReferences checks what the API server's schema cannot: that the
// objects agree with one another.
func checkReferences(objs []manifest) problems {
	var p problems
	c := newCatalog(objs, &p)
	workloads := workloadsOf(objs)
	for _, w := range workloads {
		checkWorkload(w, c, &p)
	}
	for _, m := range objs {
		switch o := m.obj.(type) {
		case *corev1.Service:
			checkService(m, o, workloads, &p)
		case *policyv1.PodDisruptionBudget:
			if n := len(selected(o.Namespace, o.Spec.Selector, workloads, &p, m)); n == 0 {
				p.add(m, "selector %s matches no workload's pods", metav1.FormatLabelSelector(o.Spec.Selector))
			}
		case *appsv1.StatefulSet:
			svc := c.services[key(o.Namespace, o.Spec.ServiceName)]
			switch {
			case svc == nil:
				p.add(m, "serviceName %q: no such Service", o.Spec.ServiceName)
			case svc.Spec.ClusterIP != corev1.ClusterIPNone:
				p.add(m, "serviceName %q: not a headless Service (clusterIP: None), so the pods get no stable names", o.Spec.ServiceName)
			case !labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(o.Spec.Template.Labels)):
				p.add(m, "serviceName %q: the Service does not select this StatefulSet's pods", o.Spec.ServiceName)
			}
		}
	}
	return p
}

// selected is the workloads in namespace ns whose pods a selector matches.
func selected(ns string, sel *metav1.LabelSelector, ws []workload, p *problems, m manifest) []workload {
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil || sel == nil || s.Empty() {
		p.add(m, "selector %v: empty or invalid (%v)", sel, err)
		return nil
	}
	var out []workload
	for _, w := range ws {
		if w.m.meta().GetNamespace() == ns && s.Matches(labels.Set(w.template.Labels)) {
			out = append(out, w)
		}
	}
	return out
}

func checkWorkload(w workload, c *catalog, p *problems) {
	m := w.m
	ns := m.meta().GetNamespace()
	sel, err := metav1.LabelSelectorAsSelector(w.selector)
	switch {
	case err != nil || w.selector == nil || sel.Empty():
		p.add(m, "selector empty or invalid (%v)", err)
	case !sel.Matches(labels.Set(w.template.Labels)):
		p.add(m, "selector %s does not match the pod template's labels %v", sel, w.template.Labels)
	}
	spec := &w.template.Spec
	if spec.ServiceAccountName == "" {
		p.add(m, "no serviceAccountName (the pods would run as default, without the AWS role)")
	} else if !c.serviceAccounts[key(ns, spec.ServiceAccountName)] {
		p.add(m, "serviceAccountName %q: no such ServiceAccount", spec.ServiceAccountName)
	}

	volumes := map[string]bool{}
	for _, name := range w.claims {
		volumes[name] = true
	}
	for _, v := range spec.Volumes {
		if volumes[v.Name] {
			p.add(m, "volume %q defined twice", v.Name)
		}
		volumes[v.Name] = true
		switch {
		case v.ConfigMap != nil:
			checkKeys(m, "volume "+v.Name+": ConfigMap", c.configMaps, ns, v.ConfigMap.Name, v.ConfigMap.Optional, itemKeys(v.ConfigMap.Items), p)
		case v.Secret != nil:
			checkKeys(m, "volume "+v.Name+": Secret", c.secrets, ns, v.Secret.SecretName, v.Secret.Optional, itemKeys(v.Secret.Items), p)
		case v.HostPath != nil:
			p.add(m, "volume %q: hostPath (the namespace enforces the restricted Pod Security Standard)", v.Name)
		}
	}

	podSC := spec.SecurityContext
	if podSC == nil {
		podSC = &corev1.PodSecurityContext{}
	}
	ports := map[string]bool{}
	for _, ct := range allContainers(spec) {
		where := "container " + ct.Name
		for _, e := range validation.IsDNS1123Label(ct.Name) {
			p.add(m, "%s: name: %s", where, e)
		}
		if ct.Image == "" {
			p.add(m, "%s: no image", where)
		}
		names := map[string]bool{}
		numbers := map[int32]bool{}
		for _, cp := range ct.Ports {
			numbers[cp.ContainerPort] = true
			if cp.Name == "" {
				continue
			}
			for _, e := range validation.IsValidPortName(cp.Name) {
				p.add(m, "%s: port name %q: %s", where, cp.Name, e)
			}
			if ports[cp.Name] {
				p.add(m, "%s: port name %q used twice in the pod", where, cp.Name)
			}
			ports[cp.Name], names[cp.Name] = true, true
		}
		for kind, pr := range map[string]*corev1.Probe{"liveness": ct.LivenessProbe, "readiness": ct.ReadinessProbe, "startup": ct.StartupProbe} {
			if pr == nil {
				continue
			}
			var port *intstr.IntOrString
			switch {
			case pr.HTTPGet != nil:
				port = &pr.HTTPGet.Port
			case pr.TCPSocket != nil:
				port = &pr.TCPSocket.Port
			}
			if port != nil && !portDeclared(*port, names, numbers) {
				p.add(m, "%s: %s probe port %s is not one of the container's ports", where, kind, port.String())
			}
		}

		defined := map[string]bool{}
		for _, ef := range ct.EnvFrom {
			var keys map[string]bool
			switch {
			case ef.ConfigMapRef != nil:
				keys = checkKeys(m, where+": envFrom ConfigMap", c.configMaps, ns, ef.ConfigMapRef.Name, ef.ConfigMapRef.Optional, nil, p)
			case ef.SecretRef != nil:
				keys = checkKeys(m, where+": envFrom Secret", c.secrets, ns, ef.SecretRef.Name, ef.SecretRef.Optional, nil, p)
			}
			for k := range keys {
				defined[ef.Prefix+k] = true
			}
		}
		for _, e := range ct.Env {
			defined[e.Name] = true
			if e.ValueFrom == nil {
				continue
			}
			if r := e.ValueFrom.ConfigMapKeyRef; r != nil {
				checkKeys(m, where+": env "+e.Name+": ConfigMap", c.configMaps, ns, r.Name, r.Optional, []string{r.Key}, p)
			}
			if r := e.ValueFrom.SecretKeyRef; r != nil {
				checkKeys(m, where+": env "+e.Name+": Secret", c.secrets, ns, r.Name, r.Optional, []string{r.Key}, p)
			}
		}
		for _, ref := range expansions(ct) {
			if !defined[ref] {
				p.add(m, "%s: $(%s) in command or args, but no such variable (it would stay literally)", where, ref)
			}
		}
		for _, vm := range ct.VolumeMounts {
			if !volumes[vm.Name] {
				p.add(m, "%s: volumeMount %q: no such volume", where, vm.Name)
			}
		}
		checkHardening(m, where, podSC, ct, p)
	}
}

func itemKeys(items []corev1.KeyToPath) []string {
	var ks []string
	for _, it := range items {
		ks = append(ks, it.Key)
	}
	return ks
}

// checkKeys checks that a ConfigMap or Secret exists (unless optional) with
// the given keys, and returns its keys.
func checkKeys(m manifest, what string, objs map[string]map[string]bool, ns, name string, optional *bool, want []string, p *problems) map[string]bool {
	keys, ok := objs[key(ns, name)]
	if !ok {
		if optional == nil || !*optional {
			p.add(m, "%s %q: not among the manifests", what, name)
		}
		return nil
	}
	for _, k := range want {
		if !keys[k] {
			p.add(m, "%s %q has no key %q", what, name, k)
		}
	}
	return keys
}

func portDeclared(port intstr.IntOrString, names map[string]bool, numbers map[int32]bool) bool {
	if port.Type == intstr.String {
		return names[port.StrVal]
	}
	return numbers[port.IntVal]
}

var expansionRE = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

// expansions is every $(VAR) the kubelet expands in a container's command and args.
func expansions(ct *corev1.Container) []string {
	var out []string
	for _, a := range slices.Concat(ct.Command, ct.Args) {
		for _, m := range expansionRE.FindAllStringSubmatch(a, -1) {
			out = append(out, m[1])
		}
	}
	return out
}

// checkHardening: the restricted Pod Security Standard (the namespace
// enforces it, so a pod short of it would be refused at admission), a
// read-only root filesystem, and resource requests and a memory limit.
func checkHardening(m manifest, where string, pod *corev1.PodSecurityContext, ct *corev1.Container, p *problems) {
	sc := ct.SecurityContext
	if sc == nil {
		sc = &corev1.SecurityContext{}
	}
	if !isTrue(sc.RunAsNonRoot) && !isTrue(pod.RunAsNonRoot) {
		p.add(m, "%s: runAsNonRoot not set", where)
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		p.add(m, "%s: allowPrivilegeEscalation must be false", where)
	}
	if isTrue(sc.Privileged) {
		p.add(m, "%s: privileged", where)
	}
	if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") || len(sc.Capabilities.Add) > 0 {
		p.add(m, "%s: capabilities must drop ALL and add none", where)
	}
	seccomp := pod.SeccompProfile
	if sc.SeccompProfile != nil {
		seccomp = sc.SeccompProfile
	}
	if seccomp == nil || (seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault && seccomp.Type != corev1.SeccompProfileTypeLocalhost) {
		p.add(m, "%s: seccompProfile must be RuntimeDefault (or Localhost)", where)
	}
	if !isTrue(sc.ReadOnlyRootFilesystem) {
		p.add(m, "%s: readOnlyRootFilesystem not set", where)
	}
	r := ct.Resources
	if r.Requests.Cpu().IsZero() || r.Requests.Memory().IsZero() || r.Limits.Memory().IsZero() {
		p.add(m, "%s: needs cpu and memory requests and a memory limit", where)
	}
}

func isTrue(b *bool) bool { return b != nil && *b }

func checkService(m manifest, svc *corev1.Service, ws []workload, p *problems) {
	if len(svc.Spec.Selector) == 0 {
		p.add(m, "no selector")
		return
	}
	sel := metav1.SetAsLabelSelector(svc.Spec.Selector)
	targets := selected(svc.Namespace, sel, ws, p, m)
	if len(targets) == 0 {
		p.add(m, "selector %v matches no workload's pods", svc.Spec.Selector)
		return
	}
	for _, sp := range svc.Spec.Ports {
		if sp.Name != "" {
			for _, e := range validation.IsValidPortName(sp.Name) {
				p.add(m, "port name %q: %s", sp.Name, e)
			}
		}
		target := sp.TargetPort
		if target.Type == intstr.Int && target.IntVal == 0 {
			target = intstr.FromInt32(sp.Port)
		}
		for _, w := range targets {
			names, numbers := map[string]bool{}, map[int32]bool{}
			for _, ct := range w.template.Spec.Containers {
				for _, cp := range ct.Ports {
					names[cp.Name], numbers[cp.ContainerPort] = true, true
				}
			}
			if !portDeclared(target, names, numbers) {
				p.add(m, "port %d: targetPort %s is not a container port of %s", sp.Port, target.String(), w.m)
			}
		}
	}
}
