// Package deploytest checks the deployment files in deploy/ (its tests are
// all there is): the Kubernetes manifests decode strictly into the API types
// and refer to one another correctly, the systemd units pass
// systemd-analyze verify, and every flag and environment variable they give
// the worker is one the worker reads.
package deploytest
