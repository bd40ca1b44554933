"""Kubernetes COE drivers (kubeadm on Nova servers) and their templates."""
